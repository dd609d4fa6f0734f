"""Drive a tools/harness/ptyrun.py device from CPython (tests, scripts): start it as a process,
wait for its device path, and talk to it with mpremote as a person would.

    dev = PtyDevice.sim(tmp, ["--csms", url, "--id", "CS1"]).start()   # simulated station
    dev = PtyDevice.bare(tmp, cwd=scratch).start()                      # `micropython -i`
    dev.mpremote("exec", "r.status()")         # -> CompletedProcess (text); `resume` added
    dev.call("r.status()")                     # -> the value, through json on the device
    dev.stop()
"""
import json
import os
import subprocess
import sys
import time

from tools.harness.simctl import end_process

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BIN = os.path.dirname(sys.executable)


def _bin(name):
    exe = os.path.join(BIN, name)
    return exe if os.path.exists(exe) else os.path.join(ROOT, ".venv", "bin", name)


# ptyrun's hold of the input after a Ctrl-C (--hold-s) for a device a test drives: no time
# limit a test could reach. With ptyrun's default (3 s) a child that took longer to get back
# to its REPL on a busy machine (a sim station stopping its loop) lost mpremote's Ctrl-A to
# the REPL's input flush, and the command failed; the input is released when the child reads.
HOLD_S = "100000"


class PtyDevice:
    def __init__(self, ptyrun_args, link, log, env=None, ready=None):
        self.link = str(link)
        self.ready = ready      # text the child prints once it reads its input (a prompt)
        self.log_path = str(log)
        self.args = [sys.executable, os.path.join(ROOT, "tools", "harness", "ptyrun.py"), "--link",
                     self.link, "--log", self.log_path, "--hold-s", HOLD_S] + list(ptyrun_args)
        self.env = env
        self.proc = None

    @classmethod
    def sim(cls, tmp, sim_args, name="sim"):
        """A simulated station (tools/harness/sim options) with its REPL on the device."""
        tmp = str(tmp)
        return cls(["--sim", "--"] + list(sim_args), os.path.join(tmp, "tty-" + name),
                   os.path.join(tmp, name + ".log"))

    @classmethod
    def bare(cls, tmp, cwd, name="dev", path=":.frozen:lib", args=(), ptyrun_args=()):
        """`micropython -i` in directory cwd: a board with an empty file system whose
        sys.path is the device's '', .frozen and lib, as on esp32/rp2. args: more
        micropython options (e.g. "-X", "heapsize=160k"); ptyrun_args: ptyrun's own
        (e.g. "--hold-s", "3", which overrides HOLD_S)."""
        tmp = str(tmp)
        env = dict(os.environ, MICROPYPATH=path)
        return cls(list(ptyrun_args) + ["--cwd", str(cwd), "--", _bin("micropython")] +
                   list(args) + ["-i"],
                   os.path.join(tmp, "tty-" + name), os.path.join(tmp, name + ".log"), env,
                   ready=">>> ")

    def start(self, timeout=15):
        self._out = open(self.log_path + ".ptyrun", "ab")
        self.proc = subprocess.Popen(self.args, stdin=subprocess.DEVNULL, stdout=self._out,
                                     stderr=subprocess.STDOUT, cwd=ROOT, env=self.env)
        deadline = time.monotonic() + timeout
        # the link, then (when known) the child's prompt: a client's first Ctrl-C while the
        # child still starts up would find it neither reading nor sure to catch SIGINT
        while not os.path.exists(self.link) or (self.ready and self.ready not in self._child_log()):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise AssertionError("ptyrun did not come up\n" + self.log())
            time.sleep(0.05)
        return self

    def _child_log(self):
        try:
            with open(self.log_path, "r", errors="replace") as f:
                return f.read()
        except OSError:
            return ""

    def wait_output(self, text, timeout=60):
        """Waits until the child has printed text (its log holds everything it printed,
        a client connected or not); the timeout is a generous bound."""
        deadline = time.monotonic() + timeout
        while text not in self._child_log():
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise AssertionError("no %r from the device\n%s" % (text, self.log()))
            time.sleep(0.05)

    def log(self):
        out = []
        for p in (self.log_path + ".ptyrun", self.log_path):
            try:
                with open(p, "r", errors="replace") as f:
                    out.append(f.read()[-20000:])
            except OSError:
                pass
        return "\n".join(out)

    def mpremote(self, *args, timeout=60, check=True):
        p = subprocess.run([_bin("mpremote"), "connect", self.link, "resume"] + list(args),
                           capture_output=True, text=True, timeout=timeout, cwd=ROOT)
        if check and p.returncode != 0:
            raise AssertionError("mpremote %s: rc %d\n%s%s\n--- device log:\n%s" % (
                " ".join(args), p.returncode, p.stdout, p.stderr, self.log()))
        return p

    def call(self, expr, setup="from firmware import repl as r", timeout=60):
        """Evaluates expr on the device; its value comes back through json."""
        code = "%s\nimport json\n_v = %s\nprint('\\nJSON' + json.dumps(_v))" % (setup, expr)
        p = self.mpremote("exec", code, timeout=timeout)
        lines = [ln for ln in p.stdout.splitlines() if ln.startswith("JSON")]
        if not lines:
            raise AssertionError("no value from %r:\n%s%s" % (expr, p.stdout, p.stderr))
        return json.loads(lines[-1][4:])

    def stop(self):
        end_process(self.proc, grace_s=10)
        if getattr(self, "_out", None):
            self._out.close()
