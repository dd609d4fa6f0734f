"""Firmware slots in a ROMFS partition (lib/fwslot/rom.py; tests/unit/test_fwrom.py): a
board's ROMFS image written into a half through the partition's block device (a
bytearray stands for the flash), its SHA-256 read back from the flash, its manifest
found, the half chosen by lib/fwslot's state (littlefs), mounted with vfs.VfsRom and the
firmware imported from it; an image larger than a half refused; a half whose image was
damaged after it was installed taken back at the boot.

    micropython tests/mp/fwrom.py FLASH.img IMAGE.romfs HALF_KIB"""
import sys
import json
from binascii import hexlify
from hashlib import sha256
from out import report
from boards.sim.flash import FlashDevice
import fwslot
from fwslot import rom as fwrom

_ROOT = "/flash"


class Segment:
    """The partition as rp2.Flash shows it: writeblocks(block, buf) erases then programs."""

    def __init__(self, mem):
        self.mem = mem
        self.writes = 0

    def writeblocks(self, block, buf):
        self.mem[block * 4096:block * 4096 + len(buf)] = buf
        self.writes += 1


def main():
    img_path, half_kib = sys.argv[2], int(sys.argv[3])
    FlashDevice(sys.argv[1], 256).mount(_ROOT)
    with open(img_path, "rb") as f:
        img = f.read()
    mem = bytearray(b"\xff" * (2 * half_kib * 1024))
    seg = Segment(mem)
    r = fwrom.Rom(seg, memoryview(mem))
    out = {"half": r.half, "empty": [r.size("a"), r.manifest("b")]}
    w = r.writer("b")
    for i in range(0, len(img), 1000):      # the pieces of a download
        w.write(img[i:i + 1000])
    w.close()
    out["writes"] = seg.writes
    out["size"] = r.size("b")
    out["digest_ok"] = r.digest("b") == sha256(img).digest()
    out["a_untouched"] = mem[:r.half] == b"\xff" * r.half
    m = r.manifest("b")
    out["version"] = m["version"] if m else None
    out["before"] = fwslot.choose(_ROOT, rom=r)
    fwslot.set_trial(_ROOT, "b", {"id": 1})
    out["run"] = fwslot.choose(_ROOT, rom=r)
    out["path"] = sys.path[:2]
    import firmware.version
    out["imported"] = firmware.version.VERSION
    out["from"] = getattr(firmware.version, "__file__", None)
    # every file of the manifest, read through the mounted image, is as the manifest says
    bad = 0
    for name, size, digest in m["files"]:
        with open(fwrom.MOUNT + "/" + name, "rb") as f:
            data = f.read()
        if len(data) != size or hexlify(sha256(data).digest()).decode() != digest:
            bad += 1
    out["bad_files"] = bad
    out["commit"] = fwslot.commit(_ROOT)
    out["state"] = fwslot.state(_ROOT)
    # too large for a half: refused, not written past it
    w = r.writer("a")
    try:
        w.write(b"\0" * (r.half + 1))
        w.close()
        out["too_large"] = "written"
    except OSError as e:
        out["too_large"] = e.args[0]
    out["b_intact"] = r.digest("b") == sha256(img).digest()
    # the active half damaged (its header): not a firmware any more, the boot goes to base
    mem[r.half] = 0
    out["damaged"] = fwslot.choose(_ROOT, rom=r)
    out["after"] = fwslot.state(_ROOT)["active"]
    report(out)


main()
