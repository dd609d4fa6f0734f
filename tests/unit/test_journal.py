"""store.journal on the simulated littlefs flash (boards/sim/flash.py), under MicroPython:
semantics and reopen, the bound and its drop policy, torn tails, failed flash writes
(EIO) and power cuts at every program/erase point of a workload, plus a seeded fuzz of
random cut and EIO points over a long random workload. Invariants checked after every
fault: every record whose append returned is pending exactly once until acked (unless
the full policy dropped it, which the model tracks), acked records never come back,
nothing is invented, contents are the last ones written, ids only grow."""
import json
import os
import random

import pytest

from tests import mp

PRELUDE = r"""
import os, sys, json, gc, time
import store
from store.journal import Journal, Full
from boards.sim.flash import FlashDevice, PowerCut, umount
IMG = sys.argv[-1]
J = '/flash/j'
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
    gc.collect()
    umount('/flash')
    d.close()
    return mount()
def refault():
    # what a board does on a failed flash write (store.fault): remount the file system
    umount('/flash')
    os.mount(d.vfs(), '/flash')
store.on_fault = refault
def jopen(mb=6000, mr=60):
    j = Journal(J, max_bytes=mb, max_records=mr)
    return j, j.open()
def disk(j):
    return os.stat(J)[6] if j.size or J[7:] in os.listdir('/flash') else 0
out = {}
"""


def run(tmp_path, code, timeout=60, args=()):
    img = str(tmp_path / "flash.img")
    p = mp.run(PRELUDE + code + "\nprint(json.dumps(out))\n", timeout=timeout,
               args=tuple(args) + (img,))
    return json.loads(p.stdout.strip().splitlines()[-1])


def test_semantics_reopen_and_compaction(tmp_path):
    r = run(tmp_path, r"""
wipe(); d = mount(); j, out['fresh'] = jopen()
out['empty'] = [j.peek(), list(j.pending()), j.count, j.size]
a = j.append({'k': 'start', 'u': 'é'}); b = j.append({'k': 'mv'}, droppable=True)
c = j.append({'k': 'stop'})
out['ids'] = [a, b, c]; out['peek'] = j.peek(); out['count'] = j.count
out['ack'] = [j.ack(a), j.ack(a), j.ack(999)]          # idempotent, unknown: False
j.update(c, {'k': 'stop', 'txid': 7})
try:
    j.update(a, {})
except KeyError:
    out['upd_acked'] = 'KeyError'
for bad in ({'x': 'y' * 5000}, {'f': object()}, {'v': float('nan')}):
    try:
        j.append(bad)
    except ValueError:
        out.setdefault('refused', []).append(1)
out['size_ok'] = j.size == disk(j)
d = remount(d); j, out['reopen'] = jopen()
out['pending'] = list(j.pending()); out['next'] = j.append({'k': 'x'})
before = list(j.pending()); size0 = j.size
j.compact()
out['compact'] = [list(j.pending()) == before, j.size < size0, j.size == disk(j)]
d = remount(d); j, info = jopen()
out['after_compact'] = [list(j.pending()) == before, info['records']]
for rid, _ in list(j.pending()):
    j.ack(rid)
j.compact()
d = remount(d); j, out['emptied'] = jopen()
out['id_after_empty'] = j.append({'k': 'y'})            # the base entry keeps ids growing
seen = []
for rid, o in j.pending():                             # acks and appends while walking
    seen.append(rid)
    j.ack(rid)
    if len(seen) == 1:
        j.append({'k': 'late'})
out['walk'] = seen; out['left'] = j.count
""")
    assert r["fresh"] == {"records": 0, "damaged": 0, "next_id": 1, "bytes": 0, "repaired": True}
    assert r["empty"] == [None, [], 0, 0]
    assert r["ids"] == [1, 2, 3] and r["peek"] == [1, {"k": "start", "u": "é"}] and r["count"] == 3
    assert r["ack"] == [True, False, False] and r["upd_acked"] == "KeyError"
    assert r["refused"] == [1, 1, 1] and r["size_ok"]
    assert r["reopen"]["records"] == 2 and r["reopen"]["damaged"] == 0 and r["reopen"]["next_id"] == 4
    assert r["pending"] == [[2, {"k": "mv"}], [3, {"k": "stop", "txid": 7}]]
    assert r["next"] == 4
    assert r["compact"] == [True, True, True] and r["after_compact"] == [True, 3]
    assert r["emptied"]["records"] == 0 and r["emptied"]["next_id"] == 5
    assert r["id_after_empty"] == 5 and r["walk"] == [5, 6] and r["left"] == 0


def test_bound_drops_oldest_droppables_never_the_rest(tmp_path):
    r = run(tmp_path, r"""
wipe(); d = mount()
# the record bound
j, _ = jopen(mr=10)
j.append({'k': 'start'})
for i in range(6):
    j.append({'k': 'mv', 'i': i}, droppable=True)
j.append({'k': 'stop'})
j.append({'k': 's2'}); j.append({'k': 's3'})           # 10: full
j.append({'k': 's4'})                                   # drops mv 0
out['one'] = [j.dropped, [o.get('i') for _, o in j.pending() if o['k'] == 'mv']]
kinds = []
full_at = None
for i in range(10):
    try:
        j.append({'k': 'n', 'i': i})
    except Full:
        full_at = i
        break
out['rec'] = [j.dropped, full_at, j.count, [o['k'] for _, o in j.pending()].count('mv')]
d = remount(d); j, info = jopen(mr=10)
out['rec_reopen'] = info['records']
# the byte bound: a droppable that would not be enough is not dropped
os.remove(J); j, _ = jopen(mb=1000, mr=100)
j.append({'k': 'start', 'pad': 'x' * 300})
j.append({'k': 'mv', 'pad': 'y' * 100}, droppable=True)
j.append({'k': 'stop', 'pad': 'z' * 300})
size0, count0 = j.size, j.count
try:
    j.append({'k': 'big', 'pad': 'w' * 600})
except Full:
    out['no_useless_drop'] = [j.dropped, j.count == count0, j.size == size0]
rid = j.append({'k': 'mid', 'pad': 'v' * 200})          # fits once mv is dropped
out['bytes'] = [j.dropped, [o['k'] for _, o in j.pending()], j.size <= 1000, j.size == disk(j)]
try:
    j.append({'k': 'more', 'pad': 'u' * 200})
except Full:
    out['full'] = True
try:
    j.update(rid, {'k': 'mid', 'pad': 'v' * 400})
except Full:
    out['update_full'] = True
d = remount(d); j, info = jopen(mb=1000, mr=100)
out['bytes_reopen'] = [o['k'] for _, o in j.pending()]
""")
    assert r["one"] == [1, [1, 2, 3, 4, 5]]                # oldest droppable first
    # 9 non-droppables + 5 remaining mv: every mv goes before Full
    assert r["rec"] == [6, 5, 10, 0] and r["rec_reopen"] == 10
    assert r["no_useless_drop"] == [0, True, True]
    assert r["bytes"] == [1, ["start", "stop", "mid"], True, True]
    assert r["full"] is True and r["update_full"] is True
    assert r["bytes_reopen"] == ["start", "stop", "mid"]


def test_torn_tail_is_detected_skipped_and_repaired(tmp_path):
    r = run(tmp_path, r"""
wipe(); d = mount()
res = []
def case(damage):
    global d
    try:
        os.remove(J)
    except OSError:
        pass
    j, _ = jopen()
    for i in range(3):
        j.append({'i': i})
    j.ack(1)
    good = j.size
    damage(good)
    d = remount(d); j, info = jopen()
    p1 = [o['i'] for _, o in j.pending()]
    rid = j.append({'i': 3})
    d = remount(d); j, info2 = jopen()
    res.append([info['damaged'], info['repaired'], p1, rid, info2['damaged'],
                [o['i'] for _, o in j.pending()], 'j.tmp' in os.listdir('/flash')])
def garbage(good):
    with open(J, 'ab') as f:
        f.write(b'\xa5\x01\x00\x40garbage')
def torn(good):                                     # a half-written last entry
    with open(J, 'ab') as f:
        f.write(b'\xa5\x01\x00\x20\x00\x00\x00\x05\x00\x00\x00\x00{"i": 4')
def flipped(good):                                  # a bit flipped in the last payload
    with open(J, 'rb') as f:
        data = bytearray(f.read())
    data[-3] ^= 4
    with open(J, 'wb') as f:
        f.write(data)
def zeros(good):
    with open(J, 'ab') as f:
        f.write(bytes(300))
for fn in (garbage, torn, flipped, zeros):
    case(fn)
with open(J + '.tmp', 'wb') as f:                   # a compaction cut before its rename
    f.write(b'partial')
d = remount(d); j, info = jopen()
res.append([info['damaged'], 'j.tmp' in os.listdir('/flash'), j.count])
out['res'] = res
""")
    g, t, f, z, tmp = r["res"]
    assert g == [11, True, [1, 2], 4, 0, [1, 2, 3], False]
    assert t == [19, True, [1, 2], 4, 0, [1, 2, 3], False]
    # the last entry is the ack of record 1: a damaged ack brings its record back
    # (delivered twice at worst, never lost)
    assert f == [12, True, [0, 1, 2], 4, 0, [0, 1, 2, 3], False]
    assert z == [300, True, [1, 2], 4, 0, [1, 2, 3], False]
    assert tmp == [0, False, 3]


# --------------------------------------------------------------------- fault model
# Runs a list of operations on a journal and checks it against a model after faults.
MODEL = r"""
BAD = []
class Model:
    def __init__(self):
        self.must = {}      # rid -> [obj, droppable]: returned, not acked/dropped
        self.acked = set()
        self.top = 0        # highest id ever returned
        self.drops = 0      # records dropped by the full policy
        self.bad = BAD
        self.fl = None
def target(M, x):
    ids = sorted(M.must)
    return ids[x % len(ids)] if ids else None
def do(j, M, op):
    # one operation; returns the in-flight description used if a fault interrupts it
    k = op[0]
    if k == 'a':
        obj, drop = {'n': op[1], 'pad': 'p' * op[2]}, op[3]
        fl = ['a', obj, drop]
        M.fl = fl
        before = j.dropped
        try:
            rid = j.append(obj, droppable=drop)
        except Full:
            return
        if rid <= M.top:
            M.bad.append(['id', rid, M.top])
        M.drops += j.dropped - before
        M.top = rid
        for old in sorted(M.must)[:]:
            if j.dropped == before:
                break
            if M.must[old][1]:
                del M.must[old]
                before += 1
        M.must[rid] = [obj, drop]
    elif k == 'k':
        rid = target(M, op[1])
        if rid is None:
            return
        M.fl = ['k', rid]
        j.ack(rid)
        del M.must[rid]
        M.acked.add(rid)
    elif k == 'u':
        rid = target(M, op[1])
        if rid is None:
            return
        obj = {'n': op[2], 'upd': 1}
        M.fl = ['u', rid, obj]
        try:
            j.update(rid, obj)
        except Full:
            return
        M.must[rid][0] = obj
    else:
        M.fl = ['c']
        j.compact()
    M.fl = None
def verify(j, M, where):
    # the journal against the model; then the model takes the outcome of the op in flight
    fl = M.fl
    got = list(j.pending())
    ids = [r for r, _ in got]
    if ids != sorted(set(ids)):
        M.bad.append([where, 'order/dup', ids])
    if j.count != len(ids):
        M.bad.append([where, 'count', j.count, len(ids)])
    seen = {}
    for rid, obj in got:
        seen[rid] = obj
        if rid in M.must:
            ok = obj == M.must[rid][0] or (fl and fl[0] == 'u' and fl[1] == rid and obj == fl[2])
        else:
            ok = fl and fl[0] == 'a' and rid > M.top and obj == fl[1]
        if not ok:
            M.bad.append([where, 'back' if rid in M.acked else 'invented', rid, obj, fl])
    for rid in list(M.must):
        if rid not in seen:
            if (fl and fl[0] == 'k' and fl[1] == rid) or (fl and fl[0][0] == 'a' and M.must[rid][1]):
                del M.must[rid]
                if fl[0] == 'k':
                    M.acked.add(rid)
            else:
                M.bad.append([where, 'lost', rid, fl])
    for rid, obj in got:
        if rid in M.must:
            M.must[rid][0] = obj
        elif rid > M.top and fl and fl[0] == 'a':
            M.must[rid] = [obj, fl[2]]
            M.top = rid
    M.fl = None
"""


def _faults(tmp_path, body, timeout=120, args=()):
    r = run(tmp_path, MODEL + body, timeout=timeout, args=args)
    assert not r["bad"], r["bad"][:5]
    return r


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


EVERY_POINT = r"""
OPS = json.loads(open(sys.argv[-2]).read())
MB, MR = 2500, 14
def fresh():
    global d
    if d is not None:
        umount('/flash'); d.close()
    wipe(); d = mount()
    return jopen(MB, MR)[0]
d = None
j = fresh(); M = Model(); o0 = d.ops
for op in OPS:
    do(j, M, op)
total = d.ops - o0
out['total'] = total; out['end'] = [j.count, j.dropped, j.size]
cuts = 0; damaged = 0
for n in range(1, total + 1):
    j = fresh(); M = Model()
    d.cut_after(n, hard=False)
    i = 0
    try:
        for i, op in enumerate(OPS):
            do(j, M, op)
    except PowerCut:
        cuts += 1
    j = None
    d = remount(d)                   # gc.collect while the old device is still dead
    j, info = jopen(MB, MR)
    if info['damaged'] or 'j.tmp' in os.listdir('/flash'):
        damaged += 1
        out.setdefault('dmg', []).append([n, info, 'j.tmp' in os.listdir('/flash')])
    if info['next_id'] <= M.top:
        M.bad.append([n, 'next_id', info['next_id'], M.top])
    verify(j, M, n)
    for op in OPS[i + 1:i + 6]:                     # and it keeps working
        do(j, M, op)
    d = remount(d); j, _ = jopen(MB, MR)
    verify(j, M, -n)
out['cuts'] = cuts; out['damaged'] = damaged; out['bad'] = BAD
"""


@pytest.mark.slow
def test_power_cut_at_every_write_point(tmp_path):
    ops = _workload(1, 70)
    path = tmp_path / "ops.json"
    path.write_text(json.dumps(ops))
    r = _faults(tmp_path, EVERY_POINT, args=(str(path),))
    print("journal every point", {k: r[k] for k in ("total", "cuts", "end")})
    assert r["total"] > 200 and r["cuts"] == r["total"], r      # every point was cut
    assert r["end"][1] > 0                                      # the drop policy ran
    assert r["damaged"] == 0, r.get("dmg")  # littlefs never showed a torn entry or a .tmp


FUZZ = r"""
import random
SEED = int(sys.argv[-2])
random.seed(SEED)
MB, MR = 3000, 20
wipe(); d = mount(); j, _ = jopen(MB, MR)
M = Model()
cuts = eio = n_ops = 0
def rnd_op(i):
    x = random.random()
    if x < 0.5:
        return ['a', i, random.choice((0, 10, 40, 160, 700)), random.random() < 0.4]
    if x < 0.8:
        return ['k', random.randrange(8) if random.random() < 0.3 else 0]
    if x < 0.95:
        return ['u', random.randrange(8), i]
    return ['c']
t0 = time.ticks_ms()
i = 0
while cuts < CUTS or eio < EIO:
    i += 1
    if random.random() < 0.2:
        if random.random() < 0.8 or not EIO:
            d.cut_after(random.randint(1, 12), hard=False)
        else:
            d.fail_after(random.randint(1, 12))
    try:
        do(j, M, rnd_op(i))
        n_ops += 1
    except PowerCut:
        cuts += 1
        j = None
        d = remount(d)                   # gc.collect while the old device is still dead
        j, info = jopen(MB, MR)
        if info['damaged'] or info['next_id'] <= M.top:
            M.bad.append([i, 'reopen', info, M.top])
        verify(j, M, i)
    except OSError as e:
        eio += 1
        if M.fl and M.fl[0] == 'a':
            M.fl[0] = 'a!'      # raised: the record is not on flash (droppables may be gone)
        verify(j, M, i)                             # RAM matches flash without a reboot
        d.fail_after(0); d.cut_after(0)
        d = remount(d); j, _ = jopen(MB, MR)
        verify(j, M, -i)
out['cuts'] = cuts; out['eio'] = eio; out['ops'] = n_ops; out['ms'] = time.ticks_diff(time.ticks_ms(), t0)
out['bad'] = M.bad; out['drops'] = M.drops
"""


def test_power_cut_fuzz(tmp_path):
    """>= 500 power cuts at random write points, a new random seed each run."""
    seed = int(os.environ.get("JOURNAL_FUZZ_SEED", random.randrange(1 << 30)))
    print("journal fuzz seed", seed, "(JOURNAL_FUZZ_SEED=%d to replay)" % seed)
    r = _faults(tmp_path, "CUTS = 520\nEIO = 0\n" + FUZZ, timeout=90, args=(str(seed),))
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
    r = _faults(tmp_path, "CUTS = 520\nEIO = 60\n" + FUZZ, timeout=90, args=(str(seed),))
    assert r["cuts"] >= 500 and r["eio"] >= 60 and r["ops"] > 2000 and r["drops"] > 0


def test_eio_at_every_write_point_of_each_operation(tmp_path):
    # a failed write raises; the file system is remounted (store.on_fault) and RAM
    # matches flash at once and after a reboot
    r = _faults(tmp_path, r"""
wipe(); d = mount(); j, _ = jopen(2500, 14)
M = Model(); res = {}
OPS = [['a', 1, 700, False], ['a', 2, 10, True], ['u', 0, 3], ['k', 1], ['c'],
       ['a', 4, 160, False], ['a', 5, 1200, True], ['a', 6, 900, False], ['k', 0]]
for op in OPS:
    n = 1; errs = 0
    while True:
        d.fail_after(n)
        try:
            do(j, M, op)
        except OSError as e:
            errs += 1
            if M.fl[0] == 'a':
                M.fl[0] = 'a!'              # append raised: the record must not be there
        armed = d._fail_n                   # the op ended before its n-th write
        d.fail_after(0)
        fl = M.fl
        verify(j, M, [op[0], n])
        M.fl = fl
        d = remount(d); j, _ = jopen(2500, 14)
        verify(j, M, [op[0], n, 'reboot'])
        if armed:
            break
        n += 1
    res[str(op)] = [errs, n - 1]
out['res'] = res; out['bad'] = M.bad; out['end'] = [j.count, sorted(M.must), j.dropped]
""")
    print("journal eio", r["res"])
    assert sum(v[0] for v in r["res"].values()) > 3, r["res"]      # some raised
    assert all(v[1] >= 1 for v in r["res"].values()), r["res"]     # every op was hit
    assert sum(v[1] for v in r["res"].values()) >= 20, r["res"]
    assert r["end"][0] == len(r["end"][1])


def test_crc_fallback_and_figures(tmp_path):
    r = run(tmp_path, r"""
import binascii
from store.journal import crc32_sw
out['crc'] = all(crc32_sw(x, s) == binascii.crc32(x, s)
                 for x in (b'', b'123456789', bytes(range(256))) for s in (0, 77, 0xFFFFFFFF))
wipe(); d = mount(); j, _ = jopen(32768, 400)
rec = {'a': 'StartTransaction', 'm': {'local': 17},
       'p': {'connectorId': 1, 'idTag': '04A2B3C4D5E6F7', 'meterStart': 1234567,
             'timestamp': '2026-11-22T10:00:00.000Z', 'reservationId': 0}}
N = 100
o = d.ops; t = time.ticks_us()
ids = [j.append(rec) for _ in range(N)]
out['append_us'] = time.ticks_diff(time.ticks_us(), t) // N; out['append_ops'] = (d.ops - o) / N
out['bytes_per_rec'] = j.size / N; out['payload'] = len(json.dumps(rec))
t = time.ticks_us()
for _ in range(N):
    j.peek()
out['peek_us'] = time.ticks_diff(time.ticks_us(), t) // N
o = d.ops; t = time.ticks_us()
for rid in ids:
    j.ack(rid)
out['ack_us'] = time.ticks_diff(time.ticks_us(), t) // N; out['ack_ops'] = (d.ops - o) / N
def alloc(fn):
    gc.collect(); gc.disable(); m = gc.mem_alloc(); fn(); m = gc.mem_alloc() - m; gc.enable()
    return m
out['alloc_append'] = alloc(lambda: j.append(rec))
out['alloc_peek'] = alloc(lambda: j.peek())
out['alloc_ack'] = alloc(lambda: j.ack(j.peek()[0]))
for _ in range(400):
    j.append({'a': 'MeterValues'}, droppable=True)
umount('/flash'); d.close(); d = mount()
j = None; gc.collect(); m0 = gc.mem_alloc()
j = Journal(J, 32768, 400); info = j.open(); gc.collect()
out['index_400'] = gc.mem_alloc() - m0; out['open_400'] = info['records']
t = time.ticks_us(); j2, _ = jopen(32768, 400)
out['open_400_us'] = time.ticks_diff(time.ticks_us(), t)
""")
    print("journal figures", r)
    assert r["crc"]
    assert r["bytes_per_rec"] == r["payload"] + 12
    assert r["alloc_append"] < 4096 and r["index_400"] < 16 * 400     # index: 9 B a slot


def test_persistent_eio_then_recovery(tmp_path):
    # the flash fails every write for a while, then recovers: errors propagate, a handle
    # whose close failed is kept open for good (never committed later), RAM always
    # matches flash, nothing is lost or comes back
    r = _faults(tmp_path, r"""
wipe(); d = mount(); j, _ = jopen(2500, 14)
M = Model()
do(j, M, ['a', 0, 50, False])
ok = d._program_ok
bad_left = [0]
def flaky():
    if bad_left[0]:
        bad_left[0] -= 1
        raise OSError(5)
    return ok()
d._program_ok = flaky
res = []
for i, op in enumerate([['a', 1, 300, False], ['a', 2, 10, True], ['k', 0], ['u', 0, 4],
                        ['a', 5, 900, False], ['c'], ['a', 6, 20, False]]):
    for burst in (1, 2, 3, 4, 8, 30):
        bad_left[0] = burst
        try:
            do(j, M, op)
            res.append([i, burst, 'ok'])
        except OSError:
            res.append([i, burst, 'EIO'])
            if M.fl[0] == 'a':
                M.fl[0] = 'a?'          # may land later, when the kept handle closes
        bad_left[0] = 0
        if M.fl and M.fl[0] == 'a?':
            M.fl[0] = 'a'
        fl = M.fl
        out.setdefault('zombies', []).append(len(store._GRAVE))
        verify(j, M, [i, burst])
        M.fl = fl
        d._program_ok = ok
        d = remount(d); j, _ = jopen(2500, 14)
        verify(j, M, [i, burst, 'reboot'])
        do(j, M, ['a', 1000 + i, 10, True])     # the flash works again: so does the journal
        res.append([i, burst, 'recovered'])
        d._program_ok = flaky
out['res'] = res; out['bad'] = M.bad; out['n'] = sorted(M.must)
""")
    print("journal persistent eio: kept handles", r["zombies"][-1], "pending", r["n"])
    assert any(x[2] == "EIO" for x in r["res"]) and any(x[2] == "recovered" for x in r["res"])
    assert r["zombies"][-1] > 0 and len(r["n"]) > 3
