"""firmware.security.certs.identity on the simulated flash: round trip, damage, power cuts
(tests/unit/test_identity.py).

argv: IMG — the flash image"""
from out import report
import os, sys, json
from boards.sim.flash import FlashDevice, PowerCut, umount
from firmware.security.certs import identity
IMG = sys.argv[-1]
try: os.remove(IMG)
except OSError: pass
d = FlashDevice(IMG, 64); d.mount('/flash')
out = {}
A = ([b'leafA' * 50, b'subA' * 40], b'keyA' * 30)
B = ([b'leafB' * 70], b'keyB' * 31)
out['none'] = identity.load('/flash') is None and not identity.present('/flash')
identity.save('/flash', *A)
out['roundtrip'] = identity.load('/flash') == A and identity.present('/flash')
bad = []
for args in (([], b'k'), ([b'c'], b''), ([b'c'] * 5, b'k'), ([b'c' * 9000], b'k')):
    try:
        identity.save('/flash', *args)
    except ValueError:
        bad.append(1)
out['refused'] = len(bad)
out['kept'] = identity.load('/flash') == A
good = open('/flash/identity.bin', 'rb').read()
dam = []
for data in (good[:-1], b'XX1' + good[3:], good + b'!', good[:4], b'', bytes([0x49, 0x44, 0x31, 9])):
    with open('/flash/identity.bin', 'wb') as f:
        f.write(data)
    dam.append(identity.load('/flash') is None and identity.present('/flash'))
out['damaged'] = dam
with open('/flash/identity.bin', 'wb') as f:
    f.write(good)
n, seen = 0, set()
while True:                          # a power cut at every write of save(B)
    n += 1
    d.cut_after(n, hard=False)
    try:
        identity.save('/flash', *B)
        d.cut_after(0)
        finished = True
    except PowerCut:
        finished = False
    umount('/flash'); d = d.reborn(); d.mount('/flash')
    got = identity.load('/flash')
    seen.add('A' if got == A else 'B' if got == B else 'bad')
    if finished:
        break
    identity.save('/flash', *A)
out['cuts'] = n; out['seen'] = sorted(seen)
report(out)
