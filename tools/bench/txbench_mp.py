"""Micro-bench behind tools/bench/txbench.py (runs under micropython): the real adapters queue
one-hour transactions with a sample every 60 s into a real journal; prints bytes each."""
import sys, os, json
sys.path.append('tests/fixtures')
from fakeboard import Board
from firmware.evse.station import Station
from firmware.persist.settings import Settings
from firmware.persist.state import Persist
from firmware.clock import Clock
from firmware.ocpp.v16.core import Adapter16
from firmware.ocpp.v201.core import Adapter201
def rm(d):
    try:
        for n in os.listdir(d):
            p = d + '/' + n
            try: os.remove(p)
            except OSError: rm(p)
        os.rmdir(d)
    except OSError: pass
CFG = {'max_current': 32, 'ocpp': '1.6', 'csms': 'ws://x', 'id': 'T', 'password': '', 'profile': 0}
def measure(cls, measurands, n_tx=3, samples=60):
    for f in ('/tmp/jb_s.json', '/tmp/jb_p.json'):
        try: os.remove(f)
        except OSError: pass
    rm('/tmp/jb_flash'); os.mkdir('/tmp/jb_flash')
    b = Board(1); p = Persist('/tmp/jb_p.json'); p.load()
    st = Station(b, CFG, p); st.load()
    s = Settings('/tmp/jb_s.json'); s.load()
    if measurands:
        s.set("MeterValuesSampledData", measurands)
    a = cls(st, s, CFG, Clock(), p, None, '/tmp/jb_flash')
    e = st.evses[0]
    e.meter_seen = True; e.authorized = True; e.token = "CARD0001"; e.cp = 2
    e.meter(1000.0, 7000, (230.1, 229.8, 231.0), (10.1, 10.0, 9.9))
    s0 = a.txq.j.size
    for k in range(n_tx):
        a.tx_begin(1, e, "Authorized")
        for i in range(samples):
            e.meter(1000.0 + i * 116.7, 7000, (230.1, 229.8, 231.0), (10.1, 10.0, 9.9))
            a.tx_sample(e)
        a.tx_end(1, e, "EVDisconnected")
    return (a.txq.j.size - s0) // n_tx, a.txq.j.count
for name, cls in (("1.6", Adapter16), ("2.0.1", Adapter201)):
    for ms in (None, "Energy.Active.Import.Register,Power.Active.Import,Current.Import,Voltage"):
        per, cnt = measure(cls, ms)
        short, _ = measure(cls, None, n_tx=5, samples=0)
        print(name, ms or "default", "bytes/tx(1h,60 samples)=%d" % per, "short tx=%d" % short)
