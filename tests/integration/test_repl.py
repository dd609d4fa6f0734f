"""Boards, deployment and REPL debugging (issue 6) against the unix-port firmware behind
a pseudo-terminal (tools/harness/ptyrun.py), through mpremote as a person would use it:

- the simulated station's REPL: firmware.repl's status / evse / start / stop / pause /
  resume / limit / log / reconnect / fault / clear / plug / unplug / data_transfer (OCPP
  P02), checked against what the dev CSMS received;
- Ctrl-C stops the firmware's loop (the safety tick and the world run on), r.run()
  continues it: through mpremote (exec --no-follow, then the next command's Ctrl-C) and
  at the friendly prompt;
- make deploy into a scratch directory served by `micropython -i`: refused for a bad
  configuration or another port's board, every file the first time, nothing the second,
  only what changed (and stale files removed) the third; the deployed .mpy station runs
  and answers through the REPL API; make repl; a device whose heap cannot hold the .mpy
  firmware (a Pico W's 160 KiB) gets a warning pointing to the frozen image."""
import hashlib
import json
import os
import pty
import select
import subprocess
import time

import pytest

from tools.build import deploy as D
from tools.harness.ptydev import PtyDevice
from tools.harness.simctl import control, free_port

pytestmark = pytest.mark.skipif(not os.path.exists("/proc/self/syscall"),
                                reason="ptyrun needs Linux /proc")
ROOT = D.ROOT
ctl = control          # one command to the simulated world (tools/harness/simctl.py)


def wait_evse(dev, pred, what, n=1, timeout=30):
    """Runs the loop in short slices until EVSE n satisfies pred."""
    deadline = time.monotonic() + timeout
    d = None
    while time.monotonic() < deadline:
        d = dev.call("(r.run(400), r.evse(%d, False))[1]" % n)
        if pred(d):
            return d
    raise AssertionError("timeout waiting for %s; last %s\n%s" % (what, d, dev.log()))


def run_until(dev, cond, what, timeout=60):
    """Runs the loop in short slices until cond() is true -> its value (the timeout is a
    bound for a hung station, not a measurement)."""
    deadline = time.monotonic() + timeout
    while True:
        v = cond()
        if v:
            return v
        if time.monotonic() > deadline:
            raise AssertionError("timeout waiting for %s\n%s" % (what, dev.log()))
        dev.call("r.run(300)")


@pytest.fixture
def sim(csms, tmp_path):
    made = []

    def make(version, auth="free", ident="REPL1"):
        port = free_port()
        # --heap 1m: this station compiles the firmware from source, and the REPL every
        # command, while the world and tick threads allocate too; in the sim's usual 512k
        # the largest free piece was about 5 KB of 200 KB free, and whether an import
        # (v201/core.py: 5.9 KB at once) or r.sim() found room depended on how the
        # threads' allocations interleaved, i.e. on load. The firmware's heap budget is
        # test_memory_budget*'s (frozen and .mpy), not this test's.
        dev = PtyDevice.sim(tmp_path, ["--csms", csms.url + "ocpp", "--id", ident, "--ocpp",
                                       version, "--flash", str(tmp_path / "f.img"),
                                       "--control", "127.0.0.1:%d" % port, "--auth", auth,
                                       "--heap", "1m"])
        made.append(dev)
        dev.start()
        dev.control = port
        dev.ident = ident
        # bounds for a hung station only: the REPL station compiles the firmware from
        # source, which takes a while on a busy machine (seen over 20 s)
        try:
            link = csms.station(ident, timeout=60)
            link.wait_for("StatusNotification", timeout=60)
        except TimeoutError:
            raise AssertionError("station %s did not come up\n%s" % (ident, dev.log()))
        # and everything queued at boot delivered (a security event may follow the status),
        # before mpremote's Ctrl-C stops the loop and freezes the queue as it is
        deadline = time.monotonic() + 30
        while True:
            s = ctl(port, "status")
            if s["connected"] and s["tx_queue"] == 0:
                break
            assert time.monotonic() < deadline, "boot queue not delivered: %s" % s
            time.sleep(0.05)
        return dev, link

    yield make
    for d in made:
        d.stop()


def _sent(link, action, pred=lambda p: True):
    """What the station sent of action (pred true) so far: the loop runs only inside r.run(),
    so a test waits for a message with run_until, never with link.wait_for alone."""
    return [p for a, p in link.received if a == action and pred(p)]


def _tx_events(link, etype):
    return [p for a, p in link.received if a == "TransactionEvent" and p["eventType"] == etype]


@pytest.mark.slow
@pytest.mark.parametrize("version", ("1.6", "2.0.1"))
def test_station_repl_through_mpremote(csms, sim, version):
    dev, link = sim(version, auth="ocpp")
    st = dev.call("r.status()")
    assert st["connected"] and st["registration"] == "Accepted" and st["ocpp"] == version
    assert st["loop"] == "stopped" and st["id"] == "REPL1" and st["tx_queue"] == 0
    assert st["evses"][0]["state"] == "Idle" and st["evses"][0]["ocpp_status"] == "Available"
    out = dev.mpremote("exec", "r.status()").stdout            # what a person reads
    assert "REPL1  OCPP %s  connected, registration Accepted" % version in out
    assert "evse 1: Idle (Available), pilot A, no offer, relay open" in out

    assert dev.call("r.plug(1)")["ok"]
    assert dev.call("r.start(1, 'CARD1')")["done"] == "card CARD1 presented"
    d = wait_evse(dev, lambda d: d["state"] == "Charging" and d["relay"], "charging")
    assert d["token"] == "CARD1" and d["pilot"] == "C" and d["pwm"]
    if version == "1.6":
        start = run_until(dev, lambda: _sent(link, "StartTransaction"), "StartTransaction")[0]
        assert start["idTag"] == "CARD1"
        run_until(dev, lambda: _sent(link, "StatusNotification", lambda p: p["status"] == "Charging"),
                  "StatusNotification Charging")
    else:
        ev = run_until(dev, lambda: _sent(link, "TransactionEvent",
                                          lambda p: p.get("idToken", {}).get("idToken") == "CARD1"),
                       "the card's TransactionEvent")[0]
        assert d["tx_id"] == ev["transactionInfo"]["transactionId"]
    assert any("tag CARD1 at evse 1: accepted" in ln for ln in dev.call("r.log(64)")["lines"])

    assert dev.call("r.limit(1, 10)")["limit_a"] == 10
    wait_evse(dev, lambda d: d["offered_a"] == 10, "offer 10 A")
    dev.call("r.pause(1)")
    wait_evse(dev, lambda d: d["state"] == "ChargingPausedEVSE" and not d["relay"], "paused")
    dev.call("r.resume(1)")
    wait_evse(dev, lambda d: d["state"] == "Charging" and d["relay"], "resumed")

    dev.call("r.stop(1)")
    wait_evse(dev, lambda d: d["tx_id"] is None and not d["relay"], "stopped")
    if version == "1.6":
        stop = run_until(dev, lambda: _sent(link, "StopTransaction"), "StopTransaction")[0]
        assert stop["reason"] == "Local"
    else:
        ended = run_until(dev, lambda: _tx_events(link, "Ended"), "TransactionEvent Ended")
        assert ended[-1]["transactionInfo"]["stoppedReason"] == "Local"

    assert dev.call("r.fault(1, 'rcd')")["ok"]
    d = wait_evse(dev, lambda d: "RCD" in d["errors"], "RCD fault")
    assert d["ocpp_status"] == "Faulted"
    dev.call("r.clear(1, 'rcd')")
    dev.call("r.unplug(1)")
    wait_evse(dev, lambda d: d["state"] == "Idle" and not d["errors"], "idle again")

    # OCPP P02: the station's own DataTransfer from the REPL, the CSMS's answer back
    csms.set_reply("DataTransfer", lambda p: {"status": "Accepted", "data": p.get("data")})
    res = dev.call("r.data_transfer('com.example', 'Hello', 'ping')")
    assert res == {"status": "Accepted", "data": "ping"}
    assert link.wait_for("DataTransfer") == {"vendorId": "com.example", "messageId": "Hello",
                                             "data": "ping"}

    # the opening-handshake code is loaded for a connect and dropped after it
    # (ws.connect unloads it once the attempt is over): not in the heap between
    # connections, and a reconnect loads it again
    loaded = "[m for m in __import__('sys').modules if m.startswith('ws')]"
    assert sorted(dev.call(loaded)) == ["ws", "ws.client"]
    n = len(csms.links(dev.ident))
    assert dev.call("r.reconnect()")["reconnect"]
    run_until(dev, lambda: len(csms.links(dev.ident)) == n + 1, "the reconnect")
    run_until(dev, lambda: dev.call("r.status()")["connected"], "connected again")
    assert sorted(dev.call(loaded)) == ["ws", "ws.client"]


@pytest.mark.slow
def test_ctrl_c_stops_the_loop_and_run_continues_it(csms, sim):
    dev, link = sim("2.0.1")
    dev.mpremote("exec", "--no-follow", "r.run()")              # the loop runs detached
    assert ctl(dev.control, "plug 1")["ok"]
    link.wait_for("TransactionEvent", lambda p: p["eventType"] == "Started", timeout=15)
    deadline = time.monotonic() + 15
    while not ctl(dev.control, "status")["evses"][0]["relay"]:
        assert time.monotonic() < deadline, dev.log()
        time.sleep(0.1)

    # mpremote's Ctrl-C stops the loop between two tasks
    st = dev.call("r.status()")
    assert st["loop"] == "stopped" and st["evses"][0]["state"] == "Charging"
    print("longest loop stall %d ms (a measurement)" % st["stall_max_ms"])
    # the world and the safety tick run on: the EV unplugs, the tick opens the relay at
    # once, the state machine (a loop task) has not moved yet, the CSMS heard nothing
    n = len(link.received)
    wh = ctl(dev.control, "status")["evses"][0]["energy_wh"]
    assert ctl(dev.control, "unplug 1")["ok"]
    deadline = time.monotonic() + 30                # a bound for a dead tick only
    while ctl(dev.control, "status")["evses"][0]["relay"]:
        assert time.monotonic() < deadline, dev.log()
        time.sleep(0.05)
    d = dev.call("r.evse(1, False)")
    assert not d["relay"] and d["pilot"] == "A" and d["state"] == "Charging"
    assert len(link.received) == n and ctl(dev.control, "status")["evses"][0]["energy_wh"] >= wh

    # continued: the session ends and the CSMS hears it
    dev.mpremote("exec", "--no-follow", "r.run()")
    ended = link.wait_for("TransactionEvent", lambda p: p["eventType"] == "Ended", timeout=15)
    assert ended["transactionInfo"]["stoppedReason"] == "EVDisconnected"
    st = dev.call("r.status()")                                 # stopped again
    assert st["evses"][0]["state"] == "Idle" and st["connected"]
    print("longest loop stall %d ms (a measurement)" % st["stall_max_ms"])

    # at the friendly prompt (make repl): Ctrl-C while r.run() runs, back to >>>
    fd = os.open(dev.link, os.O_RDWR | os.O_NOCTTY)
    try:
        import tty
        tty.setraw(fd)
        out = _talk(fd, b"\r", b">>> ")
        beat = ctl(dev.control, "status")["loop_beat"]      # as the stopped loop left it
        out = _talk(fd, b"r.run()\r", b"r.run()")
        deadline = time.monotonic() + 30                     # the loop runs again
        while ctl(dev.control, "status")["loop_beat"] == beat:
            assert time.monotonic() < deadline, dev.log()
            time.sleep(0.05)
        out = _talk(fd, b"\x03", b">>> ")
        assert b"loop stopped (Ctrl-C); r.run() continues it" in out
        out = _talk(fd, b"r.evse(1)['state']\r", b">>> ")
        assert b"'Idle'" in out and b"evse 1: Idle (Available)" in out
    finally:
        os.close(fd)
    assert dev.proc.poll() is None


def _talk(fd, data, until, timeout=10):
    os.write(fd, data)
    buf = b""
    deadline = time.monotonic() + timeout
    while until not in buf and time.monotonic() < deadline:
        r, _, _ = select.select([fd], [], [], 0.1)
        if r:
            buf += os.read(fd, 4096)
    assert until in buf, buf
    return buf


def make(*args, timeout=300):
    return subprocess.run(["make", "--no-print-directory"] + list(args), cwd=ROOT,
                          capture_output=True, text=True, timeout=timeout)


def _tree(top):
    out = {}
    for d, _, files in os.walk(top):
        for f in files:
            p = os.path.join(d, f)
            out[os.path.relpath(p, top)] = hashlib.sha256(open(p, "rb").read()).hexdigest()
    return out


@pytest.mark.slow
def test_deploy_to_the_unix_port_and_run(csms, tmp_path):
    fs = tmp_path / "fs"
    fs.mkdir()
    dev = PtyDevice.bare(tmp_path, fs).start()
    try:
        _deploy_and_run(csms, dev, fs, tmp_path)
    finally:
        dev.stop()


def test_deploy_warns_when_the_heap_cannot_hold_the_mpy_firmware(tmp_path):
    """A Pico W has about 160 KiB of heap: the complete firmware as .mpy does not fit
    there (docs/memory.md), so deploy says so and points to the frozen image."""
    fs = tmp_path / "fs"
    fs.mkdir()
    dev = PtyDevice.bare(tmp_path, fs, args=("-X", "heapsize=160k")).start()
    try:
        p = make("deploy", "BOARD=sim", "PORT=" + dev.link, "DEPLOY_ARGS=--dry-run")
    finally:
        dev.stop()
    assert p.returncode == 0, p.stdout + p.stderr
    assert "deploy: warning: this device's MicroPython heap is 15" in p.stderr, p.stderr
    assert "needs about %d KiB" % D.MPY_HEAP_KIB in p.stderr and "frozen into its image" in p.stderr
    assert "(dry run)" in p.stdout and os.listdir(fs) == []


def _deploy_and_run(csms, dev, fs, tmp_path):
    good = {"csms": csms.url + "ocpp", "id": "DEP1", "ocpp": "1.6", "evses": 1,
            "max_current": 16}
    (tmp_path / "bad.json").write_text(json.dumps(dict(good, ocpp="2.1", max_current=5)))
    (tmp_path / "good.json").write_text(json.dumps(good))

    p = make("deploy", "BOARD=sim", "PORT=" + dev.link, "CONFIG=%s" % (tmp_path / "bad.json"))
    assert p.returncode != 0
    assert 'ocpp: 1.6 or 2.0.1 (got "2.1"): the station would boot into safe mode' in p.stderr
    assert "max_current: 6-80 A (got 5)" in p.stderr
    assert os.listdir(fs) == []
    p = make("deploy", "BOARD=esp32_generic", "PORT=" + dev.link)
    assert p.returncode != 0 and os.listdir(fs) == []
    assert "the device on this port is linux, board esp32_generic needs esp32" in p.stderr
    p = make("deploy")
    assert p.returncode == 2 and "usage: make deploy BOARD=" in p.stdout

    p = make("deploy", "BOARD=sim", "PORT=" + dev.link, "CONFIG=%s" % (tmp_path / "good.json"))
    assert p.returncode == 0, p.stdout + p.stderr
    files, _ = D.plan("sim")
    assert "deploy: %d copied, 0 unchanged, 0 removed" % len(files) in p.stdout
    assert "warning" not in p.stderr                    # this device's heap holds the .mpy
    man = json.load(open(os.path.join(ROOT, "build", "deploy", "sim", "manifest.json")))
    tree = _tree(fs)
    assert json.loads((fs / "flash" / "config.json").read_text()) == good
    del tree[os.path.join("flash", "config.json")]
    assert tree == man["files"] and sorted(tree) == sorted(r for r, _, _ in files)
    assert (fs / "main.py").read_bytes() == open(os.path.join(ROOT, "tools", "harness", "simrepl.py"), "rb").read()

    p = make("deploy", "BOARD=sim", "PORT=" + dev.link, "CONFIG=%s" % (tmp_path / "good.json"))
    assert p.returncode == 0, p.stdout + p.stderr
    assert "deploy: 0 copied, %d unchanged, 0 removed" % len(files) in p.stdout
    assert "config unchanged" in p.stdout and "\ncopy " not in p.stdout

    (fs / "firmware" / "log.mpy").write_bytes(b"junk")
    (fs / "firmware" / "stale.py").write_text("raise ImportError\n")
    p = make("deploy", "BOARD=sim", "PORT=" + dev.link)
    assert p.returncode == 0, p.stdout + p.stderr
    assert "copy firmware/log.mpy\nremove firmware/stale.py\n" in p.stdout
    assert "deploy: 1 copied, %d unchanged, 1 removed" % (len(files) - 1) in p.stdout
    assert _tree(fs)[os.path.join("firmware", "log.mpy")] == man["files"]["firmware/log.mpy"]

    # run what was deployed: the simulated station from the .mpy tree, as main.py
    port = free_port()
    (fs / "sim.json").write_text(json.dumps({
        "flash": str(tmp_path / "sim.img"), "control": ["127.0.0.1", port],
        "config": json.load(open(fs / "flash" / "config.json"))}))
    dev.mpremote("exec", "--no-follow", "import main\nstation = main.main('sim.json')")
    link = csms.station("DEP1", timeout=20)
    link.wait_for("StatusNotification", timeout=20)
    st = dev.call("r.status()")
    assert st["connected"] and st["registration"] == "Accepted" and st["id"] == "DEP1"
    assert dev.call("r.__file__") == "firmware/repl.mpy"
    assert dev.call("__import__('firmware.main').main.__file__") == "firmware/main.mpy"
    lines = dev.call("r.log(20)")["lines"]
    assert any("boot Accepted" in ln for ln in lines)
    assert ctl(port, "plug 1")["ok"]
    d = wait_evse(dev, lambda d: d["state"] == "Charging", "charging from the deployed tree")
    assert d["offered_a"] == 16
    start = run_until(dev, lambda: _sent(link, "StartTransaction"), "StartTransaction")[0]
    assert start["idTag"] == "FreeCharging"

    # a deploy while that station is stopped at the prompt: nothing to copy
    p = make("deploy", "BOARD=sim", "PORT=" + dev.link)
    assert "deploy: 0 copied" in p.stdout, p.stdout + p.stderr
    assert dev.call("r.status()")["evses"][0]["state"] == "Charging"

    # make repl: mpremote's terminal on the device
    master, slave = pty.openpty()
    proc = subprocess.Popen(["make", "--no-print-directory", "repl", "PORT=" + dev.link],
                            stdin=slave, stdout=slave, stderr=slave, cwd=ROOT)
    os.close(slave)
    try:
        _talk(master, b"", b"Connected to MicroPython", timeout=20)
        out = _talk(master, b"\r", b">>> ")
        out = _talk(master, b"print(6 * 7, r.evse(1, False)['state'])\r", b"42 Charging")
        os.write(master, b"\x1d")                              # Ctrl-] leaves mpremote
        assert proc.wait(10) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
        os.close(master)
