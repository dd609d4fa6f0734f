"""store.journal's on-flash format, RAM index and reading side (store/journal.py has
the format description and the writing side; use store.journal.Journal).

RAM: three parallel arrays (id, offset << 13 | entry length, flags), 9 bytes a record,
ids ascending; acked slots stay until _squeeze() drops them. One payload at a time is
read through a 256-byte buffer."""
from micropython import const
import array
import json
import os
import struct

try:
    from binascii import crc32 as _crc
except ImportError:         # builds without MICROPY_PY_BINASCII_CRC32 (esp32/rp2 have it)
    _crc = None

_MAGIC = const(0xA5)
_REC = const(1)
_ACK = const(2)
_BASE = const(3)
_DROP = const(0x80)         # kind bit, and flag bit in the index
_ACKED = const(2)           # flag bit in the index
_HDR = const(12)
_MAX_REC = const(4096)
_CHUNK = const(256)
_LBITS = const(13)          # index loc = offset << 13 | entry length (entry < 8192)
_LMASK = const(0x1FFF)
_MAX_FILE = const(0x80000)  # 512 KiB: offsets fit 19 bits
_SLOTS0 = const(16)
_ENOENT = const(2)
_EIO = const(5)


class Full(Exception):
    """The journal is full of records that may not be dropped."""


def crc32_sw(data, crc=0):
    """CRC-32 (IEEE, as binascii.crc32), bitwise without a table: the fallback."""
    crc ^= 0xFFFFFFFF
    for b in data:
        crc ^= b
        for _ in range(8):
            crc = (crc >> 1) ^ (0xEDB88320 & -(crc & 1))
    return crc ^ 0xFFFFFFFF


def _arrays(n):
    return array.array("I", bytes(4 * n)), array.array("I", bytes(4 * n)), bytearray(n)


class JournalBase:
    def _sum(self, data, crc=None):
        """CRC of the header's first 8 bytes + data."""
        return self._crc(data, self._crc(memoryview(self._hdr)[:8]) if crc is None else crc)

    def _seal(self, kind, rid, data):
        struct.pack_into(">BBHI", self._hdr, 0, _MAGIC, kind, len(data), rid)
        struct.pack_into(">I", self._hdr, 8, self._sum(data))
        return self._hdr

    def _reset(self):
        self._id, self._loc, self._flg = _arrays(_SLOTS0)
        self._n = 0                 # slots used
        self._h = 0                 # first pending slot (slots before it are acked)
        self.count = 0
        self.size = 0
        self._live = 0              # bytes of the pending records' current entries
        self._next = 1
        self._tail = 0              # damaged bytes after self.size, not yet cut off

    # ------------------------------------------------------------ index
    def _lower(self, rid):
        """The first slot whose id >= rid (ids ascend in the file and in the index)."""
        ids, lo, hi = self._id, self._h, self._n
        while lo < hi:
            mid = (lo + hi) >> 1
            if ids[mid] < rid:
                lo = mid + 1
            else:
                hi = mid
        return lo

    def _find(self, rid):
        k = self._lower(rid)
        if k < self._n and self._id[k] == rid and not self._flg[k] & _ACKED:
            return k
        return -1

    def _add(self, rid, loc, flag):
        if self._n == len(self._id):
            self._squeeze()
        k = self._n
        self._id[k], self._loc[k], self._flg[k] = rid, loc, flag
        self._n = k + 1
        self.count += 1
        self._live += loc & _LMASK

    def _squeeze(self):
        """Drops acked slots from the index (RAM only); grows or shrinks it to fit."""
        ids, loc, flg = self._id, self._loc, self._flg
        w = 0
        for k in range(self._h, self._n):
            if not flg[k] & _ACKED:
                ids[w], loc[w], flg[w] = ids[k], loc[k], flg[k]
                w += 1
        self._n, self._h = w, 0
        cap = len(ids)
        if w > cap * 3 // 4 or (cap > _SLOTS0 and 8 * w < cap):
            self._id, self._loc, self._flg = _arrays(max(_SLOTS0, 2 * w))
            memoryview(self._id)[:w] = memoryview(ids)[:w]
            memoryview(self._loc)[:w] = memoryview(loc)[:w]
            self._flg[:w] = memoryview(flg)[:w]

    def _mark(self, k):
        self._flg[k] |= _ACKED
        self.count -= 1
        self._live -= self._loc[k] & _LMASK
        while self._h < self._n and self._flg[self._h] & _ACKED:
            self._h += 1

    # ------------------------------------------------------------ scan
    def _scan(self):
        self._stale = True
        self._reset()
        try:
            end = os.stat(self.path)[6]
        except OSError as e:
            if e.errno != _ENOENT:
                raise
            end = 0
        pos = 0
        if end:
            with open(self.path, "rb") as f:
                while pos < end:
                    n = self._check(f)
                    if n < 0 or pos + _HDR + n > _MAX_FILE:
                        break
                    self._apply(pos, n)
                    pos += _HDR + n
        self.size = pos
        self._tail = end - pos
        self._stale = False

    def _check(self, f):
        """Reads one entry at f's position through the small buffer; its payload length
        when the header and CRC are right (header left in self._hdr), else -1."""
        hdr = self._hdr
        if f.readinto(hdr) != _HDR:
            return -1
        magic, kind, n = struct.unpack_from(">BBH", hdr)
        t = kind & ~_DROP
        if magic != _MAGIC or n > _MAX_REC or not (t == _REC or (t == kind and (
                (t == _ACK or t == _BASE) and n == 0))):
            return -1
        crc, buf, left = self._sum(b""), memoryview(self._buf), n
        while left:
            got = f.readinto(buf[:min(left, _CHUNK)])
            if not got:
                return -1
            crc, left = self._crc(buf[:got], crc), left - got
        return n if crc == struct.unpack_from(">I", hdr, 8)[0] else -1

    def _apply(self, pos, n):
        kind, rid = self._hdr[1], struct.unpack_from(">I", self._hdr, 4)[0]
        t = kind & ~_DROP
        if t == _REC:
            k = self._find(rid)
            loc = pos << _LBITS | (_HDR + n)
            if k >= 0:                                      # an update
                self._live += (loc & _LMASK) - (self._loc[k] & _LMASK)
                self._loc[k] = loc
            elif not self._n or rid > self._id[self._n - 1]:
                self._add(rid, loc, kind & _DROP)
            if rid >= self._next:
                self._next = rid + 1
        elif t == _ACK:
            k = self._find(rid)
            if k >= 0:
                self._mark(k)
        elif rid > self._next:                              # base
            self._next = rid

    # ------------------------------------------------------------ reading
    def _close_reader(self):
        if self._rf is not None:
            f, self._rf = self._rf, None
            f.close()

    def _load(self, k):
        rid, loc = self._id[k], self._loc[k]
        if self._rf is None:
            self._rf = open(self.path, "rb")
        f = self._rf
        f.seek(loc >> _LBITS)
        hdr = self._hdr
        if f.readinto(hdr) != _HDR:
            raise OSError(_EIO)
        data = f.read((loc & _LMASK) - _HDR)
        if struct.unpack_from(">II", hdr, 4) != (rid, self._sum(data)):
            raise OSError(_EIO)                 # changed on flash since open()
        return rid, json.loads(self._dec(data) if self._dec else data)

    def pending(self):
        """Pending records in append order; acks, appends and compactions between two
        steps are fine (the walk goes by id)."""
        self._ensure(False)
        last = 0
        while True:
            if self._stale:
                self._scan()
            k = self._lower(last + 1)
            while k < self._n and self._flg[k] & _ACKED:
                k += 1
            if k >= self._n:
                self._close_reader()
                return
            rec = self._load(k)
            last = rec[0]
            yield rec

    def peek(self):
        self._ensure(False)
        if self._h >= self._n:
            return None
        try:
            return self._load(self._h)
        finally:
            self._close_reader()        # do not hold a file handle between messages
