"""store.journal under faults, checked against journal_rig's Model after each one
(tests/unit/test_journal.py): a power cut at every program/erase point of a workload, a
seeded fuzz of cuts and failed writes (EIO), EIO at every write point of each operation,
and a flash that fails every write for a while.

argv: CASE IMG [ARGS] —
  every_point IMG OPS.json     the workload (a JSON list of operations, see rig.do)
  fuzz IMG SEED CUTS EIO       random operations until CUTS cuts and EIO failed writes
  eio_points IMG
  persistent_eio IMG"""
import json
import os
import random
import sys
import time

import store
from boards.sim.flash import PowerCut, umount
from journal_rig import Model, do, jopen, mount, remount, setup, tmp_left, verify, wipe
from out import report

MB, MR = 2500, 14


def every_point(ops_path):
    with open(ops_path) as f:
        ops = json.loads(f.read())
    out = {}
    dev = [None]

    def fresh():
        if dev[0] is not None:
            umount("/flash")
            dev[0].close()
        wipe()
        dev[0] = mount()
        return jopen(MB, MR)[0]
    j = fresh()
    model = Model()
    o0 = dev[0].ops
    for op in ops:
        do(j, model, op)
    bad = list(model.bad)
    total = dev[0].ops - o0
    out["total"] = total
    out["end"] = {"count": j.count, "dropped": j.dropped, "size": j.size}
    cuts = damaged = 0
    for n in range(1, total + 1):
        j = fresh()
        model = Model()
        dev[0].cut_after(n, hard=False)
        i = 0
        try:
            for i, op in enumerate(ops):
                do(j, model, op)
        except PowerCut:
            cuts += 1
        j = None
        dev[0] = remount(dev[0])         # gc.collect while the old device is still dead
        j, info = jopen(MB, MR)
        if info["damaged"] or tmp_left():
            damaged += 1
            out.setdefault("dmg", []).append([n, info, tmp_left()])
        if info["next_id"] <= model.top:
            model.bad.append([n, "next_id", info["next_id"], model.top])
        verify(j, model, n)
        for op in ops[i + 1:i + 6]:                    # and it keeps working
            do(j, model, op)
        dev[0] = remount(dev[0])
        j, _ = jopen(MB, MR)
        verify(j, model, -n)
        bad += model.bad
    out["cuts"] = cuts
    out["damaged"] = damaged
    out["bad"] = bad
    return out


def _random_op(i):
    x = random.random()
    if x < 0.5:
        return ["a", i, random.choice((0, 10, 40, 160, 700)), random.random() < 0.4]
    if x < 0.8:
        return ["k", random.randrange(8) if random.random() < 0.3 else 0]
    if x < 0.95:
        return ["u", random.randrange(8), i]
    return ["c"]


def fuzz(seed, want_cuts, want_eio):
    seed, want_cuts, want_eio = int(seed), int(want_cuts), int(want_eio)
    random.seed(seed)
    mb, mr = 3000, 20
    wipe()
    d = mount()
    j, _ = jopen(mb, mr)
    model = Model()
    cuts = eio = n_ops = 0
    t0 = time.ticks_ms()
    i = 0
    while cuts < want_cuts or eio < want_eio:
        i += 1
        if random.random() < 0.2:
            if random.random() < 0.8 or not want_eio:
                d.cut_after(random.randint(1, 12), hard=False)
            else:
                d.fail_after(random.randint(1, 12))
        try:
            do(j, model, _random_op(i))
            n_ops += 1
        except PowerCut:
            cuts += 1
            j = None
            d = remount(d)               # gc.collect while the old device is still dead
            j, info = jopen(mb, mr)
            if info["damaged"] or info["next_id"] <= model.top:
                model.bad.append([i, "reopen", info, model.top])
            verify(j, model, i)
        except OSError:
            eio += 1
            if model.inflight and model.inflight[0] == "a":
                model.inflight[0] = "a!"  # raised: the record is not on flash
            verify(j, model, i)                        # RAM matches flash without a reboot
            d.fail_after(0)
            d.cut_after(0)
            d = remount(d)
            j, _ = jopen(mb, mr)
            verify(j, model, -i)
    return {"cuts": cuts, "eio": eio, "ops": n_ops, "bad": model.bad, "drops": model.drops,
            "ms": time.ticks_diff(time.ticks_ms(), t0)}


def eio_points():
    # a failed write raises; the file system is remounted (store.on_fault) and RAM
    # matches flash at once and after a reboot
    wipe()
    d = mount()
    j, _ = jopen(MB, MR)
    model = Model()
    res = {}
    ops = [["a", 1, 700, False], ["a", 2, 10, True], ["u", 0, 3], ["k", 1], ["c"],
           ["a", 4, 160, False], ["a", 5, 1200, True], ["a", 6, 900, False], ["k", 0]]
    for op in ops:
        n = 1
        errs = 0
        while True:
            d.fail_after(n)
            try:
                do(j, model, op)
            except OSError:
                errs += 1
                if model.inflight[0] == "a":
                    model.inflight[0] = "a!"          # append raised: the record must not be there
            armed = d._fail_n                        # the op ended before its n-th write
            d.fail_after(0)
            fl = model.inflight
            verify(j, model, [op[0], n])
            model.inflight = fl
            d = remount(d)
            j, _ = jopen(MB, MR)
            verify(j, model, [op[0], n, "reboot"])
            if armed:
                break
            n += 1
        res[str(op)] = {"raised": errs, "points": n - 1}
    return {"res": res, "bad": model.bad, "count": j.count, "must": sorted(model.must)}


def persistent_eio():
    # the flash fails every write for a while, then recovers: errors propagate, a handle
    # whose close failed is kept open for good (never committed later), RAM always
    # matches flash, nothing is lost or comes back
    wipe()
    d = mount()
    j, _ = jopen(MB, MR)
    model = Model()
    do(j, model, ["a", 0, 50, False])
    ok = d._program_ok
    bad_left = [0]

    def flaky():
        if bad_left[0]:
            bad_left[0] -= 1
            raise OSError(5)
        return ok()
    d._program_ok = flaky
    res = []
    kept = []
    for i, op in enumerate([["a", 1, 300, False], ["a", 2, 10, True], ["k", 0], ["u", 0, 4],
                            ["a", 5, 900, False], ["c"], ["a", 6, 20, False]]):
        for burst in (1, 2, 3, 4, 8, 30):
            bad_left[0] = burst
            try:
                do(j, model, op)
                res.append([i, burst, "ok"])
            except OSError as e:
                res.append([i, burst, "EIO" if e.args[0] == 5 else repr(e)])
                if model.inflight[0] == "a":
                    model.inflight[0] = "a?"         # may land later, when the kept handle closes
            bad_left[0] = 0
            if model.inflight and model.inflight[0] == "a?":
                model.inflight[0] = "a"
            fl = model.inflight
            kept.append(len(store._GRAVE))
            verify(j, model, [i, burst])
            model.inflight = fl
            d._program_ok = ok
            d = remount(d)
            j, _ = jopen(MB, MR)
            verify(j, model, [i, burst, "reboot"])
            do(j, model, ["a", 1000 + i, 10, True])  # the flash works again: so does the journal
            res.append([i, burst, "recovered"])
            d._program_ok = flaky
    return {"res": res, "bad": model.bad, "pending": sorted(model.must), "kept_handles": kept}


CASES = {"every_point": every_point, "fuzz": fuzz, "eio_points": eio_points,
         "persistent_eio": persistent_eio}
setup(sys.argv[2])
report(CASES[sys.argv[1]](*sys.argv[3:]))
