"""Drive a simulated station from CPython: start `tools/harness/sim` as a process and speak its
control channel (used by tools/harness/demo.py, the benches, the tests and tests/emu/emuctl.py
for the emulated Pico). The one control channel client: control() for one command,
Control for a connection kept open, SimStation.cmd() for a station started here."""
import json
import os
import random
import socket
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


_PORTS_LO = 10000               # below Linux's ephemeral range (32768-60999)
_PORTS_BLOCK = 2500             # ports per pytest-xdist worker
_handed = set()


def free_port():
    """A TCP port on 127.0.0.1 that nothing listens on now, for a server that a test
    starts (and may restart on the same port) later. Taken below the kernel's ephemeral
    range, so no outgoing connection takes it meanwhile, from a block of its own for each
    pytest-xdist worker (PYTEST_XDIST_WORKER gw0, gw1, ...), never the same twice in one
    process, starting at a random place in the block (other test runs on the machine)."""
    w = os.environ.get("PYTEST_XDIST_WORKER", "gw0")
    w = int(w[2:]) if w[2:].isdigit() else 0
    lo = _PORTS_LO + (w % 8) * _PORTS_BLOCK
    start = random.randrange(_PORTS_BLOCK)
    for i in range(_PORTS_BLOCK):
        port = lo + (start + i) % _PORTS_BLOCK
        if port in _handed:
            continue
        s = socket.socket()
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            continue
        finally:
            s.close()
        _handed.add(port)
        return port
    raise OSError("no free port in %d-%d" % (lo, lo + _PORTS_BLOCK - 1))


def end_process(proc, grace_s=5, kill_wait_s=5):
    """Ends a child process: SIGTERM, up to grace_s for it to exit, then SIGKILL (and up
    to kill_wait_s more). Nothing to do when it has already exited (or proc is None)."""
    if proc is None or proc.poll() is not None:
        return
    proc.terminate()
    try:
        proc.wait(grace_s)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(kill_wait_s)


def control(port, line, host="127.0.0.1", timeout=30):
    """One command on a control channel (docs/architecture.md): a connection, the line,
    the one JSON reply line. -> the reply, decoded. The timeout is a generous bound: on a
    machine starved of CPU the world thread may take seconds to answer."""
    with socket.create_connection((host, port), timeout=timeout) as s:
        s.sendall(line.encode() + b"\n")
        buf = b""
        while not buf.endswith(b"\n"):
            chunk = s.recv(4096)
            if not chunk:
                break
            buf += chunk
    return json.loads(buf.decode())


class Control:
    """A control channel kept open for many commands (the channel serves any number on
    one connection): ctl("status") -> the reply. Connects within `timeout` (a station
    that is still starting); reply_timeout bounds each answer (the emulated Pico's
    `wait MS` answers after MS of emulated time). Raises ConnectionError when the
    other side closes the channel."""

    def __init__(self, port, host="127.0.0.1", timeout=10, reply_timeout=30):
        deadline = time.monotonic() + timeout
        while True:
            try:
                self.s = socket.create_connection((host, port), timeout=reply_timeout)
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)
        self.f = self.s.makefile("rwb")

    def __call__(self, line):
        self.f.write(line.encode() + b"\n")
        self.f.flush()
        reply = self.f.readline()
        if not reply.endswith(b"\n"):
            raise ConnectionError("control channel closed")
        return json.loads(reply)

    def close(self):
        self.f.close()
        self.s.close()


class SimStation:
    """One `tools/harness/sim` process. cmd() speaks the control channel."""

    def __init__(self, csms_url, ident, ocpp, tmp_path, evses=1, heap="512k", flash=None,
                 extra=(), log_name=None, control_port=None):
        self.port = control_port or free_port()
        self.flash = str(flash or os.path.join(str(tmp_path), "%s.img" % ident))
        self.ident = ident
        self.args = [sys.executable, os.path.join(ROOT, "tools", "harness", "sim"), "--csms", csms_url,
                     "--id", ident, "--ocpp", ocpp, "--evses", str(evses), "--flash", self.flash,
                     "--control", "127.0.0.1:%d" % self.port, "--heap", heap, *extra]
        self.log_path = os.path.join(str(tmp_path), log_name or ("%s.log" % ident))
        self.proc = None

    def start(self, timeout=30):
        self._log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(self.args, stdin=subprocess.DEVNULL, stdout=self._log,
                                     stderr=subprocess.STDOUT, cwd=ROOT)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError("station exited rc=%s\n%s" % (self.proc.returncode, self.log()))
            try:
                self.cmd("status")
                return self
            except OSError:
                time.sleep(0.05)
        raise AssertionError("control channel never came up\n" + self.log())

    def log(self):
        try:
            with open(self.log_path, "r", errors="replace") as f:
                return f.read()[-20000:]
        except OSError:
            return ""

    def cmd(self, line, timeout=30):
        return control(self.port, line, timeout=timeout)

    def status(self):
        return self.cmd("status")

    def evse(self, n=1):
        return self.status()["evses"][n - 1]

    def wait(self, pred, timeout=15, what="condition"):
        deadline = time.monotonic() + timeout
        last = None
        while time.monotonic() < deadline:
            last = self.status()
            if pred(last):
                return last
            time.sleep(0.05)
        raise AssertionError("timeout waiting for %s; last status %s\n%s" % (what, last, self.log()))

    def log_count(self, text):
        """How many lines of the station's whole log contain `text`."""
        try:
            with open(self.log_path, "r", errors="replace") as f:
                return sum(1 for line in f if text in line)
        except OSError:
            return 0

    def wait_log(self, text, count=1, timeout=20):
        """Wait until `count` lines of the station's log contain `text` (a condition the
        firmware logs: a failed connect, a security event); -> that count."""
        deadline = time.monotonic() + timeout
        while True:
            n = self.log_count(text)
            if n >= count:
                return n
            if time.monotonic() > deadline:
                raise AssertionError("timeout waiting for %d log lines with %r (saw %d)\n%s"
                                     % (count, text, n, self.log()))
            if self.proc is not None and self.proc.poll() is not None:
                raise AssertionError("station exited rc=%s waiting for %r\n%s"
                                     % (self.proc.returncode, text, self.log()))
            time.sleep(0.05)

    def kill(self):
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(5)

    def stop(self):
        end_process(self.proc)
        if getattr(self, "_log", None):
            self._log.close()
