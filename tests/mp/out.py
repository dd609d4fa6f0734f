"""tests/mp/: the MicroPython programs the tests run inside `micropython` (tests/mp.py's
run_file()), real files so that `make check` compiles them with mpy-cross and a failure
names a file and a line. Each reports its outcome on one line, OUT + JSON (report());
the test on the CPython side asserts states and error names from it. (No __init__.py:
`tests.mp` is tests/mp.py on the CPython side.)"""
import json


def report(out):
    print("OUT" + json.dumps(out))


def error_name(e):
    """An exception as the test names it: WSError/WSClosed with their code, an OSError by
    its errno's name (ECONNREFUSED), else the class name."""
    import errno
    if isinstance(e, OSError) and e.args and isinstance(e.args[0], int):
        n = e.args[0]
        return errno.errorcode.get(n) or _LINUX_ERRNO.get(n) or "errno %d" % n
    return type(e).__name__


# Linux numbers the unix port's errno.errorcode leaves out
_LINUX_ERRNO = {27: "EFBIG", 28: "ENOSPC", 30: "EROFS", 36: "ENAMETOOLONG", 39: "ENOTEMPTY"}
