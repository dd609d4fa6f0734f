"""The Authorization Cache of firmware.auth.store.AuthStore (OCPP 1.6 3.5.1, 2.0.1
C10-C12): the latest answer of the CSMS per id, valid or not, bounded by cache_max
(AuthCacheMaxLength style) and kept on flash with its use order.

Eviction (1.6 3.5.1, 2.0.1 C10.FR.07): when full, a NOT-valid entry goes first (a status
other than Accepted or ConcurrentTx, or past its expiry), else the least recently used
valid one; the entry being stored is never the one evicted. A lookup hit is a use; the
order reaches flash with the next cache write. The file lists the entries least recently
used first."""
from micropython import const
from firmware.auth import records

_ACCEPTED = const(0)         # STATUSES indices of the valid statuses (1.6 3.5.2)
_CONCURRENT = const(4)
# a cache entry is a list (its last use changes): these are its fields
_ID = const(0)               # the id as given, None when it is the key
_STATUS = const(1)           # index into records.STATUSES
_EXPIRY = const(2)           # unix s or None
_PARENT = const(3)           # parent id or None
_USED = const(4)             # last use (self._seq)
_CACHE_FILE = const("/authcache")


class CacheMixin:
    """The cache half of firmware.auth.store.AuthStore: self._cache (key -> [id or None (the
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
            k = records.key(r.token, ci)
            if k in skip:
                return
            self._seq += 1
            d[k] = _entry(k, r, self._seq)

        ok = records.read(self.dir + _CACHE_FILE, "C", self.cache_max, put)[1]
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
        return records.Record(c[_ID], c[_STATUS], c[_EXPIRY], c[_PARENT])

    def _cache_store(self, k, r, now):
        """Stores a record under key k, evicting when full, and writes the file. False
        when the record cannot be stored (over a line, cache_max 0) or the write failed
        (then it is kept in RAM until the next write)."""
        if self.cache_max < 1 or not records.fits(r):
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
            records.write(self.dir + _CACHE_FILE, "C", 0, len(items),
                    lambda: (records.Record(c[_ID] or k, c[_STATUS], c[_EXPIRY], c[_PARENT])
                             for k, c in items))
        except (OSError, MemoryError):
            return False
        return True


def _entry(k, r, used):
    """A cache entry (a list: its _USED changes) of Record r stored under key k."""
    return [None if r.token == k else r.token, r.status, r.expiry, r.parent, used]
