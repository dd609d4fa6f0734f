"""lib/store on the simulated flash (boards/sim/flash.py), under MicroPython: atomic
writes survive a power cut at every program/erase, stale temporaries are cleaned up,
damaged JSON is reported, the image survives a SIGKILL and a corrupt image is
reformatted instead of boot-looping."""
import json
import os

from tests import mp

PRELUDE = r"""
import os, sys, json, store
from boards.sim.flash import FlashDevice, PowerCut, umount
IMG = sys.argv[-1]
def dev(blocks=64):
    return FlashDevice(IMG, blocks)
def wipe():
    try:
        os.remove(IMG)
    except OSError:
        pass
def remount(d=None):
    umount('/flash')
    if d is not None:
        d.close()
    d = dev()
    how = d.mount('/flash')
    return d, how
out = {}
"""


def run(tmp_path, code, timeout=30):
    img = str(tmp_path / "flash.img")
    p = mp.run(PRELUDE + code + "\nprint(json.dumps(out))\n", timeout=timeout, args=(img,))
    return json.loads(p.stdout.strip().splitlines()[-1])


def test_atomic_write_read_json_and_cleanup(tmp_path):
    out = run(tmp_path, r"""
wipe(); d = dev(); out['first'] = d.mount('/flash')
store.atomic_write('/flash/a.txt', 'hello')
out['read'] = store.read('/flash/a.txt').decode()
out['missing'] = store.read('/flash/nope', 'dflt')
store.atomic_write('/flash/a.txt', b'bye')
out['replaced'] = store.read('/flash/a.txt').decode()
store.save_json('/flash/c.json', {'k': [1, 2]})
out['json'] = store.load_json('/flash/c.json', {})
out['absent'] = store.load_json('/flash/none.json', {'d': 1})
with open('/flash/bad.json', 'w') as f:
    f.write('{"k": [1, ')
out['damaged'] = store.load_json('/flash/bad.json', {})
with open('/flash/big.json', 'w') as f:
    f.write('[' + '0,' * 20000 + '0]')
out['too_big'] = store.load_json('/flash/big.json', [])[1]
try:
    store.read('/flash/big.json', max_size=100)
    out['efbig'] = None
except OSError as e:
    out['efbig'] = e.errno
try:
    store.save_json('/flash/x.json', {'f': object()})
except (TypeError, ValueError) as e:
    out['not_json'] = type(e).__name__
out['not_written'] = 'x.json' not in os.listdir('/flash')
os.mkdir('/flash/sub')
for p in ('/flash/a.txt.tmp', '/flash/sub/s.json.tmp', '/flash/keep.txt'):
    with open(p, 'w') as f:
        f.write('x')
out['cleaned'] = store.cleanup('/flash')
out['left'] = sorted(os.listdir('/flash')) + sorted(os.listdir('/flash/sub'))
d, out['again'] = remount(d)
out['after_remount'] = store.read('/flash/a.txt').decode()
""")
    assert out["first"] == "formatted"
    assert out["read"] == "hello" and out["missing"] == "dflt" and out["replaced"] == "bye"
    assert out["json"] == [{"k": [1, 2]}, True]
    assert out["absent"] == [{"d": 1}, True]          # absent is not damage
    assert out["damaged"] == [{}, False]
    assert out["too_big"] is False and out["efbig"] == 27
    assert out["not_json"] in ("TypeError", "ValueError") and out["not_written"]
    assert out["cleaned"] == 2
    assert out["left"] == ["a.txt", "bad.json", "big.json", "c.json", "keep.txt", "sub"]
    assert out["again"] == "mounted" and out["after_remount"] == "bye"


CUT_EVERY_POINT = r"""
OLD = bytes(range(256)) * 40          # 10240 bytes: spans 3 blocks
NEW = bytes(range(255, -1, -1)) * 51  # 13056 bytes: spans 4 blocks
def base(with_old):
    wipe(); d = dev(); d.mount('/flash')
    if with_old:
        store.atomic_write('/flash/f.bin', OLD)
    umount('/flash'); d.close()
    with open(IMG, 'rb') as f:
        return f.read()
for with_old in (True, False):
    img = base(with_old)
    seen = []
    n = 1
    while n < 400:
        with open(IMG, 'wb') as f:
            f.write(img)
        d = dev(); d.mount('/flash')
        d.cut_after(n, hard=False)
        try:
            store.atomic_write('/flash/f.bin', NEW)
            done = True
        except PowerCut:
            done = False
        d, how = remount(d)
        try:
            got = store.read('/flash/f.bin')
        except OSError as e:
            got = 'OSError %d' % e.errno
        kind = 'old' if got == OLD else 'new' if got == NEW else 'absent' if got is None else 'BAD'
        tmp = 'f.bin.tmp' in os.listdir('/flash')
        removed = store.cleanup('/flash')
        seen.append([n, how, kind, tmp, removed, 'f.bin.tmp' in os.listdir('/flash')])
        umount('/flash'); d.close()
        if done:
            break
        n += 1
    out['old' if with_old else 'fresh'] = seen
"""


def test_power_cut_at_every_write_point(tmp_path):
    out = run(tmp_path, CUT_EVERY_POINT, timeout=60)
    for key, before in (("old", "old"), ("fresh", "absent")):
        seen = out[key]
        # the last run completed without a cut: every earlier one was cut at its n-th op
        assert len(seen) > 8, seen
        kinds = [s[2] for s in seen]
        assert "BAD" not in kinds, seen
        assert all(s[1] == "mounted" for s in seen), seen        # never reformatted
        assert kinds[-1] == "new" and kinds[0] == before, seen
        # once the rename is committed the new content stays; before it, the old one
        first_new = kinds.index("new")
        assert set(kinds[:first_new]) == {before} and set(kinds[first_new:]) == {"new"}
        # a stale temporary was left by some cuts, and cleanup() always removes it
        assert any(s[3] for s in seen), seen
        assert all(s[4] == (1 if s[3] else 0) and not s[5] for s in seen), seen


def test_failed_flash_write_keeps_old_file(tmp_path):
    out = run(tmp_path, r"""
wipe(); d = dev(); d.mount('/flash')
store.save_json('/flash/s.json', {'v': 1})
errs = []
for n in range(1, 40):
    d.fail_after(n)
    try:
        store.save_json('/flash/s.json', {'v': 2, 'pad': 'x' * 5000})
        d.fail_after(0)
        break
    except OSError as e:
        errs.append(e.errno)
        got = store.load_json('/flash/s.json', None)
        if got != ({'v': 1}, True):
            out['bad'] = [n, got]
            break
        store.save_json('/flash/s.json', {'v': 1})
out['errs'] = errs
out['final'] = store.load_json('/flash/s.json', None)[0]['v']
d, _ = remount(d)
out['tmp_left'] = [x for x in os.listdir('/flash') if x.endswith('.tmp')]
""")
    assert "bad" not in out, out
    assert out["errs"] and set(out["errs"]) == {5}               # EIO
    assert out["final"] == 2 and out["tmp_left"] == []


def test_hard_power_cut_kills_process_and_image_stays_consistent(tmp_path):
    img = str(tmp_path / "flash.img")
    # count the write points of one atomic_write first
    out = run(tmp_path, r"""
wipe(); d = dev(); d.mount('/flash')
store.atomic_write('/flash/f.bin', b'o' * 9000)
ops = d.ops
store.atomic_write('/flash/f.bin', b'n' * 9000)
out['ops'] = d.ops - ops
""")
    ops = out["ops"]
    assert ops > 4
    for n in (1, ops // 2, ops - 1):
        setup = PRELUDE + r"""
wipe(); d = dev(); d.mount('/flash')
store.atomic_write('/flash/f.bin', b'o' * 9000)
d.cut_after(%d)
store.atomic_write('/flash/f.bin', b'n' * 9000)
print('NOT CUT')
""" % n
        p = mp.run(setup, args=(img,), check=False)
        assert p.returncode in (-9, 137), (n, p.returncode, p.stdout, p.stderr)
        assert "NOT CUT" not in p.stdout
        check = run(tmp_path, r"""
d = dev(); out['how'] = d.mount('/flash')
got = store.read('/flash/f.bin')
out['kind'] = 'old' if got == b'o' * 9000 else 'new' if got == b'n' * 9000 else 'BAD'
out['cleaned'] = store.cleanup('/flash')
""")
        assert check["how"] == "mounted" and check["kind"] in ("old", "new"), (n, check)


def test_corrupt_image_is_reported_and_reformatted(tmp_path):
    img = tmp_path / "flash.img"
    with open(img, "wb") as f:                        # garbage, not a littlefs image
        f.write(bytes((i * 7 + 3) & 0xFF for i in range(64 * 4096)))
    p = mp.run(PRELUDE + r"""
d = dev(); out['how'] = d.mount('/flash')
store.save_json('/flash/x.json', 1)
d, out['again'] = remount(d)
out['x'] = store.load_json('/flash/x.json', None)
print(json.dumps(out))
""", args=(str(img),))
    out = json.loads(p.stdout.strip().splitlines()[-1])
    assert out == {"how": "reformatted", "again": "mounted", "x": [1, True]}
    assert "does not mount" in p.stderr
    # a zeroed image counts as blank: formatted without a report
    with open(img, "wb") as f:
        f.write(bytes(64 * 4096))
    p = mp.run(PRELUDE + "d = dev(); print(d.mount('/flash'))", args=(str(img),))
    assert p.stdout.strip() == "formatted" and p.stderr == ""
    assert os.path.getsize(img) == 64 * 4096
