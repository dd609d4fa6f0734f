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
import json
import os
import store
from store.jbase import JournalBase, Full, crc32_sw, _crc  # noqa: F401 (Full, crc32_sw: API)

# the format's constants again: a const() name with a leading underscore is private to
# its module in MicroPython (inlined, not exported), so store.jbase's are not visible here
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
_EIO = const(5)


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
