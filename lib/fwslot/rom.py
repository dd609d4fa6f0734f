"""Firmware slots in a ROMFS partition: code executed in place from flash.

    from fwslot import rom
    r = rom.board()            # the image's ROMFS partition (vfs.rom_ioctl), or None
    w = r.writer("b")          # a file-like sink: write(buf) ..., then close()
    r.digest("b")              # SHA-256 of the image in half b, read from flash
    r.manifest("b")            # its manifest.json (a dict), or None: not a firmware
    r.mount("b")               # vfs.VfsRom over half b at MOUNT -> its sys.path entries

The partition (tools/build/image.sh: MICROPY_HW_ROMFS_BYTES) is cut in two halves,
"a" at its start and "b" in the middle, each holding one firmware as a ROMFS image
(tools/fwupd/romfs.py: the .mpy files of firmware/ and lib/, and manifest.json). Which
half runs is lib/fwslot's state on the file system, as for slots on littlefs: a half
counts only when that state names it, so a half cut while written is never run.

`seg` is the partition's block device (rp2.Flash: writeblocks(block, buf) erases then
programs whole 4 KiB blocks) and `mem` its memory (memoryview(seg): the XIP-mapped
flash); both are passed in by tests (a bytearray stands for the flash).
"""
from micropython import const
import sys

_BLOCK = const(4096)
_FS = const(0x14A6B1)       # the ROMFS record's kind ("RM1" encoded)
_DATA = const(2)
_FILE = const(5)
_PIECE = const(1024)
_MAX_MANIFEST = const(32768)
MOUNT = "/fwrom"


def _uint(b, i, end):
    """varuint at b[i] -> (value, next index); raises ValueError past end."""
    n = 0
    while True:
        if i >= end:
            raise ValueError("romfs")
        c = b[i]
        i += 1
        n = (n << 7) | (c & 0x7F)
        if not c & 0x80:
            return n, i


def board():
    """The image's ROMFS partition, or None (a port or image without one). The runtime
    mounted its start at /rom when it found a ROMFS there: that mount goes, the slots
    are mounted by Rom.mount when lib/fwslot chooses one."""
    try:
        import vfs
        seg = vfs.rom_ioctl(2, 0)
    except (ImportError, AttributeError, OSError):
        return None
    if isinstance(seg, int):            # -errno: no segment
        return None
    try:
        vfs.umount("/rom")
    except OSError:
        pass
    for p in ("/rom", "/rom/lib"):
        while p in sys.path:
            sys.path.remove(p)
    return Rom(seg)


class Writer:
    """Writes a stream into one half, in whole blocks (one block of RAM); close()
    writes the last, partial block. Refuses more than the half holds."""

    def __init__(self, rom, slot):
        self.rom = rom
        self.block = rom.first_block(slot)
        self.end = self.block + rom.half // _BLOCK
        self.buf = bytearray(_BLOCK)
        self.n = 0          # bytes in buf
        self.size = 0       # bytes written so far

    def write(self, data):
        mv = memoryview(data)
        k = len(mv)
        i = 0
        while i < k:
            t = min(k - i, _BLOCK - self.n)
            self.buf[self.n:self.n + t] = mv[i:i + t]
            self.n += t
            i += t
            if self.n == _BLOCK:
                self._flush()
        self.size += k
        return k

    def _flush(self):
        if self.block >= self.end:
            raise OSError(28)           # ENOSPC: larger than a half
        for j in range(self.n, _BLOCK):
            self.buf[j] = 0xFF
        self.rom.seg.writeblocks(self.block, self.buf)
        self.block += 1
        self.n = 0

    def close(self):
        if self.n:
            self._flush()


class Rom:
    def __init__(self, seg, mem=None):
        self.seg = seg
        self.mem = memoryview(seg) if mem is None else mem
        self.half = len(self.mem) // 2 // _BLOCK * _BLOCK

    def first_block(self, slot):
        return 0 if slot == "a" else self.half // _BLOCK

    def area(self, slot):
        off = self.first_block(slot) * _BLOCK
        return self.mem[off:off + self.half]

    def writer(self, slot):
        return Writer(self, slot)

    def size(self, slot):
        """Length of the ROMFS image at the start of the half, or None (none there)."""
        a = self.area(slot)
        try:
            kind, i = _uint(a, 0, 8)
            n, i = _uint(a, i, 8)
        except ValueError:
            return None
        if kind != _FS or i + n > self.half:
            return None
        return i + n

    def digest(self, slot, size=None):
        """SHA-256 of the half's first size bytes (the image's by default), read from
        the flash itself in pieces; None when there is no image."""
        from hashlib import sha256
        size = self.size(slot) if size is None else size
        if size is None or size > self.half:
            return None
        a = self.area(slot)
        h = sha256()
        for i in range(0, size, _PIECE):
            h.update(a[i:min(size, i + _PIECE)])
        return h.digest()

    def file(self, slot, name):
        """A top-level file of the half's image (a memoryview of the flash), or None."""
        size = self.size(slot)
        if size is None:
            return None
        a = self.area(slot)
        want = name.encode()
        try:
            _, i = _uint(a, 0, size)
            _, i = _uint(a, i, size)
            while i < size:
                kind, i = _uint(a, i, size)
                n, i = _uint(a, i, size)
                nxt = i + n
                if kind == _FILE:
                    ln, j = _uint(a, i, nxt)
                    if bytes(a[j:j + ln]) == want:
                        j += ln
                        while j < nxt:
                            k, j = _uint(a, j, nxt)
                            m, j = _uint(a, j, nxt)
                            if k == _DATA:
                                return a[j:j + m] if j + m <= nxt else None
                            j += m
                        return None
                i = nxt
        except ValueError:
            pass
        return None

    def manifest(self, slot):
        """The half's manifest (a dict with a version) when it holds a firmware image."""
        import json
        f = self.file(slot, "manifest.json")
        if f is None or len(f) > _MAX_MANIFEST:
            return None
        try:
            m = json.loads(bytes(f))
        except ValueError:
            return None
        return m if isinstance(m, dict) and isinstance(m.get("version"), str) else None

    def mount(self, slot, point=MOUNT):
        """The half's image mounted read-only at point -> its sys.path entries (lib
        folder, root), as lib/fwslot's paths()."""
        import vfs
        try:
            vfs.umount(point)
        except OSError:
            pass
        vfs.mount(vfs.VfsRom(self.area(slot)), point)
        return (point + "/lib", point)
