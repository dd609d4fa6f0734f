"""Append-only journal on flash for messages that must not be lost.

Each entry is a 12-byte header (magic, kind, payload length, id, CRC-32 of kind, id and
payload) followed by its JSON payload, appended with one write and committed by closing
the file (littlefs commits a file's new size atomically on close). Kinds: a record, a
droppable record, an ack (the id is delivered), an update (new content for a pending
id) and a base (the next id, written first by a compaction so ids keep increasing
across reboots). Opening scans the file once, keeping only an index (id, offset, length,
droppable) in RAM; a torn or garbage tail fails its CRC, is skipped, reported and cut
off by a compaction. A compaction copies the pending records into path.tmp and renames
it over the journal (atomic in littlefs)."""
from micropython import const
import binascii
import json
import os
import struct

_MAGIC = const(0xA5)
_REC = const(1)
_DROP = const(2)
_ACK = const(3)
_UPD = const(4)
_BASE = const(5)
_HDR = const(12)
_MAX_REC = const(4096)


class Full(Exception):
    pass


def _entry(kind, rid, payload):
    crc = binascii.crc32(payload, binascii.crc32(struct.pack(">BI", kind, rid)))
    return struct.pack(">BBHII", _MAGIC, kind, len(payload), rid, crc) + payload


class Journal:
    def __init__(self, path, max_bytes=32768, max_records=400):
        self.path = path
        self.max_bytes = max_bytes
        self.max_records = max_records
        self._idx = []          # [id, offset, length, droppable] of pending records, in order
        self._next = 1
        self.size = 0
        self.dropped = 0
        self._dead = 0          # bytes taken by acked records, acks and superseded updates

    @property
    def count(self):
        return len(self._idx)

    # ------------------------------------------------------------ open / scan
    def open(self):
        damaged = self._scan()
        if damaged:
            self.compact()
        return {"records": len(self._idx), "damaged": damaged, "next_id": self._next}

    def _scan(self):
        self._idx = []
        self.size = 0
        self._dead = 0
        try:
            f = open(self.path, "rb")
        except OSError:
            return 0
        damaged = 0
        pos = 0
        by_id = {}
        try:
            while True:
                hdr = f.read(_HDR)
                if not hdr:
                    break
                if len(hdr) < _HDR:
                    damaged = 1
                    break
                magic, kind, n, rid, crc = struct.unpack(">BBHII", hdr)
                payload = f.read(n) if magic == _MAGIC and n <= _MAX_REC else b""
                if magic != _MAGIC or len(payload) != n or \
                        binascii.crc32(payload, binascii.crc32(struct.pack(">BI", kind, rid))) != crc:
                    damaged = 1
                    break
                end = pos + _HDR + n
                if kind == _REC or kind == _DROP:
                    ent = [rid, pos + _HDR, n, kind == _DROP]
                    self._idx.append(ent)
                    by_id[rid] = ent
                elif kind == _ACK:
                    ent = by_id.pop(rid, None)
                    if ent is not None:
                        self._idx.remove(ent)
                    self._dead += _HDR + n
                elif kind == _UPD:
                    ent = by_id.get(rid)
                    if ent is not None:
                        self._dead += ent[2]
                        ent[1], ent[2] = pos + _HDR, n
                elif kind == _BASE:
                    self._dead += _HDR + n
                if rid >= self._next:
                    self._next = rid + 1 if kind != _BASE else rid
                pos = end
        finally:
            f.close()
        self.size = pos
        return damaged

    # ------------------------------------------------------------ reading
    def _read(self, ent):
        with open(self.path, "rb") as f:
            f.seek(ent[1])
            return json.loads(f.read(ent[2]))

    def pending(self):
        for ent in list(self._idx):
            yield ent[0], self._read(ent)

    def peek(self):
        if not self._idx:
            return None
        ent = self._idx[0]
        return ent[0], self._read(ent)

    # ------------------------------------------------------------ writing
    def _write(self, data):
        with open(self.path, "ab") as f:
            f.write(data)
        self.size += len(data)

    def append(self, obj, droppable=False):
        payload = json.dumps(obj).encode()
        if len(payload) > _MAX_REC:
            raise ValueError("record too large")
        need = _HDR + len(payload)
        while self.size + need > self.max_bytes or len(self._idx) >= self.max_records:
            if self._dead:
                self.compact()
                if self.size + need <= self.max_bytes and len(self._idx) < self.max_records:
                    break
            victim = None
            for ent in self._idx:
                if ent[3]:
                    victim = ent
                    break
            if victim is None:
                raise Full()
            self.ack(victim[0])
            self.dropped += 1
        rid = self._next
        kind = _DROP if droppable else _REC
        off = self.size + _HDR
        self._write(_entry(kind, rid, payload))
        self._next = rid + 1
        self._idx.append([rid, off, len(payload), droppable])
        return rid

    def _find(self, rid):
        for ent in self._idx:
            if ent[0] == rid:
                return ent
        return None

    def ack(self, rid):
        ent = self._find(rid)
        if ent is None:
            return
        self._write(_entry(_ACK, rid, b""))
        self._idx.remove(ent)
        self._dead += ent[2] + 2 * _HDR
        if self._dead > self.max_bytes // 2:
            self.compact()

    def update(self, rid, obj):
        ent = self._find(rid)
        if ent is None:
            raise KeyError(rid)
        payload = json.dumps(obj).encode()
        off = self.size + _HDR
        self._write(_entry(_UPD, rid, payload))
        self._dead += ent[2] + _HDR
        ent[1], ent[2] = off, len(payload)

    def compact(self):
        tmp = self.path + ".tmp"
        idx = []
        with open(tmp, "wb") as out:
            base = _entry(_BASE, self._next, b"")
            out.write(base)
            pos = len(base)
            if self._idx:
                with open(self.path, "rb") as f:
                    for rid, off, n, drop in self._idx:
                        f.seek(off)
                        data = _entry(_DROP if drop else _REC, rid, f.read(n))
                        out.write(data)
                        idx.append([rid, pos + _HDR, n, drop])
                        pos += len(data)
        os.rename(tmp, self.path)
        self._idx = idx
        self.size = pos
        self._dead = len(base)
