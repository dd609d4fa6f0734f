"""store.journal on the simulated littlefs flash (boards/sim/flash.py), under MicroPython:
semantics and reopen, the bound and its drop policy, torn tails, failed flash writes
(EIO) and power cuts at every program/erase point of a workload, plus a seeded fuzz of
random cut and EIO points over a long random workload. Invariants checked after every
fault: every record whose append returned is pending exactly once until acked (unless
the full policy dropped it, which the model tracks), acked records never come back,
nothing is invented, contents are the last ones written, ids only grow. The programs:
tests/mp/journal_basics.py, tests/mp/journal_faults.py (the model: tests/mp/journal_rig.py)."""
import json
import os
import random

import pytest

from tests import mp


def basics(tmp_path, case):
    return mp.run_file("journal_basics", case, tmp_path / "flash.img", timeout=60)


def faults(tmp_path, case, *args, timeout=120):
    r = mp.run_file("journal_faults", case, tmp_path / "flash.img", *args, timeout=timeout)
    assert not r["bad"], r["bad"][:5]
    return r


def test_semantics_reopen_and_compaction(tmp_path):
    r = basics(tmp_path, "semantics")
    assert r["fresh"] == {"records": 0, "damaged": 0, "next_id": 1, "bytes": 0, "repaired": True}
    assert r["empty"] == [None, [], 0, 0]
    assert r["ids"] == [1, 2, 3] and r["peek"] == [1, {"k": "start", "u": "é"}] and r["count"] == 3
    assert r["ack"] == [True, False, False] and r["upd_acked"] == "KeyError"
    assert r["refused"] == ["ValueError"] * 3 and r["size_ok"]
    assert r["reopen"]["records"] == 2 and r["reopen"]["damaged"] == 0 and r["reopen"]["next_id"] == 4
    assert r["pending"] == [[2, {"k": "mv"}], [3, {"k": "stop", "txid": 7}]]
    assert r["next"] == 4
    assert r["compact"] == [True, True, True] and r["after_compact"] == [True, 3]
    assert r["emptied"]["records"] == 0 and r["emptied"]["next_id"] == 5
    assert r["id_after_empty"] == 5 and r["walk"] == [5, 6] and r["left"] == 0


def test_bound_drops_oldest_droppables_never_the_rest(tmp_path):
    r = basics(tmp_path, "bound")
    assert r["one"] == [1, [1, 2, 3, 4, 5]]                # oldest droppable first
    # 9 non-droppables + 5 remaining mv: every mv goes before Full
    assert r["rec"] == [6, 5, 10, 0] and r["rec_reopen"] == 10
    assert r["no_useless_drop"] == [0, True, True]
    assert r["bytes"] == [1, ["start", "stop", "mid"], True, True]
    assert r["full"] == "Full" and r["update_full"] == "Full"
    assert r["bytes_reopen"] == ["start", "stop", "mid"]


def test_torn_tail_is_detected_skipped_and_repaired(tmp_path):
    r = basics(tmp_path, "torn")
    # each damage is skipped (its bytes counted), repaired, and the journal goes on
    after = {"repaired": True, "next": 4, "damaged_after": 0, "tmp_left": False}
    for name, damaged in (("garbage", 11), ("torn", 19), ("zeros", 300)):
        assert r[name] == dict(after, damaged=damaged, pending=[1, 2], pending_after=[1, 2, 3]), name
    # the last entry is the ack of record 1: a damaged ack brings its record back
    # (delivered twice at worst, never lost)
    assert r["flipped"] == dict(after, damaged=12, pending=[0, 1, 2], pending_after=[0, 1, 2, 3])
    assert r["compaction_cut"] == {"damaged": 0, "tmp_left": False, "count": 3}


def _workload(seed, n):
    rnd = random.Random(seed)
    ops = []
    for i in range(n):
        x = rnd.random()
        if x < 0.5:
            ops.append(["a", i, rnd.choice((0, 10, 40, 160, 700)), rnd.random() < 0.4])
        elif x < 0.8:
            ops.append(["k", rnd.randrange(8) if rnd.random() < 0.3 else 0])
        elif x < 0.95:
            ops.append(["u", rnd.randrange(8), i])
        else:
            ops.append(["c"])
    return ops


@pytest.mark.slow
def test_power_cut_at_every_write_point(tmp_path):
    ops = _workload(1, 70)
    path = tmp_path / "ops.json"
    path.write_text(json.dumps(ops))
    r = faults(tmp_path, "every_point", path)
    print("journal every point", {k: r[k] for k in ("total", "cuts", "end")})
    assert r["total"] > 200 and r["cuts"] == r["total"], r      # every point was cut
    assert r["end"]["dropped"] > 0                              # the drop policy ran
    assert r["damaged"] == 0, r.get("dmg")  # littlefs never showed a torn entry or a .tmp


def test_power_cut_fuzz(tmp_path):
    """>= 500 power cuts at random write points, a new random seed each run."""
    seed = int(os.environ.get("JOURNAL_FUZZ_SEED", random.randrange(1 << 30)))
    print("journal fuzz seed", seed, "(JOURNAL_FUZZ_SEED=%d to replay)" % seed)
    r = faults(tmp_path, "fuzz", seed, 520, 0, timeout=90)
    print("journal fuzz", r)
    assert r["cuts"] >= 500 and r["ops"] > 2000 and r["drops"] > 0


# Power cuts mixed with failed writes (EIO), a new random seed each run, plus seeds that
# failed once. 10976890: an EIO swallowed by an automatic compaction left littlefs's RAM
# state out of step with the flash; the next three commits vanished at the next boot
# (acked records back, a returned one lost). Fixed by remounting on every failed write
# (store.fault) and never closing a handle whose close failed (store.keep_open).
EIO_SEEDS = [10976890]


@pytest.mark.parametrize("seed", EIO_SEEDS + [None])
def test_power_cut_and_eio_fuzz(tmp_path, seed):
    if seed is None:
        seed = int(os.environ.get("JOURNAL_EIO_SEED", random.randrange(1 << 30)))
    print("journal eio fuzz seed", seed, "(JOURNAL_EIO_SEED=%d to replay)" % seed)
    r = faults(tmp_path, "fuzz", seed, 520, 60, timeout=90)
    assert r["cuts"] >= 500 and r["eio"] >= 60 and r["ops"] > 2000 and r["drops"] > 0


def test_eio_at_every_write_point_of_each_operation(tmp_path):
    # a failed write raises; the file system is remounted (store.on_fault) and RAM
    # matches flash at once and after a reboot
    r = faults(tmp_path, "eio_points")
    print("journal eio", r["res"])
    assert sum(v["raised"] for v in r["res"].values()) > 3, r["res"]     # some raised
    assert all(v["points"] >= 1 for v in r["res"].values()), r["res"]    # every op was hit
    assert sum(v["points"] for v in r["res"].values()) >= 20, r["res"]
    assert r["count"] == len(r["must"])


def test_crc_fallback_and_figures(tmp_path):
    r = basics(tmp_path, "figures")
    print("journal figures", r)
    assert r["crc"]
    assert r["bytes_per_rec"] == r["payload"] + 12
    assert r["alloc_append"] < 4096 and r["index_400"] < 16 * 400     # index: 9 B a slot


def test_persistent_eio_then_recovery(tmp_path):
    # the flash fails every write for a while, then recovers: errors propagate, a handle
    # whose close failed is kept open for good (never committed later), RAM always
    # matches flash, nothing is lost or comes back
    r = faults(tmp_path, "persistent_eio")
    print("journal persistent eio: kept handles", r["kept_handles"][-1], "pending", r["pending"])
    assert any(x[2] == "EIO" for x in r["res"]) and any(x[2] == "recovered" for x in r["res"])
    assert r["kept_handles"][-1] > 0 and len(r["pending"]) > 3
