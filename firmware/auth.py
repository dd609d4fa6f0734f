"""Authorization data on flash for both OCPP versions: the Local Authorization List
(1.6 5.15/5.10, 2.0.1 D01/D02; firmware.authlist) and the Authorization Cache (1.6
3.5.1, 2.0.1 C10-C12; CacheMixin below), their records and files in firmware.authrec.

    a = AuthStore(dir_path, list_max=256, cache_max=64, case_insensitive=True)
    a.load() -> bool       # False (and a.damaged, logged) when a file was unusable
    a.list_version, a.list_count, a.cache_count, a.damaged
    a.send_local_list(version, "Full"|"Differential", [(id_token, info or None), ...])
        -> "Accepted" | "Failed" | "VersionMismatch"   (durable when Accepted)
    a.lookup(id_token, now=None) -> (info, "list" | "cache") or (None, None)
    a.cache_put(id_token, info, now) -> bool   # True when stored and persisted
    a.clear_cache() -> bool                    # the cache only; False on a failed write
info: {"status": one of authrec.STATUSES, "expiry": unix s or None, "parent": str or None}.

- The list wins over the cache (1.6 3.5.3, 2.0.1 C14); an id of the list is not cached
  (1.6 3.5.3), and a list update drops the cache entries of the ids it names.
- An entry whose expiry is before `now` reads as "Expired" (now None: not checked).
- case_insensitive=True compares ids by .upper(): 1.6 idTag is a CiString20, and 2.0.1
  IdTokenType.idToken is an identifierString, which the 2.0.1 schema and errata also
  call case insensitive. False compares exactly. Ids are stored as given.
- Bounds: list_max (LocalAuthListMaxLength), cache_max (AuthCacheMaxLength style), ids
  of at most 64 characters, stored lines of at most 192 bytes.

Files in dir_path: "authlist" and "authcache", each replaced whole (old or new after a
power cut); the list's version sits in its file, so it always matches the entries. A
file that is unusable reads as empty, sets damaged and is logged; the next successful
write replaces it."""
from micropython import const
from firmware import authrec
from firmware.authlist import ListMixin

_EXPIRED = const(2)          # index in authrec.STATUSES


# ---- the Authorization Cache ----------------------------------------------------------
# The Authorization Cache of firmware.auth (OCPP 1.6 3.5.1, 2.0.1 C10-C12): the latest
# answer of the CSMS per id, valid or not, bounded by cache_max (AuthCacheMaxLength style)
# and kept on flash with its use order.
#
# Eviction (1.6 3.5.1, 2.0.1 C10.FR.07): when full, a NOT-valid entry goes first (a status
# other than Accepted or ConcurrentTx, or past its expiry), else the least recently used
# valid one; the entry being stored is never the one evicted. A lookup hit is a use; the
# order reaches flash with the next cache write. The file lists the entries least recently
# used first.

_ACCEPTED = const(0)         # STATUSES indices of the valid statuses (1.6 3.5.2)
_CONCURRENT = const(4)
# a cache entry is a list (its last use changes): these are its fields
_ID = const(0)               # the id as given, None when it is the key
_STATUS = const(1)           # index into authrec.STATUSES
_EXPIRY = const(2)           # unix s or None
_PARENT = const(3)           # parent id or None
_USED = const(4)             # last use (self._seq)
_CACHE_FILE = const("/authcache")


class CacheMixin:
    """The cache half of firmware.auth.AuthStore: self._cache (key -> [id or None (the
    key), status, expiry, parent, last use]), self._seq, self.cache_max, self.ci,
    self.dir."""

    def _cache_load(self, skip):
        """Reads the file; False (and an empty cache) when it was unusable. Keys in skip
        (the local list) are left out: a power cut between a list update and the cache
        write that drops its ids must not bring them back later (1.6 3.5.3)."""
        self._cache, self._seq = {}, 0
        d, ci = {}, self.ci

        def put(r):
            if isinstance(r, int):
                return
            k = authrec.key(r.token, ci)
            if k in skip:
                return
            self._seq += 1
            d[k] = _entry(k, r, self._seq)

        ok = authrec.read(self.dir + _CACHE_FILE, "C", self.cache_max, put)[1]
        if ok:
            self._cache = d
        return ok

    def _cache_get(self, k):
        """The entry of a key, or None; a hit is a use."""
        c = self._cache.get(k)
        if c is None:
            return None
        self._seq += 1
        c[_USED] = self._seq
        return authrec.Record(c[_ID], c[_STATUS], c[_EXPIRY], c[_PARENT])

    def _cache_store(self, k, r, now):
        """Stores a record under key k, evicting when full, and writes the file. False
        when the record cannot be stored (over a line, cache_max 0) or the write failed
        (then it is kept in RAM until the next write)."""
        if self.cache_max < 1 or not authrec.fits(r):
            return False
        self._seq += 1
        self._cache[k] = _entry(k, r, self._seq)
        while len(self._cache) > self.cache_max:
            self._evict(k, now)
        return self._save_cache()

    def _evict(self, keep, now):
        victim, best, bad = None, 0, False
        for k, c in self._cache.items():
            if k == keep:
                continue
            st, exp = c[_STATUS], c[_EXPIRY]
            nv = (st != _ACCEPTED and st != _CONCURRENT) or \
                (now is not None and exp is not None and exp < now)
            if victim is None or (nv and not bad) or (nv == bad and c[_USED] < best):
                victim, best, bad = k, c[_USED], nv
        del self._cache[victim]

    def _cache_drop(self, keys):
        """Forgets these keys (ids the list now names); writes the file when one was
        cached."""
        n = len(self._cache)
        for k in keys:
            self._cache.pop(k, None)
        return len(self._cache) == n or self._save_cache()

    def clear_cache(self):
        """ClearCache (1.6 5.4, 2.0.1 C11): empties the cache, never the list. False when
        the file could not be written."""
        self._cache = {}
        return self._save_cache()

    def _save_cache(self):
        items = sorted(self._cache.items(), key=lambda kv: kv[1][_USED])
        try:
            authrec.write(self.dir + _CACHE_FILE, "C", 0, len(items),
                    lambda: (authrec.Record(c[_ID] or k, c[_STATUS], c[_EXPIRY], c[_PARENT])
                             for k, c in items))
        except (OSError, MemoryError):
            return False
        return True


class AuthStore(ListMixin, CacheMixin):
    def __init__(self, dir_path, list_max=256, cache_max=64, case_insensitive=True):
        self.dir = dir_path
        self.list_max = list_max
        self.cache_max = cache_max
        self.ci = case_insensitive
        self.damaged = False
        self._list = {}          # key -> int | tuple: see authlist._pack()
        self.list_version = 0
        self._cache = {}         # key -> [id or None, status, expiry, parent, last use]
        self._seq = 0

    @property
    def list_count(self):
        return len(self._list)

    @property
    def cache_count(self):
        return len(self._cache)

    def load(self):
        """Reads both files. Returns True when both were usable (absent counts as
        usable); an unusable file reads as empty, sets self.damaged and is logged."""
        ok1 = self._list_load()
        ok2 = self._cache_load(self._list)
        self.damaged = not (ok1 and ok2)
        if self.damaged:
            from firmware import log     # loaded at boot anyway; not a cost of this module
            if not ok1:
                log.error("auth", "%s/authlist damaged: local list read as empty", self.dir)
            if not ok2:
                log.error("auth", "%s/authcache damaged: cache read as empty", self.dir)
        return not self.damaged

    def lookup(self, id_token, now=None):
        """(info, source): the list first, then the cache; (None, None) when unknown."""
        if not isinstance(id_token, str):
            return None, None
        k = authrec.key(id_token, self.ci)
        r = self._list_get(k)
        if r is not None:
            return _out(r, now), "list"
        r = self._cache_get(k)
        if r is not None:
            return _out(r, now), "cache"
        return None, None

    def cache_put(self, id_token, info, now=None):
        """Remembers a CSMS answer. False when not stored (an id of the list, a bad
        info) or not persisted (flash write failed: kept in RAM until the next write)."""
        if not authrec.tok_ok(id_token) or not isinstance(info, dict):
            return False
        k = authrec.key(id_token, self.ci)
        if k in self._list:
            return False
        r = authrec.info_row(id_token, info)
        return r is not None and self._cache_store(k, r, now)


def _entry(k, r, used):
    """A cache entry (a list: its _USED changes) of Record r stored under key k."""
    return [None if r.token == k else r.token, r.status, r.expiry, r.parent, used]


def _out(r, now):
    """A Record -> the version-neutral info {"status", "expiry", "parent"}."""
    s, exp = r.status, r.expiry
    if exp is not None and now is not None and exp < now:
        s = _EXPIRED
    return {"status": authrec.STATUSES[s], "expiry": exp, "parent": r.parent}
