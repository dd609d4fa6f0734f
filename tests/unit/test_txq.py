"""firmware/ocpp/txq.py under MicroPython: the journal-full policy as the firmware lives
it (issue 4): intermediate samples are dropped first and the log says so; Start/Stop
are never dropped; when only undroppable messages fill it, put() refuses the new one,
says so in the log, and everything queued before stays, in order."""
import json

from tests import mp

CODE = r"""
import os, json
from firmware import log
from firmware.ocpp.txq import TxQueue
P = '/tmp/txq_test_j'
for f in (P, P + '.tmp'):
    try: os.remove(f)
    except OSError: pass
q = TxQueue(P, None, max_bytes=4096, max_records=200)
q.open()
out = {}
ids = []
for i in range(150):
    q.put('StartTransaction', {'connectorId': 1, 'idTag': 'T%d' % i, 'meterStart': i, 'timestamp': 'x'}, meta={'ltx': i})
    for k in range(3):
        q.put('MeterValues', {'connectorId': 1, 'meterValue': [{'timestamp': 'x', 'sampledValue': [{'value': str(k)}]}]}, droppable=True)
        if q.j.dropped and 'droplog' not in out:
            out['droplog'] = log.tail(2)
out['dropped'] = q.j.dropped
out['full'] = q.full_events
kinds = [r['a'] for _, r in q.j.pending()]
out['starts'] = [r['p']['idTag'] for _, r in q.j.pending() if r['a'] == 'StartTransaction']
out['samples'] = kinds.count('MeterValues')
out['log'] = log.tail(64)
print(json.dumps(out))
"""


def test_journal_full_policy_and_log(tmp_path):
    code = CODE.replace("'/tmp/txq_test_j'", repr(str(tmp_path / "txq_test_j")))
    out = json.loads(mp.run(code).stdout.strip().splitlines()[-1])
    n = len(out["starts"])
    # samples went first, then the journal refused new starts: the queued ones stay in order
    assert out["dropped"] > 0 and out["full"] > 0
    assert out["starts"] == ["T%d" % i for i in range(n)] and 0 < n < 150
    assert "meter sample(s) dropped to make room" in out["droplog"][-1]
    assert "StartTransaction not queued" in "\n".join(out["log"])


FLASH_CODE = r"""
import os, sys, json, store
from firmware import log
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
out['log'] = log.tail(64)
print(json.dumps(out))
"""


def test_failed_flash_writes_are_retried_after_a_remount(tmp_path):
    """A failed flash write (EIO) inside put() or an ack: the journal has the board
    remount the file system (store.fault), the queue tries again, nothing is lost or
    duplicated, and the log says so."""
    p = mp.run(FLASH_CODE, args=(str(tmp_path / "f.img"),))
    out = json.loads(p.stdout.strip().splitlines()[-1])
    assert all(out["put"]) and out["flash_errors"] == 0, out
    assert out["remounts"] >= 6         # (an armed failure may land in the next put)
    assert out["after"] == ["T%d" % i for i in range(4, 12)], out["after"]
    assert any("flash write failed" in line for line in out["log"])
