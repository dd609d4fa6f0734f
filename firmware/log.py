"""Small leveled logger: messages are formatted only when their level is on, and the
last lines stay in a bounded RAM ring readable from the REPL and the control channel.

The ring is one bytearray of _RING_BYTES, made on first use: its size never changes,
however long the lines (each is cut to _LINE_MAX characters there; the console gets it
whole), and logging allocates nothing that outlives the call."""
from micropython import const
import time

DEBUG = const(10)
INFO = const(20)
WARN = const(30)
ERROR = const(40)
_NAMES = {DEBUG: "D", INFO: "I", WARN: "W", ERROR: "E"}
_RING_BYTES = const(3072)
_LINE_MAX = const(240)

level = INFO
echo = True            # print lines to the console (stdout) too
_ring = None           # bytearray(_RING_BYTES), lines ending in b"\n"; created on first use
_pos = 0               # where the next line goes
_wrapped = False       # the ring has been filled once: the oldest line may be cut
_total = 0             # bytes ever put in the ring (lines and their b"\n"): since() reads by it
_start = 0             # ... where the ring's content begins (clear() moves it)
# called after each line is in the ring (firmware.diag.flashlog wakes its writer): it may
# touch asyncio, so code outside the loop (a timer callback, a thread) turns it off first
notify = None


def _emit(lvl, tag, fmt, args):
    global _ring, _pos, _wrapped, _total
    try:
        msg = fmt % args if args else fmt
    except (TypeError, ValueError):
        msg = "%s %r" % (fmt, args)
    line = "%d %s %s: %s" % (time.ticks_ms(), _NAMES.get(lvl, "?"), tag, msg)
    if echo:
        print(line)
    if _ring is None:
        reserve()
    b = line[:_LINE_MAX].replace("\n", " ").encode()
    n = len(b)
    first = min(n, _RING_BYTES - _pos)
    _ring[_pos:_pos + first] = b[:first]
    if first < n:
        _ring[:n - first] = b[first:]
    _pos += n
    if _pos >= _RING_BYTES:
        _pos -= _RING_BYTES
        _wrapped = True
    _ring[_pos] = 10                    # b"\n"
    _pos += 1
    if _pos >= _RING_BYTES:
        _pos = 0
        _wrapped = True
    _total += n + 1
    if notify is not None:
        notify()


def reserve():
    """Makes the ring now (firmware.main.preload does at boot, before the code loads):
    3 KB in one piece is easy to find in a fresh heap and may not be later."""
    global _ring
    if _ring is None:
        _ring = bytearray(_RING_BYTES)


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
    """The last n lines held, oldest first."""
    if _ring is None or n <= 0:
        return []
    data = bytes(_ring[_pos:]) + bytes(_ring[:_pos]) if _wrapped else bytes(_ring[:_pos])
    if _wrapped:
        data = data[data.find(b"\n") + 1:]      # the oldest line may have been cut
    lines = data.split(b"\n")[:-1]
    return [x.decode() for x in lines[-n:]]


def clear():
    global _pos, _wrapped, _total, _start
    _total += (_RING_BYTES - _total % _RING_BYTES) % _RING_BYTES   # _pos 0 again
    _start = _total
    _pos = 0
    _wrapped = False


def total():
    """Bytes logged into the ring so far: a position for since()."""
    return _total


def since(pos):
    """(text, new position, lost) of the whole lines logged after position pos of
    total(): the flash log's reader (firmware.diag.flashlog). lost: lines went before
    they were read (the ring wrapped past pos). Bounded by the ring's size."""
    lo = max(pos, _start, _total - _RING_BYTES)
    if _ring is None or lo >= _total:
        return "", _total, lo > pos
    a = lo % _RING_BYTES
    b = _total % _RING_BYTES
    data = bytes(_ring[a:b]) if a < b else bytes(_ring[a:]) + bytes(_ring[:b])
    if lo > pos:                        # the first line may have been cut
        i = data.find(b"\n")
        data = data[i + 1:] if i >= 0 else b""
    return data.decode(), _total, lo > pos
