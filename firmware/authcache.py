"""The Authorization Cache of firmware.auth (OCPP 1.6 3.5.1, 2.0.1 C10-C12): the latest
answer of the CSMS per id, valid or not, bounded by cache_max (AuthCacheMaxLength style)
and kept on flash with its use order.

Eviction (1.6 3.5.1, 2.0.1 C10.FR.07): when full, a NOT-valid entry goes first (a status
other than Accepted or ConcurrentTx, or past its expiry), else the least recently used
valid one; the entry being stored is never the one evicted. A lookup hit is a use; the
order reaches flash with the next cache write. The file lists the entries least recently
used first."""
from micropython import const
from firmware import authrec as R

_ACCEPTED = const(0)         # STATUSES indices of the valid statuses (1.6 3.5.2)
_CONCURRENT = const(4)
_FILE = const("/authcache")


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
            k = R.key(r[0], ci)
            if k in skip:
                return
            self._seq += 1
            d[k] = [None if r[0] == k else r[0], r[1], r[2], r[3], self._seq]

        ok = R.read(self.dir + _FILE, "C", self.cache_max, put)[1]
        if ok:
            self._cache = d
        return ok

    def _cache_get(self, k):
        """The entry of a key, or None; a hit is a use."""
        c = self._cache.get(k)
        if c is not None:
            self._seq += 1
            c[4] = self._seq
        return c

    def _cache_store(self, k, r, now):
        """Stores a record under key k, evicting when full, and writes the file. False
        when the record cannot be stored (over a line, cache_max 0) or the write failed
        (then it is kept in RAM until the next write)."""
        if self.cache_max < 1 or not R.fits(r):
            return False
        self._seq += 1
        self._cache[k] = [None if r[0] == k else r[0], r[1], r[2], r[3], self._seq]
        while len(self._cache) > self.cache_max:
            self._evict(k, now)
        return self._save_cache()

    def _evict(self, keep, now):
        victim, best, bad = None, 0, False
        for k, c in self._cache.items():
            if k == keep:
                continue
            nv = (c[1] != _ACCEPTED and c[1] != _CONCURRENT) or \
                (now is not None and c[2] is not None and c[2] < now)
            if victim is None or (nv and not bad) or (nv == bad and c[4] < best):
                victim, best, bad = k, c[4], nv
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
        items = sorted(self._cache.items(), key=lambda kv: kv[1][4])
        try:
            R.write(self.dir + _FILE, "C", 0, len(items),
                    lambda: ((c[0] or k, c[1], c[2], c[3]) for k, c in items))
        except (OSError, MemoryError):
            return False
        return True
