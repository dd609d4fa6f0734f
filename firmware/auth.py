"""Authorization data on flash for both OCPP versions: the Local Authorization List
(1.6 5.15/5.10, 2.0.1 D01/D02) and the Authorization Cache (1.6 3.5.3, 2.0.1 C10-C12).

    a = AuthStore(dir_path, list_max=256, cache_max=64, case_insensitive=True)
    a.load() -> bool       # False (and a.damaged) when a file was unusable: it reads empty
    a.list_version, a.list_count, a.cache_count, a.damaged
    a.send_local_list(version, "Full"|"Differential", [(id_token, info or None), ...])
        -> "Accepted" | "Failed" | "VersionMismatch"   (durable when Accepted)
    a.lookup(id_token, now=None) -> (info, "list" | "cache") or (None, None)
    a.cache_put(id_token, info, now) -> bool   # True when stored and persisted
    a.clear_cache() -> bool                    # the cache only; False on a failed write
info: {"status": one of STATUSES, "expiry": unix s or None, "parent": str or None}.

- The list wins over the cache (1.6 3.5.3, 2.0.1 C14); an id of the list is not cached,
  and a list update drops the cache entries of the ids it names.
- An entry whose expiry is before `now` reads as "Expired" (now None: not checked).
- Full replaces the list; each entry needs an info (1.6: idTagInfo required for Full).
  Differential: version <= list_version -> "VersionMismatch"; info None removes the id.
  Over list_max, a bad entry, no RAM or a failed flash write -> "Failed", old list kept.
- An empty list has version 0 (1.6 GetLocalListVersion); a non-empty result needs a
  version >= 1.
- case_insensitive=True (1.6 idTag is CiString20) compares ids by .upper(); pass False
  for 2.0.1 (idToken is case-sensitive; key by "type:idToken" to keep types apart).
  Ids are stored as given.
- The cache evicts an expired entry first, else the least recently used (a lookup hit is
  a use; that order reaches flash with the next cache write).

Files in dir_path, each replaced whole with store.atomic_write (old or new after a power
cut); the version sits in the file with the entries, so it always matches them. One
compact JSON array per line:
    authlist:   ["L",1,<version>,<count>]  then <count> lines [id,status,expiry,parent]
    authcache:  ["C",1,0,<count>]          then <count> lines, least recently used first
A file that does not parse, has the wrong count or is too large reads as empty and sets
damaged; the next successful write replaces it.
RAM: a list entry is its key string and a small int (status, letter case), or a short
tuple when it has an expiry or a parent (parents shared)."""
from micropython import const
import gc
import json
import os
import store

STATUSES = ("Accepted", "Blocked", "Expired", "Invalid", "ConcurrentTx", "NoCredit",
            "NotAllowedTypeEVSE", "NotAtThisLocation", "NotAtThisTime", "Unknown")
_EXPIRED = const(2)
_FORMAT = const(1)
_LINE_MAX = const(160)       # bytes per line at most (36-char ids, escapes aside)
_ID_MAX = const(64)          # longer ids are refused (1.6: 20, 2.0.1: 36)
_EEXIST = const(17)
_EIO = const(5)
_GC_EVERY = const(32)       # collect while loading: keeps the entries packed, not scattered
_CASE_LIM = const(1 << 26)   # case masks below this pack with the status in one small int
_EPOCH = const(1500000000)   # expiries are kept as offsets: small ints on 32-bit until 2051
_SEP = (",", ":")
LIST_FILE = "authlist"
CACHE_FILE = "authcache"


class AuthStore:
    def __init__(self, dir_path, list_max=256, cache_max=64, case_insensitive=True):
        self.dir = dir_path
        self.list_max = list_max
        self.cache_max = cache_max
        self.ci = case_insensitive
        self.damaged = False
        self._list = {}          # key -> int | tuple: see _pack()
        self.list_version = 0
        self._cache = {}         # key -> [id or None, status, expiry, parent, seq]
        self._seq = 0
        self._dir_ok = False

    @property
    def list_count(self):
        return len(self._list)

    @property
    def cache_count(self):
        return len(self._cache)

    def _key(self, tok):
        return tok.upper() if self.ci else tok

    # ------------------------------------------------------------ load
    def load(self):
        """Reads both files. Returns True when both were usable (absent counts as
        usable); an unusable file reads as empty and sets self.damaged."""
        self._list, self.list_version = {}, 0
        lst, pars = [None], {}

        def put_list(r):
            if isinstance(r, int):
                lst[0] = _sized(r)
                return
            k = self._key(r[0])
            d = lst[0]
            d[k] = _pack(r[0], k, r[1], r[2], pars.setdefault(r[3], r[3]))
            if len(d) % _GC_EVERY == 0:
                gc.collect()

        ver, ok1 = self._read(LIST_FILE, "L", self.list_max, put_list)
        lst = lst[0]
        if ok1 and lst and ver < 1:
            ok1 = False              # entries under version 0: not a state we write
        if ok1 and lst:
            self._list, self.list_version = lst, ver
        lst = pars = None
        self._cache, self._seq = {}, 0
        cache = {}

        def put_cache(r):
            if isinstance(r, int):
                return
            k = self._key(r[0])
            self._seq += 1
            cache[k] = [None if r[0] == k else r[0], r[1], r[2], r[3], self._seq]

        _, ok2 = self._read(CACHE_FILE, "C", self.cache_max, put_cache)
        if ok2:
            self._cache = cache
        self.damaged = not (ok1 and ok2)
        return not self.damaged

    def _read(self, name, tag, limit, put):
        """Calls put(count) after the header, then put((id, status index, expiry,
        parent)) for each stored line, one line in RAM at a time. -> (version, ok); when
        not ok, what put collected is void."""
        path = self.dir + "/" + name
        try:
            size = os.stat(path)[6]
        except OSError:
            return 0, True           # absent (or no directory yet)
        if size > (limit + 1) * _LINE_MAX:
            return 0, False
        try:
            with open(path, "r") as f:
                h = json.loads(f.readline())
                if not (isinstance(h, list) and len(h) == 4 and h[0] == tag
                        and h[1] == _FORMAT and _int(h[2]) and _int(h[3])
                        and 0 <= h[3] <= limit and h[2] >= 0):
                    return 0, False
                put(h[3])
                for _ in range(h[3]):
                    r = _row(json.loads(f.readline()))
                    if r is None:
                        return 0, False
                    put(r)
                if f.readline():
                    return 0, False      # more lines than the header says
        except (OSError, ValueError, UnicodeError):
            return 0, False
        return h[2], True

    # ------------------------------------------------------------ local list
    def send_local_list(self, version, update_type, entries):
        full = update_type == "Full"
        if not _int(version) or version < 0 or not (full or update_type == "Differential"):
            return "Failed"
        if not full and version <= self.list_version:
            return "VersionMismatch"
        new = _sized(min(self.list_max, len(entries) + (0 if full else len(self._list))))
        if not full:
            new.update(self._list)                   # references only
        pars = {}
        for ent in entries:
            tok, info = ent
            if not _tok_ok(tok):
                return "Failed"
            k = self._key(tok)
            if info is None:
                if full:
                    return "Failed"
                new.pop(k, None)
                continue
            r = _info_row(tok, info)
            if r is None:
                return "Failed"
            new[k] = _pack(tok, k, r[1], r[2], pars.setdefault(r[3], r[3]))
        if len(new) > self.list_max or (new and version < 1):
            return "Failed"
        ver = version if new else 0
        try:
            self._write(LIST_FILE, "L", ver, len(new), lambda: self._list_rows(new))
        except (OSError, MemoryError):
            return "Failed"
        self._list, self.list_version = new, ver
        dropped = False
        for ent in entries:
            if self._cache.pop(self._key(ent[0]), None) is not None:
                dropped = True
        if dropped:
            self._save_cache()
        return "Accepted"

    def _list_rows(self, d):
        for k, v in d.items():
            yield _unpack(k, v, True)

    # ------------------------------------------------------------ lookup
    def lookup(self, id_token, now=None):
        """(info, source): the list first, then the cache; (None, None) when unknown."""
        if not isinstance(id_token, str):
            return None, None
        k = self._key(id_token)
        v = self._list.get(k)
        if v is not None:
            r = _unpack(k, v, False)
            return _out(r[1], r[2], r[3], now), "list"
        c = self._cache.get(k)
        if c is not None:
            self._seq += 1
            c[4] = self._seq
            return _out(c[1], c[2], c[3], now), "cache"
        return None, None

    # ------------------------------------------------------------ cache
    def cache_put(self, id_token, info, now=None):
        """Remembers a CSMS answer. False when not stored (an id of the list, a bad
        info) or not persisted (flash write failed: kept in RAM until the next write)."""
        if not _tok_ok(id_token) or not isinstance(info, dict):
            return False
        k = self._key(id_token)
        if k in self._list:
            return False
        r = _info_row(id_token, info)
        if r is None:
            return False
        self._seq += 1
        self._cache[k] = [None if id_token == k else id_token, r[1], r[2], r[3], self._seq]
        while len(self._cache) > self.cache_max:
            self._evict(now)
        return self._save_cache()

    def _evict(self, now):
        victim, best = None, None
        for k, c in self._cache.items():
            if now is not None and c[2] is not None and c[2] < now:
                victim = k               # already expired: no use keeping it
                break
            if best is None or c[4] < best:
                victim, best = k, c[4]
        del self._cache[victim]

    def clear_cache(self):
        """ClearCache (1.6 5.4, 2.0.1 C11): empties the cache, never the list."""
        self._cache = {}
        return self._save_cache()

    def _save_cache(self):
        items = sorted(self._cache.items(), key=lambda kv: kv[1][4])
        try:
            self._write(CACHE_FILE, "C", 0, len(items),
                        lambda: ((c[0] or k, c[1], c[2], c[3]) for k, c in items))
        except (OSError, MemoryError):
            return False
        return True

    # ------------------------------------------------------------ flash
    def _write(self, name, tag, version, n, rows):
        """One atomic_write of the header and n rows (rows() gives a fresh iterator);
        raises OSError or MemoryError. Two passes, so the file is built in one block of
        its exact size instead of a growing buffer."""
        head = json.dumps([tag, _FORMAT, version, n], separators=_SEP).encode()
        size = len(head) + 1
        for r in rows():
            size += len(_line(r)) + 1
        data = bytearray(size)
        data[0:len(head)] = head
        p = len(head)
        for r in rows():
            data[p] = 10                     # "\n"
            t = _line(r)
            data[p + 1:p + 1 + len(t)] = t
            p += 1 + len(t)
        data[p] = 10
        if p + 1 != size:                    # rows() changed between the passes
            raise OSError(_EIO)
        if not self._dir_ok:
            try:
                os.mkdir(self.dir)
            except OSError as e:
                if e.args[0] != _EEXIST:
                    raise
            self._dir_ok = True
        store.atomic_write(self.dir + "/" + name, data)


def _line(r):
    return json.dumps([r[0], STATUSES[r[1]], r[2], r[3]], separators=_SEP).encode()


def _sized(n):
    """An empty dict whose table already holds n entries: it is allocated before the
    entries' strings, so it never needs a large block from a fragmented heap."""
    d = dict.fromkeys(range(n))
    for i in range(n):
        del d[i]             # MicroPython keeps the table; new keys reuse the slots
    return d


def _int(v):
    return isinstance(v, int) and not isinstance(v, bool)


def _tok_ok(tok):
    return isinstance(tok, str) and 0 < len(tok) <= _ID_MAX


def _row(r):
    """A stored line -> (id, status index, expiry, parent), or None when malformed."""
    if not (isinstance(r, list) and len(r) == 4 and _tok_ok(r[0])):
        return None
    return _info_row(r[0], {"status": r[1], "expiry": r[2], "parent": r[3]})


def _info_row(tok, info):
    st = info.get("status")
    exp = info.get("expiry")
    par = info.get("parent")
    if st not in STATUSES:
        return None
    if isinstance(exp, float):
        exp = int(exp)
    if not (exp is None or _int(exp)) or not (par is None or _tok_ok(par)):
        return None
    return tok, STATUSES.index(st), exp, par


def _pack(tok, key, s, exp, par):
    """A list entry in RAM: the small int status | case << 4 when there is no expiry or
    parent, else (case, status, expiry - _EPOCH or None, parent). case is 0 (the id is
    its key), a mask of the letters to lower-case in the key, or the id as given."""
    case = _case(tok, key)
    if exp is None and par is None and isinstance(case, int) and case < _CASE_LIM:
        return s | case << 4
    return (case, s, None if exp is None else exp - _EPOCH, par)


def _unpack(key, v, want_id):
    """-> (id as given or None, status, expiry, parent)."""
    if isinstance(v, int):
        return _id(key, v >> 4) if want_id else None, v & 15, None, None
    return (_id(key, v[0]) if want_id else None, v[1],
            None if v[2] is None else v[2] + _EPOCH, v[3])


def _case(tok, key):
    if tok == key:
        return 0
    m = 0
    if len(tok) == len(key):
        for i in range(len(tok)):
            if tok[i] != key[i]:
                m |= 1 << i
        if _id(key, m) == tok:
            return m
    return tok


def _id(key, case):
    if not case:
        return key
    if isinstance(case, str):
        return case
    return "".join(key[i].lower() if case >> i & 1 else key[i] for i in range(len(key)))


def _out(s, exp, par, now):
    if exp is not None and now is not None and exp < now:
        s = _EXPIRED
    return {"status": STATUSES[s], "expiry": exp, "parent": par}
