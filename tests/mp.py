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


MP_DIR = os.path.join(ROOT, "tests", "mp")


def run_program(name, *args, timeout=30, heapsize=None, env_extra=None):
    """Run tests/mp/NAME.py under micropython (tests/mp on its path, for tests/mp/out.py)
    with `args` as sys.argv[1:] (short ones: an argument of some 250 characters crashes the
    venv's port, "FATAL: uncaught NLR"; larger data goes in a file: run_case); env_extra:
    more environment variables. -> CompletedProcess (text), whatever its outcome (a
    program that is meant to die)."""
    cmd = [MICROPYTHON]
    if heapsize:
        cmd += ["-X", "heapsize=%s" % heapsize]
    cmd += [os.path.join(MP_DIR, name + ".py")] + [str(a) for a in args]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout,
                          env=env(env_extra), cwd=ROOT)


def run_case(name, case, data=None, *, timeout=30, heapsize=None, env_extra=None, lines=False):
    """tests/mp/NAME.py CASE [PATH]: one case of a program that holds many, its inputs
    (`data`, any JSON) in a temporary file whose path is the second argument (removed
    afterwards). -> the dict it reported (run_file), or with lines=True the lines it
    printed (it must exit 0)."""
    import json
    import tempfile
    args = [case]
    if data is not None:
        fd, path = tempfile.mkstemp(suffix=".json")
        with os.fdopen(fd, "w") as f:
            json.dump(data, f)
        args.append(path)
    try:
        if not lines:
            return run_file(name, *args, timeout=timeout, heapsize=heapsize, env_extra=env_extra)
        p = run_program(name, *args, timeout=timeout, heapsize=heapsize, env_extra=env_extra)
    finally:
        if data is not None:
            os.remove(args[1])
    assert p.returncode == 0, "tests/mp/%s.py %s: rc=%d\n%s\n%s" % (
        name, case, p.returncode, p.stdout, p.stderr)
    return p.stdout.splitlines()


def reported(p):
    """The dict a tests/mp program reported on its OUT line, or None."""
    import json
    lines = [ln for ln in p.stdout.splitlines() if ln.startswith("OUT")]
    return json.loads(lines[-1][3:]) if lines else None


def run_file(name, *args, timeout=30, heapsize=None, check=True, env_extra=None):
    """run_program(), then -> the dict it reported on its OUT line (fails when there is
    none, or when check and it exited with an error)."""
    import json
    p = run_program(name, *args, timeout=timeout, heapsize=heapsize, env_extra=env_extra)
    lines = [ln for ln in p.stdout.splitlines() if ln.startswith("OUT")]
    if (check and p.returncode != 0) or not lines:
        raise AssertionError("tests/mp/%s.py failed (rc=%d)\nstdout:\n%s\nstderr:\n%s"
                             % (name, p.returncode, p.stdout, p.stderr))
    return json.loads(lines[-1][3:])


def popen(argv, *, heapsize=None, **kw):
    """Start a micropython process (argv after the interpreter options)."""
    cmd = [MICROPYTHON]
    if heapsize:
        cmd += ["-X", "heapsize=%s" % heapsize]
    kw.setdefault("env", env())
    kw.setdefault("cwd", ROOT)
    return subprocess.Popen(cmd + list(argv), **kw)


def make(target):
    """`make -s TARGET` in the repository, one at a time across pytest-xdist workers (make
    is not safe to run twice at once in one tree: `make test` builds mp32 and mp32f before
    pytest starts, so this is then only make's up-to-date check). -> CompletedProcess."""
    import fcntl
    os.makedirs(os.path.join(ROOT, "build"), exist_ok=True)
    with open(os.path.join(ROOT, "build", ".make-lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        return subprocess.run(["make", "-s", "-C", ROOT, target], capture_output=True, text=True)
