"""Firmware bundles on the simulated flash (tests/unit/test_fwupd.py): a bundle checked
(whole, tampered, signed, wrongly signed, signed by an untrusted key), installed into a
slot, booted from it (firmware.version from the slot), committed, and a trial that never
commits taken back after its boots.

    micropython tests/mp/fwupd.py FLASH.img SPEC.json
SPEC: {"bundle": path, "sig": b64, "cert": pem, "root": pem, "bad_sig": b64,
       "other_cert": pem}"""
import sys
import os
import json
import asyncio
import time
from out import report
from boards.sim.flash import FlashDevice
from boards.sim import slotcopy
import fwslot

_ROOT = "/flash"


def copy(src, dst, flip=None):
    with open(src, "rb") as f, open(dst, "wb") as o:
        n = 0
        while True:
            b = f.read(1024)
            if not b:
                break
            if flip is not None and n <= flip < n + len(b):
                b = bytearray(b)
                b[flip - n] ^= 0x01
            o.write(b)
            n += len(b)


def purge():
    for k in [k for k in sys.modules if k == "firmware" or k.startswith("firmware.")]:
        del sys.modules[k]


async def main(spec, img):
    from firmware.update import bundle
    from firmware.security import certs
    out = {}
    now = time.time()
    with certs.scope():
        out["root"] = certs.open_store(_ROOT).install(certs.MF, spec["root"], now, 24)[0]
    dl = _ROOT + "/fw/dl.bin"
    fwslot.mkdirs(_ROOT + "/fw")
    copy(spec["bundle"], dl)
    out["plain"] = await bundle.check(dl, _ROOT)
    out["signed"] = await bundle.check(dl, _ROOT, now, spec["sig"], spec["cert"])
    out["bad_sig"] = await bundle.check(dl, _ROOT, now, spec["bad_sig"], spec["cert"])
    out["untrusted"] = await bundle.check(dl, _ROOT, now, spec["sig"], spec["other_cert"])
    out["junk_cert"] = await bundle.check(dl, _ROOT, now, spec["sig"], "junk")
    size = os.stat(dl)[6]
    copy(spec["bundle"], _ROOT + "/fw/bad.bin", size - 10)
    out["tampered"] = await bundle.check(_ROOT + "/fw/bad.bin", _ROOT)
    out["tampered_signed"] = await bundle.check(_ROOT + "/fw/bad.bin", _ROOT, now, spec["sig"],
                                                spec["cert"])
    copy(spec["bundle"], _ROOT + "/fw/bad.bin")
    with open(_ROOT + "/fw/bad.bin", "ab") as f:
        f.write(b"x")
    out["longer"] = await bundle.check(_ROOT + "/fw/bad.bin", _ROOT)
    os.remove(_ROOT + "/fw/bad.bin")
    # install and boot
    out["before"] = fwslot.choose(_ROOT, None, slotcopy.where(img))
    slot = fwslot.spare(_ROOT)
    m = await bundle.install(dl, _ROOT, slot)
    fwslot.set_trial(_ROOT, slot, {"id": 7})
    v = os.statvfs(_ROOT)
    out["blocks_one_slot"] = v[2] - v[3]
    fwslot.drop_paths(_ROOT, slotcopy.where(img))
    out["run"] = fwslot.choose(_ROOT, None, slotcopy.placer(_ROOT, img))
    purge()
    from firmware import version
    out["version"] = version.VERSION
    out["from"] = version.__file__
    out["manifest"] = m["version"]
    out["commit"] = fwslot.commit(_ROOT)
    st = fwslot.state(_ROOT)
    out["active"] = st["active"]
    out["result"] = st["result"]
    # a second update into the other slot that never commits: taken back after 3 boots
    slot2 = fwslot.spare(_ROOT)
    await bundle.install(dl, _ROOT, slot2)
    fwslot.set_trial(_ROOT, slot2, {"id": 8})
    v = os.statvfs(_ROOT)
    out["blocks_two_slots"] = v[2] - v[3]
    runs = []
    for _ in range(4):
        fwslot.drop_paths(_ROOT, slotcopy.where(img))
        runs.append(fwslot.choose(_ROOT, None, slotcopy.where(img)))
    out["runs"] = runs
    out["after"] = fwslot.state(_ROOT)
    report(out)


def run():
    img, spec_path = sys.argv[1], sys.argv[2]
    with open(spec_path) as f:
        spec = json.load(f)
    FlashDevice(img, 512).mount(_ROOT)     # 2 MiB: the slots are ~260 KB each
    asyncio.run(main(spec, img))


run()
