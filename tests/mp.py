"""Run MicroPython (unix port) from pytest: firmware code runs inside `micropython`."""
import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MICROPYTHON = os.path.join(os.path.dirname(sys.executable), "micropython")


def env(extra=None):
    e = dict(os.environ)
    e["MICROPYPATH"] = ".frozen:%s:%s" % (os.path.join(ROOT, "lib"), ROOT)
    if extra:
        e.update(extra)
    return e


def run(code, *, timeout=30, heapsize=None, args=(), check=True):
    """Run `code` (a string) under micropython; returns CompletedProcess (text)."""
    cmd = [MICROPYTHON]
    if heapsize:
        cmd += ["-X", "heapsize=%s" % heapsize]
    cmd += ["-c", code, *args]
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=env(), cwd=ROOT)
    if check and p.returncode != 0:
        raise AssertionError("micropython failed (rc=%d)\nstdout:\n%s\nstderr:\n%s"
                             % (p.returncode, p.stdout, p.stderr))
    return p


def popen(argv, *, heapsize=None, **kw):
    """Start a micropython process (argv after the interpreter options)."""
    cmd = [MICROPYTHON]
    if heapsize:
        cmd += ["-X", "heapsize=%s" % heapsize]
    kw.setdefault("env", env())
    kw.setdefault("cwd", ROOT)
    return subprocess.Popen(cmd + list(argv), **kw)
