"""The Local Authorization List of firmware.auth.store (OCPP 1.6 3.5.2, 5.15, 6.41; 2.0.1
D01/D02): entries packed small in RAM, one file on flash holding the version with them.

- Full replaces the list; each entry needs an info (1.6 7.1: idTagInfo required for
  Full; 2.0.1 D01). Differential: a version not above the list's -> "VersionMismatch"
  (1.6 7.47, 2.0.1 D01.FR.19); an entry without info removes its id, one with info
  adds or replaces it (1.6 7.1, 2.0.1 D01); an empty one only sets the version
  (1.6 6.41, 2.0.1 D01.FR.05).
- Ids must be unique within one update (1.6 6.41, 2.0.1 D01.FR.06): a duplicate (for
  1.6 equal ignoring case) makes it "Failed", as does going over the bound
  (LocalAuthListMaxLength), a bad entry, no RAM or a failed flash write; the old list
  is then kept whole.
- An empty list has version 0 (1.6 5.10, 2.0.1 D02); a non-empty one needs version >= 1.
RAM: an entry is its key string and a small int (status, letter case), or a short tuple
when it has an expiry or a parent (parents shared)."""
from micropython import const
import gc
from firmware.auth import records

_GC_EVERY = const(32)        # collect while loading: keeps the entries packed, not scattered
_CASE_LIM = const(1 << 26)   # case masks below this pack with the status in one small int
_EPOCH = const(1500000000)   # expiries are kept as offsets: small ints on 32-bit until 2051
_FILE = const("/authlist")


class ListMixin:
    """The list half of firmware.auth.AuthStore: self._list (key -> packed entry),
    self.list_version, self.list_max, self.ci, self.dir; self._cache_drop from
    firmware.auth.cache.CacheMixin."""

    def _list_load(self):
        """Reads the file; False (and an empty list) when it was unusable."""
        self._list, self.list_version = {}, 0
        lst, pars = [None], {}
        ci = self.ci

        def put(r):
            if isinstance(r, int):
                lst[0] = records.sized(r)
                return
            k = records.key(r.token, ci)
            d = lst[0]
            d[k] = _pack(r.token, k, r.status, r.expiry, pars.setdefault(r.parent, r.parent))
            if len(d) % _GC_EVERY == 0:
                gc.collect()

        ver, ok = records.read(self.dir + _FILE, "L", self.list_max, put)
        lst = lst[0]
        if ok and lst and ver < 1:
            ok = False               # entries under version 0: not a state we write
        if ok and lst:
            self._list, self.list_version = lst, ver
        return ok

    def _list_get(self, k):
        """The Record of a key (token None), or None."""
        v = self._list.get(k)
        return None if v is None else _unpack(k, v, False)

    def send_local_list(self, version, update_type, entries):
        """SendLocalList: entries [(id, info or None), ...] -> "Accepted" (durable) |
        "Failed" | "VersionMismatch". When Accepted, the cache forgets the ids named."""
        full = update_type == "Full"
        if not records.is_int(version) or version < 0 or \
                not (full or update_type == "Differential"):
            return "Failed"
        if not full and version <= self.list_version:
            return "VersionMismatch"
        lim = self.list_max
        if full and len(entries) > lim:
            return "Failed"          # ids are unique: the list would be too long
        seen = set()
        try:
            new = self._merged(full, entries, seen)
            if new is None or len(new) > lim or (new and version < 1):
                return "Failed"
            ver = version if new else 0
            records.write(self.dir + _FILE, "L", ver, len(new), lambda: _rows(new))
        except (OSError, MemoryError):
            return "Failed"
        self._list, self.list_version = new, ver
        self._cache_drop(seen)
        return "Accepted"

    def _merged(self, full, entries, seen):
        """The list after the update (the current one untouched), or None for a bad
        entry, a duplicate id or an entry without info in a Full update. Adds the keys
        named to seen."""
        new = records.sized(min(self.list_max,
                                len(entries) + (0 if full else len(self._list))))
        if not full:
            new.update(self._list)               # references only
        pars = {}
        for ent in entries:
            tok, info = ent
            if not records.tok_ok(tok):
                return None
            k = records.key(tok, self.ci)
            if k in seen:
                return None          # a duplicate id: which entry was meant is unknown
            seen.add(k)
            if info is None:
                if full:
                    return None
                new.pop(k, None)
                continue
            r = records.info_row(tok, info)
            if r is None:
                return None
            new[k] = _pack(tok, k, r.status, r.expiry, pars.setdefault(r.parent, r.parent))
        return new


def _rows(d):
    for k, v in d.items():
        yield _unpack(k, v, True)


def _pack(tok, key, s, exp, par):
    """A list entry in RAM: the small int status | case << 4 when there is no expiry or
    parent, else (case, status, expiry - _EPOCH or None, parent). case is 0 (the id is
    its key), a mask of the letters to lower-case in the key, or the id as given."""
    case = _case(tok, key)
    if exp is None and par is None and isinstance(case, int) and case < _CASE_LIM:
        return s | case << 4
    return (case, s, None if exp is None else exp - _EPOCH, par)


def _unpack(key, v, want_id):
    """-> a Record (token: the id as given, or None unless want_id)."""
    if isinstance(v, int):
        return records.Record(_id(key, v >> 4) if want_id else None, v & 15, None, None)
    case, s, exp, par = v
    return records.Record(_id(key, case) if want_id else None, s,
                          None if exp is None else exp + _EPOCH, par)


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
