"""Power cuts during a firmware update (tests/unit/test_fwupd.py): the flash writes of an
update (firmware.update.job: the spare slot emptied, the download appended in 1 KB
pieces as lib/httpc hands them over, the check, the install into the slot, the trial
state) on a station that already runs an update in slot a, cut at one program/erase;
then the boot that follows (lib/fwslot.choose, the slot copied and imported as the
simulator does) must run a whole firmware: the old one (slot a) or the new one.

    micropython tests/mp/fwupd_cuts.py DIR BUNDLE_OLD BUNDLE_NEW STRIDE TAIL
Cut points: every STRIDE-th write of the update, and each of its last TAIL writes."""
import sys
import os
import asyncio
from binascii import hexlify
from hashlib import sha256
from out import report, error_name
from boards.sim.flash import FlashDevice, PowerCut, umount
from boards.sim import slotcopy
import fwslot

_R = "/flash"
_BLOCKS = 512


def host_copy(src, dst):
    buf = bytearray(4096)
    with open(src, "rb") as f, open(dst, "wb") as o:
        while True:
            n = f.readinto(buf)
            if not n:
                break
            o.write(memoryview(buf)[:n])


def purge():
    for k in [k for k in sys.modules if k == "firmware" or k.startswith("firmware.")]:
        del sys.modules[k]


async def update(src, version):
    from firmware.update import job, bundle
    slot = job.prepare(_R)
    buf = bytearray(1024)
    with open(src, "rb") as f, open(job.download_path(_R), "ab") as o:
        while True:
            n = f.readinto(buf)
            if not n:
                break
            o.write(memoryview(buf)[:n])
    why = await bundle.check(job.download_path(_R), _R)
    if why is not None:
        raise ValueError(why)
    await job.finish(_R, slot, {"id": 1, "kind": "201"})
    return slot


def whole(slot):
    """The slot's files all match its manifest's SHA-256."""
    m = fwslot.manifest(_R, slot)
    d = fwslot.slot_dir(_R, slot)
    for name, size, digest in m["files"]:
        h = sha256()
        with open(d + "/" + name, "rb") as f:
            h.update(f.read())
        if hexlify(h.digest()).decode() != digest:
            return False
    return True


def boot(img):
    """What boards.sim.run does at boot -> the version that runs ("base" for none)."""
    fwslot.drop_paths(_R, slotcopy.where(img))
    run = fwslot.choose(_R, 3, slotcopy.placer(_R, img))
    if run is not None and not whole(run):
        return "damaged " + run
    purge()
    from firmware import version
    v = version.VERSION or "base"
    purge()
    fwslot.drop_paths(_R, slotcopy.where(img))
    return v


def mount(img):
    d = FlashDevice(img, _BLOCKS)
    d.mount(_R)
    return d


async def main(tmp, old, new, stride, tail):
    out = {"cuts": 0, "boots": {}, "bad": []}
    tpl = tmp + "/tpl.img"
    img = tmp + "/cut.img"
    d = mount(tpl)
    await update(old, "old")               # the station runs "old" from slot a
    fwslot.choose(_R, 3, slotcopy.placer(_R, tpl))
    fwslot.commit(_R)
    fwslot.drop_paths(_R, slotcopy.where(tpl))
    out["first"] = boot(tpl)
    umount(_R)
    d.close()
    # the writes of one update, counted
    host_copy(tpl, img)
    d = mount(img)
    ops0 = d.ops
    await update(new, "new")
    total = d.ops - ops0
    out["writes"] = total
    out["uncut"] = boot(img)
    umount(_R)
    d.close()
    points = list(range(1, total + 1, stride)) + list(range(max(1, total - tail + 1), total + 1))
    for n in sorted(set(points)):
        host_copy(tpl, img)
        d = mount(img)
        d.cut_after(n, hard=False)
        cut = False
        try:
            await update(new, "new")
        except PowerCut:
            cut = True
        umount(_R)
        d = d.reborn()
        d.power_on()
        d.mount(_R)
        try:
            v = boot(img)
        except Exception as e:      # noqa: BLE001  a boot that fails is what we look for
            v = "boot failed: " + error_name(e)
        out["cuts"] += 1 if cut else 0
        out["boots"][v] = out["boots"].get(v, 0) + 1
        if v not in ("old", "new"):
            out["bad"].append([n, v])
        umount(_R)
        d.close()
    report(out)


def run():
    tmp, old, new, stride, tail = sys.argv[1:6]
    asyncio.run(main(tmp, old, new, int(stride), int(tail)))


run()
