"""Authorization records and their files on flash, shared by the local list (locallist)
and the cache (cache) of firmware.auth.store.AuthStore.

A record is a Record(token: the id as given, status: its index into STATUSES, expiry:
unix s or None, parent: an id or None). A file holds one compact JSON array per line
and is replaced whole with store.atomic_write, so a power cut leaves the old or the new
file:
    [<tag>,1,<version>,<count>]   then <count> lines [id,status,expiry,parent]
Every line, its newline included, is at most _LINE_MAX bytes: write() refuses a longer
one (an id full of JSON escapes or multi-byte characters), so every file it writes passes
the size bound read() applies, (count + 1) * _LINE_MAX, and loads again after a reboot."""
from micropython import const
from collections import namedtuple
import json
import os
import store

STATUSES = ("Accepted", "Blocked", "Expired", "Invalid", "ConcurrentTx", "NoCredit",
            "NotAllowedTypeEVSE", "NotAtThisLocation", "NotAtThisTime", "Unknown")
_FORMAT = const(1)
_LINE_MAX = const(192)       # 64-char id and parent, the longest status, a year-9999 expiry
_ID_MAX = const(64)          # longer ids are refused (1.6: 20, 2.0.1: 36)
_ENOENT = const(2)
_EIO = const(5)
_EEXIST = const(17)
_EFBIG = const(27)
_SEP = const((",", ":"))

Record = namedtuple("Record", ("token", "status", "expiry", "parent"))


def key(tok, ci):
    """The dictionary key of an id: ci compares by .upper() (1.6 idTag is a CiString20;
    2.0.1 IdTokenType.idToken is an identifierString, "case insensitive" too), else
    exactly."""
    return tok.upper() if ci else tok


def is_int(v):
    return isinstance(v, int) and not isinstance(v, bool)


def tok_ok(tok):
    return isinstance(tok, str) and 0 < len(tok) <= _ID_MAX


def info_row(tok, info):
    """{"status", "expiry", "parent"} -> a record, or None when malformed."""
    return row(tok, info.get("status"), info.get("expiry"), info.get("parent"))


def row(tok, st, exp, par):
    """-> a record (status as its index), or None when malformed."""
    if st not in STATUSES:
        return None
    if isinstance(exp, float):
        exp = int(exp)
    if not (exp is None or is_int(exp)) or not (par is None or tok_ok(par)):
        return None
    return Record(tok, STATUSES.index(st), exp, par)


def line(r):
    """A record as its stored line (bytes, no newline)."""
    return json.dumps([r.token, STATUSES[r.status], r.expiry, r.parent],
                      separators=_SEP).encode()


def fits(r):
    return len(line(r)) < _LINE_MAX


def read(path, tag, limit, put):
    """Calls put(count) after the header, then put(record) for each stored line, one line
    in RAM at a time. -> (version, ok): an absent file is (0, True); a file that cannot
    be read, does not parse, has the wrong count or is too large is (0, False) and what
    put collected is void."""
    try:
        size = os.stat(path)[6]
    except OSError as e:
        return 0, e.args[0] == _ENOENT      # absent (or no directory yet); EIO: damaged
    if size > (limit + 1) * _LINE_MAX:
        return 0, False
    try:
        with open(path, "r") as f:
            h = json.loads(f.readline())
            if not (isinstance(h, list) and len(h) == 4 and h[0] == tag
                    and h[1] == _FORMAT and is_int(h[2]) and is_int(h[3])
                    and 0 <= h[3] <= limit and h[2] >= 0):
                return 0, False
            put(h[3])
            for _ in range(h[3]):
                r = json.loads(f.readline())
                if not (isinstance(r, list) and len(r) == 4 and tok_ok(r[0])):
                    return 0, False
                r = row(r[0], r[1], r[2], r[3])
                if r is None:
                    return 0, False
                put(r)
            if f.readline():
                return 0, False          # more lines than the header says
    except (OSError, ValueError, UnicodeError):
        return 0, False
    return h[2], True


def write(path, tag, version, n, rows):
    """One atomic_write of the header and n records (rows() gives a fresh iterator each
    call). Two passes, so the file is built in one block of its exact size instead of a
    growing buffer. Creates the directory when missing. Raises OSError (EFBIG: a line
    over _LINE_MAX) or MemoryError; the old file then stays."""
    head = json.dumps([tag, _FORMAT, version, n], separators=_SEP).encode()
    if len(head) >= _LINE_MAX:
        raise OSError(_EFBIG)
    size = len(head) + 1
    for r in rows():
        t = len(line(r)) + 1
        if t > _LINE_MAX:
            raise OSError(_EFBIG)
        size += t
    data = bytearray(size)
    data[0:len(head)] = head
    p = len(head)
    for r in rows():
        data[p] = 10                     # "\n"
        t = line(r)
        data[p + 1:p + 1 + len(t)] = t
        p += 1 + len(t)
    data[p] = 10
    if p + 1 != size:                    # rows() changed between the passes
        raise OSError(_EIO)
    try:
        store.atomic_write(path, data)
    except OSError as e:
        if e.args[0] != _ENOENT:
            raise
        try:
            os.mkdir(path[:path.rfind("/")])
        except OSError as e2:
            if e2.args[0] != _EEXIST:
                raise
        store.atomic_write(path, data)


def sized(n):
    """An empty dict whose table already holds n entries: it is allocated before the
    entries' strings, so it never needs a large block from a fragmented heap."""
    d = dict.fromkeys(range(n))
    for i in range(n):
        del d[i]             # MicroPython keeps the table; new keys reuse the slots
    return d
