"""The rig of tests/unit/test_journal.py's programs: store.journal on the simulated
littlefs flash (boards/sim/flash.py), and the model that the fault programs check the
journal against after every cut or failed write.

setup(img) first; mount() / remount(dev) return the flash device they mounted on /flash,
which is also the one a failed write remounts (store.on_fault, as a board does)."""
import gc
import os

import store
from boards.sim.flash import FlashDevice, umount
from store.journal import Full, Journal

J = "/flash/j"
_rig = {"img": None, "dev": None}


def setup(img):
    _rig["img"] = img
    store.on_fault = _refault


def wipe():
    try:
        os.remove(_rig["img"])
    except OSError:
        pass


def mount():
    dev = FlashDevice(_rig["img"], 64)
    dev.mount("/flash")
    _rig["dev"] = dev
    return dev


def remount(dev):
    gc.collect()
    umount("/flash")
    dev.close()
    return mount()


def _refault():
    # what a board does on a failed flash write (store.fault): remount the file system
    umount("/flash")
    os.mount(_rig["dev"].vfs(), "/flash")


def jopen(max_bytes=6000, max_records=60):
    j = Journal(J, max_bytes=max_bytes, max_records=max_records)
    return j, j.open()


def disk(j):
    return os.stat(J)[6] if j.size or J[7:] in os.listdir("/flash") else 0


def tmp_left():
    """Whether a compaction's temporary file is on the flash."""
    return "j.tmp" in os.listdir("/flash")


# ------------------------------------------------------------------ the fault model
class Model:
    """What the journal must hold: every record whose append returned, until acked or
    dropped by the full policy; `inflight` is the operation a fault may have cut."""

    def __init__(self):
        self.must = {}      # rid -> [obj, droppable]: returned, not acked/dropped
        self.acked = set()
        self.top = 0        # highest id ever returned
        self.drops = 0      # records dropped by the full policy
        self.bad = []       # invariants broken: [where, what, ...]
        self.inflight = None


def target(model, x):
    ids = sorted(model.must)
    return ids[x % len(ids)] if ids else None


def do(j, model, op):
    """One operation: ['a', n, pad, droppable] append, ['k', x] ack, ['u', x, n] update,
    ['c'] compact. model.inflight says what it was while it runs (a fault may cut it)."""
    kind = op[0]
    if kind == "a":
        obj, drop = {"n": op[1], "pad": "p" * op[2]}, op[3]
        model.inflight = ["a", obj, drop]
        before = j.dropped
        try:
            rid = j.append(obj, droppable=drop)
        except Full:
            return
        if rid <= model.top:
            model.bad.append(["id", rid, model.top])
        model.drops += j.dropped - before
        model.top = rid
        for old in sorted(model.must)[:]:
            if j.dropped == before:
                break
            if model.must[old][1]:
                del model.must[old]
                before += 1
        model.must[rid] = [obj, drop]
    elif kind == "k":
        rid = target(model, op[1])
        if rid is None:
            return
        model.inflight = ["k", rid]
        j.ack(rid)
        del model.must[rid]
        model.acked.add(rid)
    elif kind == "u":
        rid = target(model, op[1])
        if rid is None:
            return
        obj = {"n": op[2], "upd": 1}
        model.inflight = ["u", rid, obj]
        try:
            j.update(rid, obj)
        except Full:
            return
        model.must[rid][0] = obj
    else:
        model.inflight = ["c"]
        j.compact()
    model.inflight = None


def verify(j, model, where):
    """The journal against the model; then the model takes the outcome of the operation
    in flight ('a!' an append that raised: its record must not be there)."""
    fl = model.inflight
    got = list(j.pending())
    ids = [r for r, _ in got]
    if ids != sorted(set(ids)):
        model.bad.append([where, "order/dup", ids])
    if j.count != len(ids):
        model.bad.append([where, "count", j.count, len(ids)])
    seen = {}
    for rid, obj in got:
        seen[rid] = obj
        if rid in model.must:
            ok = obj == model.must[rid][0] or (fl and fl[0] == "u" and fl[1] == rid and obj == fl[2])
        else:
            ok = fl and fl[0] == "a" and rid > model.top and obj == fl[1]
        if not ok:
            model.bad.append([where, "back" if rid in model.acked else "invented", rid, obj, fl])
    for rid in list(model.must):
        if rid not in seen:
            if (fl and fl[0] == "k" and fl[1] == rid) or (fl and fl[0][0] == "a" and model.must[rid][1]):
                del model.must[rid]
                if fl[0] == "k":
                    model.acked.add(rid)
            else:
                model.bad.append([where, "lost", rid, fl])
    for rid, obj in got:
        if rid in model.must:
            model.must[rid][0] = obj
        elif rid > model.top and fl and fl[0] == "a":
            model.must[rid] = [obj, fl[2]]
            model.top = rid
    model.inflight = None
