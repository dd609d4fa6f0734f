"""Append-only journal on flash for messages that must never be lost (transactions).

    j = Journal(path, max_bytes=32768, max_records=400)
    j.open() -> {"records", "damaged" (bytes skipped), "next_id", "bytes", "repaired"}
    rid = j.append(obj, droppable=False)   # durable on return; ids grow across reboots
    j.pending() (generator, append order) ; j.peek() -> (rid, obj) | None
    j.ack(rid) -> bool (False: not pending) ; j.update(rid, obj) ; j.compact()
    j.count, j.size, j.dropped

Entry on flash: magic 0xA5, kind, payload length (u16), id (u32), CRC-32 of those 8
bytes + payload (u32), big-endian, then the JSON payload (<= 4 KiB, else ValueError).
Kinds: 1 record content (bit 7: droppable; for an id already pending it is an update:
new content, same place), 2 ack, 3 base (the next id, first in a compacted file, so
ids keep growing when the journal empties). Each operation appends one entry and
commits it by closing the file (littlefs commits a file's size atomically; the CRC
catches the rest). Acks are appended entries, not an ack-pointer file: 12 bytes and
one commit instead of a new file + rename each time, and they need not come in order
(the full policy drops from the middle). compact() copies the pending entries into
path.tmp and renames it over path (atomic); automatic past max_bytes / 2 dead bytes.

open() replays the file through a 256-byte buffer; a torn or garbage tail (anything
from the first bad entry) is skipped, reported and cut off by a compaction; if that
fails, reads work and the next write retries: never an exception, never a boot loop.

A write that fails (OSError) calls store.fault(): the board remounts the file system
(littlefs's RAM state may no longer match the flash after a failed program), a handle
whose close failed is kept open for good, and the file is rescanned.
RAM: an index of 9 bytes a record (id, offset|length, flags), one payload at a time.

Full: append() drops the oldest pending droppable records (.dropped) until the new one
fits after a compaction, never others; if that is not enough it raises Full and drops
nothing. update() raises Full when the new content cannot fit. A write that fails
(OSError) rescans the file so RAM matches flash; append/ack then return normally if
their entry landed after all, so a retry cannot duplicate. max_bytes <= 512 KiB."""
from micropython import const
import array
import json
import os
import struct
import store

# ---- the on-flash format, RAM index and reading side (JournalBase) --------------------
# RAM: three parallel arrays (id, offset << 13 | entry length, flags), 9 bytes a record,
# ids ascending; acked slots stay until _squeeze() drops them. One payload at a time is
# read through a 256-byte buffer.

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


# ---- the writing side ----------------------------------------------------------------

class Journal(JournalBase):
    def __init__(self, path, max_bytes=32768, max_records=400, encode=None, decode=None):
        """encode/decode: optional bytes -> bytes transforms of the JSON text on flash
        (a codec that shrinks records); the size bound applies to the encoded bytes."""
        self._enc = encode
        self._dec = decode
        if not (2 * _HDR <= max_bytes <= _MAX_FILE) or max_records < 1:
            raise ValueError("journal bounds")
        self.path = path
        self.max_bytes = max_bytes
        self.max_records = max_records
        self.dropped = 0
        self._crc = _crc or crc32_sw
        self._hdr = bytearray(_HDR)
        self._buf = bytearray(_CHUNK)
        self._rf = None             # shared read handle, closed before every write
        self._reset()
        self._stale = True          # RAM does not reflect the file: scan before use

    def open(self):
        """Replays the file (a missing file is an empty journal; the first append
        creates it), removes a stale path.tmp, repairs a damaged tail."""
        self._close_reader()
        try:
            os.remove(self.path + ".tmp")   # an unfinished compaction: the journal is intact
        except OSError:
            pass
        self._scan()
        damaged, repaired = self._tail, True
        if damaged:
            try:
                self.compact()
            except OSError:
                repaired = False            # reads work; the next write retries
        return {"records": self.count, "damaged": damaged, "next_id": self._next,
                "bytes": self.size, "repaired": repaired}

    def _ensure(self, write):
        if self._stale:
            self._scan()
        if write and self._tail:
            self.compact()

    # ------------------------------------------------------------ writing
    def _payload(self, obj):
        data = json.dumps(obj).encode()
        json.loads(data)        # MicroPython writes nan or the repr of unknown objects
        if self._enc:
            data = self._enc(data)
        if len(data) > _MAX_REC:
            raise ValueError("record > 4 KiB")
        return data

    def _put(self, kind, rid, data):
        """Appends one entry, committed by the close; returns its offset. On OSError
        the file is rescanned so RAM matches flash, then the error propagates."""
        self._close_reader()
        hdr = self._seal(kind, rid, data)
        off = self.size
        try:
            f = open(self.path, "ab")
            try:
                f.write(hdr)
                f.write(data)       # buffered with the header: one commit on close
            finally:
                store.close(f)
        except OSError:
            self._fault()
            raise
        self.size = off + _HDR + len(data)
        return off

    def _fault(self):
        """A write failed: remount (store.fault: littlefs's RAM state may no longer
        match the flash), then rescan so RAM matches what the flash really holds."""
        self._close_reader()
        store.fault()
        self._resync()

    def _resync(self):
        self._close_reader()
        try:
            self._scan()
        except OSError:
            self._stale = True

    def append(self, obj, droppable=False):
        self._ensure(True)
        data = self._payload(obj)
        need = _HDR + len(data)
        if self.size + need > self.max_bytes or self.count >= self.max_records:
            self._make_room(need)
        rid = self._next
        kind = _REC | _DROP if droppable else _REC
        try:
            off = self._put(kind, rid, data)
        except OSError:
            if not self._stale and self._find(rid) >= 0:
                return rid                      # the entry is on flash after all
            raise
        self._next = rid + 1
        self._add(rid, off << _LBITS | need, kind & _DROP)
        return rid

    def _make_room(self, need):
        over_b = self._live + _HDR + need - self.max_bytes     # after a compaction
        over_n = self.count + 1 - self.max_records
        last = -1
        k = self._h
        while (over_b > 0 or over_n > 0) and k < self._n:
            if self._flg[k] & (_DROP | _ACKED) == _DROP:
                over_b -= self._loc[k] & _LMASK
                over_n -= 1
                last = k
            k += 1
        if over_b > 0 or over_n > 0:
            raise Full()
        m = 0
        for k in range(self._h, last + 1):
            if self._flg[k] & (_DROP | _ACKED) == _DROP:
                self._mark(k)
                m += 1
        self.compact()          # makes the drops durable; on OSError RAM is rescanned
        self.dropped += m

    def ack(self, rid):
        """The record was delivered; durable on return. False when rid is not pending."""
        self._ensure(True)
        k = self._find(rid)
        if k < 0:
            return False
        if self.size + _HDR > self.max_bytes:
            self._mark(k)
            self.compact()
            return True
        try:
            self._put(_ACK, rid, b"")
        except OSError:
            if not self._stale and self._find(rid) < 0:
                return True
            raise
        self._mark(k)
        self._auto_compact()
        return True

    def update(self, rid, obj):
        """Replaces a pending record's content (durable on return); KeyError when rid
        is not pending, Full when the new content does not fit."""
        self._ensure(True)
        if self._find(rid) < 0:
            raise KeyError(rid)
        data = self._payload(obj)
        need = _HDR + len(data)
        if self.size + need > self.max_bytes:
            self.compact()
            if self.size + need > self.max_bytes:
                raise Full()
        k = self._find(rid)
        off = self._put(_REC | self._flg[k] & _DROP, rid, data)
        self._live += need - (self._loc[k] & _LMASK)
        self._loc[k] = off << _LBITS | need
        self._auto_compact()

    def _auto_compact(self):
        if self.size - self._live > self.max_bytes // 2:
            try:
                self.compact()
            except OSError:
                pass            # the operation itself is durable; the next one retries

    def compact(self):
        """Rewrites the pending records (and the next id) atomically: path.tmp, then
        a rename over path. The index is rebuilt in place while copying."""
        self._close_reader()
        if self._stale:
            self._scan()
        tmp = self.path + ".tmp"
        ids, loc, flg, buf = self._id, self._loc, self._flg, memoryview(self._buf)
        hdr = self._seal(_BASE, self._next, b"")
        pos, w = _HDR, 0
        try:
            out = open(tmp, "wb")
            try:
                out.write(hdr)
                if self.count:
                    with open(self.path, "rb") as src:
                        for k in range(self._h, self._n):
                            if flg[k] & _ACKED:
                                continue
                            src.seek(loc[k] >> _LBITS)
                            n = left = loc[k] & _LMASK
                            while left:
                                got = src.readinto(buf[:min(left, _CHUNK)])
                                if not got:
                                    raise OSError(_EIO)
                                out.write(buf[:got])
                                left -= got
                            ids[w], loc[w], flg[w] = ids[k], pos << _LBITS | n, flg[k]
                            pos += n
                            w += 1
            finally:
                store.close(out)
            os.rename(tmp, self.path)
        except OSError:
            self._close_reader()
            store.fault()
            try:
                os.remove(tmp)
            except OSError:
                pass
            self._resync()
            raise
        self._n, self._h = w, 0
        self.size, self._live, self._tail = pos, pos - _HDR, 0
        self._squeeze()
