"""store.journal on the simulated littlefs flash, under MicroPython: semantics, the
bound and its drop policy, torn tails, and power cuts at every write point of a
workload (plus a seeded random fuzz of cut points): no record whose append returned is
lost, none comes back after its ack, none is invented."""
import json
import random

from tests import mp

PRELUDE = r"""
import os, sys, json, gc
from store.journal import Journal, Full
from boards.sim.flash import FlashDevice, PowerCut, umount
IMG = sys.argv[-1]
def wipe():
    try:
        os.remove(IMG)
    except OSError:
        pass
def mount():
    d = FlashDevice(IMG, 64)
    d.mount('/flash')
    return d
def remount(d):
    umount('/flash')
    d.close()
    d = FlashDevice(IMG, 64)
    d.mount('/flash')
    return d
def jopen(**kw):
    j = Journal('/flash/j', max_bytes=kw.get('max_bytes', 6000), max_records=kw.get('max_records', 60))
    info = j.open()
    return j, info
out = {}
"""


def run(tmp_path, code, timeout=60):
    img = str(tmp_path / "flash.img")
    p = mp.run(PRELUDE + code + "\nprint(json.dumps(out))\n", timeout=timeout, args=(img,))
    return json.loads(p.stdout.strip().splitlines()[-1])


def test_semantics_and_reopen(tmp_path):
    r = run(tmp_path, r"""
wipe(); d = mount(); j, info = jopen()
out['fresh'] = info
a = j.append({'k': 'start'}); b = j.append({'k': 'mv'}, droppable=True); c = j.append({'k': 'stop'})
out['ids'] = [a, b, c]; out['peek'] = j.peek()
j.ack(a); j.update(c, {'k': 'stop', 'txid': 7})
d = remount(d); j, info = jopen()
out['reopen'] = info; out['pending'] = list(j.pending())
out['next'] = j.append({'k': 'x'})
j.compact(); out['after_compact'] = list(j.pending())
d = remount(d); j, info = jopen(); out['ids_after_compact'] = j.append({'k': 'y'})
""")
    assert r["fresh"]["records"] == 0
    assert r["ids"] == [1, 2, 3] and r["peek"] == [1, {"k": "start"}]
    assert r["reopen"]["records"] == 2 and r["reopen"]["damaged"] == 0
    assert r["pending"] == [[2, {"k": "mv"}], [3, {"k": "stop", "txid": 7}]]
    assert r["next"] == 4
    assert [x[0] for x in r["after_compact"]] == [2, 3, 4]
    assert r["ids_after_compact"] == 5          # ids keep increasing across compaction + reboot


def test_bound_drops_droppables_first_and_never_the_rest(tmp_path):
    r = run(tmp_path, r"""
wipe(); d = mount(); j, _ = jopen(max_records=20)
j.append({'k': 'start'})
for i in range(15):
    j.append({'k': 'mv', 'i': i}, droppable=True)
full = None
for i in range(30):
    try:
        j.append({'k': 'stop', 'i': i})
    except Full:
        full = i
        break
kinds = [o['k'] for _, o in j.pending()]
out['full_at'] = full; out['dropped'] = j.dropped; out['kinds'] = kinds
""")
    assert r["dropped"] == 15                       # every droppable went first
    assert r["kinds"].count("mv") == 0 and r["kinds"][0] == "start"
    assert r["full_at"] == 19 and len(r["kinds"]) == 20


def test_torn_tail_is_repaired(tmp_path):
    r = run(tmp_path, r"""
wipe(); d = mount(); j, _ = jopen()
for i in range(3):
    j.append({'i': i})
with open('/flash/j', 'ab') as f:
    f.write(b'\xa5\x01\x00\x40garbage')
d = remount(d); j, info = jopen()
out['info'] = info; out['pending'] = [o['i'] for _, o in j.pending()]
out['next'] = j.append({'i': 3})
d = remount(d); j, info = jopen(); out['clean'] = info['damaged']
""")
    assert r["info"]["damaged"] and r["pending"] == [0, 1, 2]
    assert r["next"] == 4 and r["clean"] == 0


WORKLOAD = r"""
droppable = []
def workload(j, acked, returned):
    # appends, updates, acks and compactions, like a day of sessions
    for n in range(24):
        drop = n %% 3 == 1
        rid = j.append({'n': n, 'pad': 'x' * (n %% 7 * 20)}, droppable=drop)
        returned.append(rid)
        if drop:
            droppable.append(rid)
        if n %% 4 == 3:
            head = j.peek()
            if head:
                j.ack(head[0]); acked.append(head[0])
        if n %% 5 == 4:
            p = j.peek()
            if p:
                o = p[1]; o['upd'] = n; j.update(p[0], o)
        if n %% 11 == 10:
            j.compact()
def check(cut_at):
    global d
    gc.collect()                       # 500 mounts: keep the littlefs buffers from fragmenting
    if d is not None:
        umount('/flash'); d.close()
    wipe(); d = mount(); j, _ = jopen(max_bytes=3000, max_records=40)
    acked, returned = [], []
    d.cut_after(cut_at, hard=False)
    cut = False
    try:
        workload(j, acked, returned)
    except PowerCut:
        cut = True
    d.power_on()
    d = remount(d)
    j, info = jopen(max_bytes=3000, max_records=40)
    ids = [rid for rid, _ in j.pending()]
    objs = [o['n'] for _, o in j.pending()]
    lost = [r for r in returned if r not in ids and r not in acked and r not in droppable]
    back = [a for a in acked if a in ids]
    invented = [r for r in ids if r not in returned and r != (returned[-1] + 1 if returned else 1)]
    ok_after = j.append({'n': 999}) > 0
    return cut, lost, back, invented, ids == sorted(ids), ok_after
res = []
d = None
if CUTS is None or isinstance(CUTS, int):
    # every write point of the workload and one past it; or CUTS random points in it
    wipe(); d = mount(); j, _ = jopen(max_bytes=3000, max_records=40)
    ops0 = d.ops; workload(j, [], []); total = d.ops - ops0
    out['ops'] = total
    if CUTS is None:
        CUTS = list(range(1, total + 2))
    else:
        import random
        random.seed(SEED)
        CUTS = [random.randint(1, total) for _ in range(CUTS)]
for n in CUTS:
    res.append([n] + list(check(n)))
out['res'] = res
"""


def _cuts_check(tmp_path, cuts, seed=0):
    r = run(tmp_path, "CUTS = %r\nSEED = %d\n" % (cuts, seed) + WORKLOAD % (), timeout=120)
    bad = [x for x in r["res"] if x[2] or x[3] or x[4] or not x[5] or not x[6]]
    assert not bad, bad[:5]
    return r["res"]


def test_power_cut_at_every_write_point(tmp_path):
    res = _cuts_check(tmp_path, None)
    assert all(x[1] for x in res[:-1]) and not res[-1][1]   # every point cut; the last one past the end
    assert len(res) > 50


def test_power_cut_fuzz(tmp_path):
    seed = random.randrange(1 << 30)
    print("journal fuzz seed", seed)
    res = _cuts_check(tmp_path, 500, seed)
    assert len(res) == 500 and all(x[1] for x in res)
