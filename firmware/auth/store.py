"""Authorization data on flash for both OCPP versions: the Local Authorization List
(1.6 5.15/5.10, 2.0.1 D01/D02; firmware.auth.locallist) and the Authorization Cache (1.6
3.5.1, 2.0.1 C10-C12; firmware.auth.cache), their records and files in firmware.auth.records.

    a = AuthStore(dir_path, list_max=256, cache_max=64, case_insensitive=True)
    a.load() -> bool       # False (and a.damaged, logged) when a file was unusable
    a.list_version, a.list_count, a.cache_count, a.damaged
    a.send_local_list(version, "Full"|"Differential", [(id_token, info or None), ...])
        -> "Accepted" | "Failed" | "VersionMismatch"   (durable when Accepted)
    a.lookup(id_token, now=None) -> (info, "list" | "cache") or (None, None)
    a.cache_put(id_token, info, now) -> bool   # True when stored and persisted
    a.clear_cache() -> bool                    # the cache only; False on a failed write
info: {"status": one of records.STATUSES, "expiry": unix s or None, "parent": str or None}.

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
from firmware.auth import records
from firmware.auth.cache import CacheMixin
from firmware.auth.locallist import ListMixin

_EXPIRED = const(2)          # index in records.STATUSES


class AuthStore(ListMixin, CacheMixin):
    def __init__(self, dir_path, list_max=256, cache_max=64, case_insensitive=True):
        self.dir = dir_path
        self.list_max = list_max
        self.cache_max = cache_max
        self.ci = case_insensitive
        self.damaged = False
        self._list = {}          # key -> int | tuple: see locallist._pack()
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
        k = records.key(id_token, self.ci)
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
        if not records.tok_ok(id_token) or not isinstance(info, dict):
            return False
        k = records.key(id_token, self.ci)
        if k in self._list:
            return False
        r = records.info_row(id_token, info)
        return r is not None and self._cache_store(k, r, now)


def _out(r, now):
    """A Record -> the version-neutral info {"status", "expiry", "parent"}."""
    s, exp = r.status, r.expiry
    if exp is not None and now is not None and exp < now:
        s = _EXPIRED
    return {"status": records.STATUSES[s], "expiry": exp, "parent": r.parent}
