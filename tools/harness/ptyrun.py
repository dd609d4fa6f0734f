#!/usr/bin/env python3
"""tools/harness/ptyrun.py — a MicroPython unix-port process behind a serial-like device path,
so mpremote (or any terminal program) can `connect` to it as it would to a board.

    tools/harness/ptyrun.py --link var/ttyMP -- .venv/bin/micropython -i     # a bare "device"
    tools/harness/ptyrun.py --link var/ttyMP --sim -- --csms ws://127.0.0.1:9000/ocpp --id CS1
    mpremote connect var/ttyMP resume exec "from firmware import repl as r; r.status()"

The child runs on a pseudo-terminal of its own; a second pseudo-terminal is the
device the client opens (PATH is a symlink to it). Bytes are copied both ways, as socat
does (PTY,link=PATH <-> EXEC:micropython,pty,raw,echo=0), with two differences that make
the unix port answer like a board:

- Ctrl-C interrupts running code. A board's USB/UART driver turns 0x03 into a
  KeyboardInterrupt while code runs; the unix port only has SIGINT. Unless the child is
  waiting for input (its main thread blocked in read() on stdin: /proc/PID/syscall), a
  0x03 from the client is sent as SIGINT when the child has a SIGINT handler installed
  (the unix port does while it runs code with Ctrl-C enabled: /proc/PID/status SigCgt),
  and passed as a byte when Ctrl-C is disabled (micropython.kbd_intr(-1), e.g. while
  firmware.repl watches the console), for the program to read.
- Nothing typed after that Ctrl-C is lost. The unix REPL switches its terminal to raw
  mode with TCSAFLUSH, discarding pending input, so mpremote's Ctrl-C + Ctrl-A (sent
  back to back) would lose the Ctrl-A and time out. The bytes after a Ctrl-C are held
  until the child waits for input again (at most HOLD_S, --hold-s: a child that never
  reads again does not swallow the client's input for good).

Linux only (/proc). The child's own pty is raw, as socat's `pty,raw,echo=0`.

What a board does and this does not: a soft reset (Ctrl-D at the raw REPL, mpremote's
default before a command) ends the unix process: always give mpremote `resume`. Ctrl-D
at the friendly prompt ends it too. When the child exits, ptyrun exits with its status.

--sim runs tools/harness/sim's station (same options) with firmware.repl's resumable entry
(tools/harness/simrepl.py) under `micropython -i` instead of boards.sim.run: Ctrl-C stops the
firmware's asyncio loop between tasks and leaves the REPL, the simulated world and the
safety tick running; r.resume() continues the loop."""
import argparse
import errno
import importlib.machinery
import importlib.util
import os
import select
import signal
import subprocess
import sys
import time
import tty

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
HOLD_S = 3.0
MAX_OUT = 1 << 20            # bytes buffered for a slow client; older output is dropped
_CTRL_C = 3


def sigint_caught(pid):
    """Whether process pid has a handler for SIGINT (the unix port installs one while
    it executes code with Ctrl-C enabled, SIG_DFL otherwise)."""
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith("SigCgt:"):
                    return bool(int(line.split()[1], 16) & (1 << (signal.SIGINT - 1)))
    except (OSError, ValueError):
        pass
    return False


_READ = {"x86_64": 0, "aarch64": 63, "riscv64": 63}.get(os.uname().machine)


def reading(pid):
    """Whether pid's main thread is blocked in read() on fd 0: the REPL waits for input.
    Without /proc/PID/syscall: whether Ctrl-C is off (SIG_DFL: not executing)."""
    try:
        with open("/proc/%d/syscall" % pid) as f:
            parts = f.read().split()
    except OSError:
        return not sigint_caught(pid)
    if not parts or parts[0] == "running" or _READ is None:
        return False
    try:
        return int(parts[0]) == _READ and int(parts[1], 16) == 0
    except (ValueError, IndexError):
        return False


def child_tty():
    master, slave = os.openpty()
    tty.setraw(slave)
    return master, slave


class Bridge:
    """The client's pty (behind `link`) <-> the child's pty, with the Ctrl-C handling
    described above. run() returns the child's exit status."""

    def __init__(self, argv, link, cwd=None, env=None, log=None, hold_s=HOLD_S):
        self.master, slave = child_tty()
        self.proc = subprocess.Popen(argv, stdin=slave, stdout=slave, stderr=slave, cwd=cwd,
                                     env=env, start_new_session=True, close_fds=True)
        os.close(slave)
        self.cm, cs = os.openpty()           # the client side: PATH -> its slave
        tty.setraw(cs)
        self.dev = os.ttyname(cs)
        os.close(cs)                         # no client yet: the master sees POLLHUP
        os.set_blocking(self.cm, False)
        os.set_blocking(self.master, False)
        self.link = os.path.abspath(link)
        tmp = self.link + ".%d" % os.getpid()
        os.symlink(self.dev, tmp)
        os.replace(tmp, self.link)
        self.log = log
        self.out = bytearray()               # child output not yet taken by the client
        self.to_child = bytearray()
        self.held = None                     # bytes after a Ctrl-C, until the REPL reads
        self.hold_until = 0.0
        self.hold_s = hold_s
        self.interrupts = 0

    # ------------------------------------------------------------ client -> child
    def _from_client(self, data):
        if self.held is not None:
            self.held += data
            return
        while data:
            i = data.find(bytes((_CTRL_C,)))
            if i < 0:
                self.to_child += data
                return
            self.to_child += data[:i]
            if not reading(self.proc.pid):
                if sigint_caught(self.proc.pid):
                    self.interrupts += 1
                    os.kill(self.proc.pid, signal.SIGINT)
                else:
                    self.to_child.append(_CTRL_C)    # Ctrl-C disabled: the program reads it
                self.held = bytearray(data[i + 1:])
                self.hold_until = time.monotonic() + self.hold_s
                return
            self.to_child.append(_CTRL_C)            # the REPL reads it (cancel a line)
            data = data[i + 1:]

    def _release(self):
        if self.held is None:
            return
        if not reading(self.proc.pid) and time.monotonic() < self.hold_until:
            return
        held, self.held = bytes(self.held), None
        self._from_client(held)

    # ------------------------------------------------------------ the loop
    def _client_open(self):
        p = select.poll()
        p.register(self.cm, select.POLLIN)
        for _, ev in p.poll(0):
            if ev & select.POLLHUP:
                return False
        return True

    def run(self):
        try:
            while True:
                connected = self._client_open()
                if not connected:
                    self.out.clear()
                rd = [self.master] + ([self.cm] if connected else [])
                wr = []
                if self.to_child:
                    wr.append(self.master)
                if connected and self.out:
                    wr.append(self.cm)
                timeout = 0.01 if self.held is not None or not connected else 0.2
                try:
                    r, w, _ = select.select(rd, wr, [], timeout)
                except InterruptedError:
                    continue
                if self.master in r and not self._read_child():
                    return self._finish()
                if self.cm in r:
                    try:
                        d = os.read(self.cm, 4096)
                    except OSError as e:     # EIO: the client went away meanwhile
                        if e.errno not in (errno.EIO, errno.EAGAIN):
                            raise
                        d = b""
                    if d:
                        self._from_client(d)
                self._release()
                if self.master in w or self.to_child:
                    self._write(self.master, self.to_child)
                if connected and self.out:
                    self._write(self.cm, self.out)
                if self.proc.poll() is not None:
                    while self._read_child():
                        pass
                    return self._finish()
        finally:
            self.close()

    def _read_child(self):
        try:
            d = os.read(self.master, 4096)
        except OSError as e:
            if e.errno == errno.EAGAIN:
                return True
            return False                     # EIO: the child closed its terminal
        if not d:
            return False
        if self.log:
            self.log.write(d)
            self.log.flush()
        self.out += d
        if len(self.out) > MAX_OUT:
            del self.out[:len(self.out) - MAX_OUT]
        return True

    @staticmethod
    def _write(fd, buf):
        if not buf:
            return
        try:
            n = os.write(fd, buf)
        except OSError as e:
            if e.errno in (errno.EAGAIN, errno.EIO):
                return
            raise
        del buf[:n]

    def _finish(self):
        try:
            return self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            return self.proc.wait()

    def close(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        try:
            if os.path.islink(self.link) and os.readlink(self.link) == self.dev:
                os.remove(self.link)
        except OSError:
            pass
        for fd in (self.master, self.cm):
            try:
                os.close(fd)
            except OSError:
                pass


def sim_command(sim_args):
    """tools/harness/sim's own option handling (the options file, MICROPYPATH, --mpy, the
    working directory), with its entry swapped for the REPL-friendly one:
    micropython ... -i tools/harness/simrepl.py OPTIONS.json. -> (argv, env, cwd)."""
    loader = importlib.machinery.SourceFileLoader("tools_sim", os.path.join(ROOT, "tools", "harness", "sim"))
    spec = importlib.util.spec_from_loader("tools_sim", loader)
    sim = importlib.util.module_from_spec(spec)
    loader.exec_module(sim)
    got = {}

    def capture(path, argv, env):
        got["argv"], got["env"], got["cwd"] = list(argv), dict(env), os.getcwd()
        raise SystemExit(0)

    here = os.getcwd()
    real = os.execve
    os.execve = capture                  # tools/harness/sim ends in os.execve: take its arguments
    try:
        try:
            sim.main(sim_args)
        except SystemExit:
            if "argv" not in got:
                raise
    finally:
        os.execve = real
        os.chdir(here)
    argv = got["argv"]
    i = argv.index("-m")
    if argv[i + 1] != "boards.sim.run":
        sys.exit("ptyrun: unexpected tools/harness/sim command line %r" % argv)
    argv[i:i + 2] = ["-i", os.path.join(ROOT, "tools", "harness", "simrepl.py")]
    return argv, got["env"], got["cwd"]


def main(argv=None):
    argv = list(sys.argv[1:] if argv is None else argv)
    if "--" not in argv:
        sys.exit("usage: tools/harness/ptyrun.py --link PATH [--log FILE] [--cwd DIR] [--sim] -- "
                 "COMMAND... | tools/harness/sim OPTIONS (see --help)")
    i = argv.index("--")
    own, rest = argv[:i], argv[i + 1:]
    p = argparse.ArgumentParser(prog="tools/harness/ptyrun.py", description=__doc__.split("\n\n")[0])
    p.add_argument("--link", required=True, help="path of the device symlink to create")
    p.add_argument("--log", help="append everything the child prints to this file")
    p.add_argument("--cwd", help="the child's working directory (its '/' on a board)")
    p.add_argument("--hold-s", type=float, default=HOLD_S,
                   help="longest hold of the input after a Ctrl-C (default %(default)s s)")
    p.add_argument("--sim", action="store_true",
                   help="the arguments after -- are tools/harness/sim options: run that station "
                        "with its REPL on the device")
    a = p.parse_args(own)
    if not rest:
        p.error("nothing to run after --")
    env, cwd = None, a.cwd
    if a.sim:
        rest, env, sim_cwd = sim_command(rest)
        cwd = cwd or sim_cwd
    log = open(a.log, "ab") if a.log else None
    b = Bridge(rest, a.link, cwd=cwd, env=env, log=log, hold_s=a.hold_s)

    def stop(signum, frame):
        raise SystemExit(128 + signum)
    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGHUP, stop)
    print("ptyrun: %s -> %s (pid %d)" % (a.link, b.dev, b.proc.pid), flush=True)
    rc = b.run()
    if log:
        log.close()
    return rc


if __name__ == "__main__":
    sys.exit(main())
