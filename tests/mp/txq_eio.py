"""firmware/ocpp/txq.py on a flash whose writes fail (tests/unit/test_txq.py).

argv: IMG — the flash image"""
from out import report
import os, sys, json, store
from firmware.ocpp.txq import TxQueue
from boards.sim.flash import FlashDevice, umount
IMG = sys.argv[-1]
try: os.remove(IMG)
except OSError: pass
d = FlashDevice(IMG, 64); d.mount('/flash')
remounts = []
def refault():                       # what the boards do (store.on_fault)
    remounts.append(1); umount('/flash'); os.mount(d.vfs(), '/flash')
store.on_fault = refault
q = TxQueue('/flash/j', None); q.open()
out = {'put': [], 'errors': []}
for i in range(12):
    d.fail_after(1 + i % 4)          # one failed program/erase somewhere in each put
    rid = q.put('StartTransaction', {'connectorId': 1, 'idTag': 'T%d' % i})
    out['put'].append(rid is not None)
d.fail_after(0)
for i in range(4):                   # acks through failures too
    head = q.j.peek()
    d.fail_after(1 + i)
    q._ack(head[0])
d.fail_after(0)
out['remounts'] = len(remounts); out['flash_errors'] = q.flash_errors
umount('/flash'); d.close(); d = FlashDevice(IMG, 64); d.mount('/flash')   # a reboot
q = TxQueue('/flash/j', None); q.open()
out['after'] = [r['p']['idTag'] for _, r in q.j.pending()]
report(out)
