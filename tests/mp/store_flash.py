"""lib/store on the simulated flash (boards/sim/flash.py), for tests/unit/test_store.py.

argv: CASE IMG [N] — CASE one of:
  basics          atomic writes, reads, JSON, damage, bounds, cleanup, remount
  every_point     a power cut at every program/erase of an atomic write, over an old
                  file and over none
  failed_write    a failed flash write (EIO) at each point keeps the old file
  count_ops       the program/erase count of one atomic write of 9000 bytes
  hard_cut N      an atomic write that SIGKILLs the process at its N-th write point
  after_cut       the image after a hard cut: mounts, old or new content
  mount           mount IMG as it is, write, remount"""
import os
import sys

import store
from boards.sim.flash import FlashDevice, PowerCut, umount
from out import error_name, report

IMG = sys.argv[2]


def dev(blocks=64):
    return FlashDevice(IMG, blocks)


def wipe():
    try:
        os.remove(IMG)
    except OSError:
        pass


def remount(d=None):
    umount("/flash")
    if d is not None:
        d.close()
    d = dev()
    how = d.mount("/flash")
    return d, how


def basics():
    out = {}
    wipe()
    d = dev()
    out["first"] = d.mount("/flash")
    store.atomic_write("/flash/a.txt", "hello")
    out["read"] = store.read("/flash/a.txt").decode()
    out["missing"] = store.read("/flash/nope", "dflt")
    store.atomic_write("/flash/a.txt", b"bye")
    out["replaced"] = store.read("/flash/a.txt").decode()
    store.save_json("/flash/c.json", {"k": [1, 2]})
    out["json"] = store.load_json("/flash/c.json", {})
    out["absent"] = store.load_json("/flash/none.json", {"d": 1})
    with open("/flash/bad.json", "w") as f:
        f.write('{"k": [1, ')
    out["damaged"] = store.load_json("/flash/bad.json", {})
    with open("/flash/big.json", "w") as f:
        f.write("[" + "0," * 20000 + "0]")
    out["too_big"] = store.load_json("/flash/big.json", [])[1]
    try:
        store.read("/flash/big.json", max_size=100)
        out["max_size"] = None
    except OSError as e:
        out["max_size"] = error_name(e)
    try:
        store.save_json("/flash/x.json", {"f": object()})
    except (TypeError, ValueError) as e:
        out["not_json"] = type(e).__name__
    out["not_written"] = "x.json" not in os.listdir("/flash")
    os.mkdir("/flash/sub")
    for p in ("/flash/a.txt.tmp", "/flash/sub/s.json.tmp", "/flash/keep.txt"):
        with open(p, "w") as f:
            f.write("x")
    out["cleaned"] = store.cleanup("/flash")
    out["left"] = sorted(os.listdir("/flash")) + sorted(os.listdir("/flash/sub"))
    d, out["again"] = remount(d)
    out["after_remount"] = store.read("/flash/a.txt").decode()
    return out


OLD = bytes(range(256)) * 40          # 10240 bytes: spans 3 blocks
NEW = bytes(range(255, -1, -1)) * 51  # 13056 bytes: spans 4 blocks


def _base(with_old):
    wipe()
    d = dev()
    d.mount("/flash")
    if with_old:
        store.atomic_write("/flash/f.bin", OLD)
    umount("/flash")
    d.close()
    with open(IMG, "rb") as f:
        return f.read()


def every_point():
    """Per cut point n: {n, how (the mount after it), kind (old/new/absent/BAD: what the
    file holds), tmp (a temporary left), removed (by cleanup), tmp_after}."""
    out = {}
    for with_old in (True, False):
        img = _base(with_old)
        seen = []
        n = 1
        while n < 400:
            with open(IMG, "wb") as f:
                f.write(img)
            d = dev()
            d.mount("/flash")
            d.cut_after(n, hard=False)
            try:
                store.atomic_write("/flash/f.bin", NEW)
                done = True
            except PowerCut:
                done = False
            d, how = remount(d)
            try:
                got = store.read("/flash/f.bin")
            except OSError as e:
                got = error_name(e)
            kind = "old" if got == OLD else "new" if got == NEW else "absent" if got is None else "BAD"
            tmp = "f.bin.tmp" in os.listdir("/flash")
            removed = store.cleanup("/flash")
            seen.append({"n": n, "how": how, "kind": kind, "tmp": tmp, "removed": removed,
                         "tmp_after": "f.bin.tmp" in os.listdir("/flash")})
            umount("/flash")
            d.close()
            if done:
                break
            n += 1
        out["old" if with_old else "fresh"] = seen
    return out


def failed_write():
    out = {}
    wipe()
    d = dev()
    d.mount("/flash")
    store.save_json("/flash/s.json", {"v": 1})
    errs = []
    for n in range(1, 40):
        d.fail_after(n)
        try:
            store.save_json("/flash/s.json", {"v": 2, "pad": "x" * 5000})
            d.fail_after(0)
            break
        except OSError as e:
            errs.append(error_name(e))
            got = store.load_json("/flash/s.json", None)
            if got != ({"v": 1}, True):
                out["bad"] = [n, got]
                break
            store.save_json("/flash/s.json", {"v": 1})
    out["errs"] = errs
    out["final"] = store.load_json("/flash/s.json", None)[0]["v"]
    d, _ = remount(d)
    out["tmp_left"] = [x for x in os.listdir("/flash") if x.endswith(".tmp")]
    return out


def count_ops():
    wipe()
    d = dev()
    d.mount("/flash")
    store.atomic_write("/flash/f.bin", b"o" * 9000)
    ops = d.ops
    store.atomic_write("/flash/f.bin", b"n" * 9000)
    return {"ops": d.ops - ops}


def hard_cut(n):
    wipe()
    d = dev()
    d.mount("/flash")
    store.atomic_write("/flash/f.bin", b"o" * 9000)
    d.cut_after(int(n))
    store.atomic_write("/flash/f.bin", b"n" * 9000)
    return {"cut": False}            # not reached: the cut kills the process


def after_cut():
    d = dev()
    how = d.mount("/flash")
    got = store.read("/flash/f.bin")
    return {"how": how, "kind": "old" if got == b"o" * 9000 else "new" if got == b"n" * 9000 else "BAD",
            "cleaned": store.cleanup("/flash")}


def mount():
    out = {}
    d = dev()
    out["how"] = d.mount("/flash")
    store.save_json("/flash/x.json", 1)
    d, out["again"] = remount(d)
    out["x"] = store.load_json("/flash/x.json", None)
    return out


CASES = {"basics": basics, "every_point": every_point, "failed_write": failed_write,
         "count_ops": count_ops, "hard_cut": hard_cut, "after_cut": after_cut, "mount": mount}
report(CASES[sys.argv[1]](*sys.argv[3:]))
