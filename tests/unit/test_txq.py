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


def test_journal_full_policy_and_log():
    out = json.loads(mp.run(CODE).stdout.strip().splitlines()[-1])
    n = len(out["starts"])
    # samples went first, then the journal refused new starts: the queued ones stay in order
    assert out["dropped"] > 0 and out["full"] > 0
    assert out["starts"] == ["T%d" % i for i in range(n)] and 0 < n < 150
    assert "meter sample(s) dropped to make room" in out["droplog"][-1]
    assert "StartTransaction not queued" in "\n".join(out["log"])
