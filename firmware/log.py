"""Small leveled logger: messages are formatted only when their level is on, and the
last lines stay in a bounded RAM ring readable from the REPL and the control channel."""
from micropython import const
import time

DEBUG = const(10)
INFO = const(20)
WARN = const(30)
ERROR = const(40)
_NAMES = {DEBUG: "D", INFO: "I", WARN: "W", ERROR: "E"}
_RING = const(64)

level = INFO
echo = True            # print lines to the console (stdout) too
_ring = None           # created on first use: nothing at import time
_head = 0
_count = 0


def _emit(lvl, tag, fmt, args):
    global _ring, _head, _count
    try:
        msg = fmt % args if args else fmt
    except (TypeError, ValueError):
        msg = "%s %r" % (fmt, args)
    line = "%d %s %s: %s" % (time.ticks_ms(), _NAMES.get(lvl, "?"), tag, msg)
    if _ring is None:
        _ring = [None] * _RING
    _ring[_head] = line
    _head = (_head + 1) % _RING
    if _count < _RING:
        _count += 1
    if echo:
        print(line)


def debug(tag, fmt, *args):
    if level <= DEBUG:
        _emit(DEBUG, tag, fmt, args)


def info(tag, fmt, *args):
    if level <= INFO:
        _emit(INFO, tag, fmt, args)


def warn(tag, fmt, *args):
    if level <= WARN:
        _emit(WARN, tag, fmt, args)


def error(tag, fmt, *args):
    if level <= ERROR:
        _emit(ERROR, tag, fmt, args)


def tail(n=20):
    """The last n lines, oldest first."""
    if _ring is None:
        return []
    n = min(n, _count)
    return [_ring[(_head - n + k) % _RING] for k in range(n)]


def clear():
    global _head, _count
    _head = 0
    _count = 0
