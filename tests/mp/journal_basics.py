"""store.journal's semantics, bounds, torn tails and figures (tests/unit/test_journal.py).

argv: CASE IMG — CASE one of semantics, bound, torn, figures; IMG the flash image."""
import gc
import json
import os
import sys
import time

from journal_rig import J, disk, jopen, mount, remount, setup, tmp_left, wipe
from out import report
from store.journal import Full, Journal
from boards.sim.flash import umount


def semantics():
    out = {}
    wipe()
    d = mount()
    j, out["fresh"] = jopen()
    out["empty"] = [j.peek(), list(j.pending()), j.count, j.size]
    a = j.append({"k": "start", "u": "é"})
    b = j.append({"k": "mv"}, droppable=True)
    c = j.append({"k": "stop"})
    out["ids"] = [a, b, c]
    out["peek"] = j.peek()
    out["count"] = j.count
    out["ack"] = [j.ack(a), j.ack(a), j.ack(999)]          # idempotent, unknown: False
    j.update(c, {"k": "stop", "txid": 7})
    try:
        j.update(a, {})
    except KeyError:
        out["upd_acked"] = "KeyError"
    out["refused"] = []
    for bad in ({"x": "y" * 5000}, {"f": object()}, {"v": float("nan")}):
        try:
            j.append(bad)
        except ValueError:
            out["refused"].append("ValueError")
    out["size_ok"] = j.size == disk(j)
    d = remount(d)
    j, out["reopen"] = jopen()
    out["pending"] = list(j.pending())
    out["next"] = j.append({"k": "x"})
    before = list(j.pending())
    size0 = j.size
    j.compact()
    out["compact"] = [list(j.pending()) == before, j.size < size0, j.size == disk(j)]
    d = remount(d)
    j, info = jopen()
    out["after_compact"] = [list(j.pending()) == before, info["records"]]
    for rid, _ in list(j.pending()):
        j.ack(rid)
    j.compact()
    d = remount(d)
    j, out["emptied"] = jopen()
    out["id_after_empty"] = j.append({"k": "y"})            # the base entry keeps ids growing
    seen = []
    for rid, _ in j.pending():                              # acks and appends while walking
        seen.append(rid)
        j.ack(rid)
        if len(seen) == 1:
            j.append({"k": "late"})
    out["walk"] = seen
    out["left"] = j.count
    return out


def bound():
    out = {}
    wipe()
    d = mount()
    # the record bound
    j, _ = jopen(max_records=10)
    j.append({"k": "start"})
    for i in range(6):
        j.append({"k": "mv", "i": i}, droppable=True)
    j.append({"k": "stop"})
    j.append({"k": "s2"})
    j.append({"k": "s3"})                                   # 10: full
    j.append({"k": "s4"})                                   # drops mv 0
    out["one"] = [j.dropped, [o.get("i") for _, o in j.pending() if o["k"] == "mv"]]
    full_at = None
    for i in range(10):
        try:
            j.append({"k": "n", "i": i})
        except Full:
            full_at = i
            break
    out["rec"] = [j.dropped, full_at, j.count, [o["k"] for _, o in j.pending()].count("mv")]
    d = remount(d)
    j, info = jopen(max_records=10)
    out["rec_reopen"] = info["records"]
    # the byte bound: a droppable that would not be enough is not dropped
    os.remove(J)
    j, _ = jopen(max_bytes=1000, max_records=100)
    j.append({"k": "start", "pad": "x" * 300})
    j.append({"k": "mv", "pad": "y" * 100}, droppable=True)
    j.append({"k": "stop", "pad": "z" * 300})
    size0, count0 = j.size, j.count
    try:
        j.append({"k": "big", "pad": "w" * 600})
    except Full:
        out["no_useless_drop"] = [j.dropped, j.count == count0, j.size == size0]
    rid = j.append({"k": "mid", "pad": "v" * 200})          # fits once mv is dropped
    out["bytes"] = [j.dropped, [o["k"] for _, o in j.pending()], j.size <= 1000, j.size == disk(j)]
    try:
        j.append({"k": "more", "pad": "u" * 200})
    except Full:
        out["full"] = "Full"
    try:
        j.update(rid, {"k": "mid", "pad": "v" * 400})
    except Full:
        out["update_full"] = "Full"
    d = remount(d)
    j, info = jopen(max_bytes=1000, max_records=100)
    out["bytes_reopen"] = [o["k"] for _, o in j.pending()]
    return out


def _garbage(good):
    with open(J, "ab") as f:
        f.write(b"\xa5\x01\x00\x40garbage")


def _torn(good):                                     # a half-written last entry
    with open(J, "ab") as f:
        f.write(b"\xa5\x01\x00\x20\x00\x00\x00\x05\x00\x00\x00\x00{\"i\": 4")


def _flipped(good):                                  # a bit flipped in the last payload
    with open(J, "rb") as f:
        data = bytearray(f.read())
    data[-3] ^= 4
    with open(J, "wb") as f:
        f.write(data)


def _zeros(good):
    with open(J, "ab") as f:
        f.write(bytes(300))


def torn():
    wipe()
    d = mount()
    res = {}
    for name, damage in (("garbage", _garbage), ("torn", _torn), ("flipped", _flipped),
                         ("zeros", _zeros)):
        try:
            os.remove(J)
        except OSError:
            pass
        j, _ = jopen()
        for i in range(3):
            j.append({"i": i})
        j.ack(1)
        damage(j.size)
        d = remount(d)
        j, info = jopen()
        first = [o["i"] for _, o in j.pending()]
        rid = j.append({"i": 3})
        d = remount(d)
        j, info2 = jopen()
        res[name] = {"damaged": info["damaged"], "repaired": info["repaired"],
                     "pending": first, "next": rid, "damaged_after": info2["damaged"],
                     "pending_after": [o["i"] for _, o in j.pending()], "tmp_left": tmp_left()}
    with open(J + ".tmp", "wb") as f:                   # a compaction cut before its rename
        f.write(b"partial")
    d = remount(d)
    j, info = jopen()
    res["compaction_cut"] = {"damaged": info["damaged"], "tmp_left": tmp_left(), "count": j.count}
    return res


def figures():
    import binascii
    from store.journal import crc32_sw
    out = {}
    out["crc"] = all(crc32_sw(x, s) == binascii.crc32(x, s)
                     for x in (b"", b"123456789", bytes(range(256))) for s in (0, 77, 0xFFFFFFFF))
    wipe()
    d = mount()
    j, _ = jopen(32768, 400)
    rec = {"a": "StartTransaction", "m": {"local": 17},
           "p": {"connectorId": 1, "idTag": "04A2B3C4D5E6F7", "meterStart": 1234567,
                 "timestamp": "2026-11-22T10:00:00.000Z", "reservationId": 0}}
    n = 100
    o = d.ops
    t = time.ticks_us()
    ids = [j.append(rec) for _ in range(n)]
    out["append_us"] = time.ticks_diff(time.ticks_us(), t) // n
    out["append_ops"] = (d.ops - o) / n
    out["bytes_per_rec"] = j.size / n
    out["payload"] = len(json.dumps(rec))
    t = time.ticks_us()
    for _ in range(n):
        j.peek()
    out["peek_us"] = time.ticks_diff(time.ticks_us(), t) // n
    o = d.ops
    t = time.ticks_us()
    for rid in ids:
        j.ack(rid)
    out["ack_us"] = time.ticks_diff(time.ticks_us(), t) // n
    out["ack_ops"] = (d.ops - o) / n

    def alloc(fn):
        gc.collect()
        gc.disable()
        m = gc.mem_alloc()
        fn()
        m = gc.mem_alloc() - m
        gc.enable()
        return m
    out["alloc_append"] = alloc(lambda: j.append(rec))
    out["alloc_peek"] = alloc(lambda: j.peek())
    out["alloc_ack"] = alloc(lambda: j.ack(j.peek()[0]))
    for _ in range(400):
        j.append({"a": "MeterValues"}, droppable=True)
    umount("/flash")
    d.close()
    d = mount()
    j = None
    gc.collect()
    m0 = gc.mem_alloc()
    j = Journal(J, 32768, 400)
    info = j.open()
    gc.collect()
    out["index_400"] = gc.mem_alloc() - m0
    out["open_400"] = info["records"]
    t = time.ticks_us()
    jopen(32768, 400)
    out["open_400_us"] = time.ticks_diff(time.ticks_us(), t)
    return out


CASES = {"semantics": semantics, "bound": bound, "torn": torn, "figures": figures}
setup(sys.argv[2])
report(CASES[sys.argv[1]]())
