"""firmware/ocpp/txq.py's journal-full policy (tests/unit/test_txq.py).

argv: PATH — the journal file"""
from out import report
import os, json
from firmware import log
from firmware.ocpp.txq import TxQueue
import sys
P = sys.argv[1]
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
report(out)
