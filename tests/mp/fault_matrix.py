"""Fault matrix (tests/unit/test_fault_matrix.py): the kernel and both adapters' status
derivation on an in-memory board (tests/fixtures/fakeboard.py), every fault in every
state, or the recovery rule of each fault.

argv: MODE (matrix | recovery), DIR (the run's own files; DIR/cases.json: faults,
states, na [[fault, state], ...], how {fault: "unplug" | "clear"}). Reports per cell the relay,
the 1.6 status and error code, the 2.0.1 connector status and the kernel's error names.
Time that must pass (the F hold, lock retries) is moved back on the kernel's stamps."""
import json
import os
import sys
import time

sys.path.append('tests/fixtures')
from fakeboard import Board
from firmware.evse import evse as evse_kernel
from firmware.evse.station import Station
from firmware.persist.settings import Settings
from firmware.persist.state import Persist
from firmware.clock import Clock
from firmware.ocpp.v16.core import Adapter16
from firmware.ocpp.v201.core import Adapter201
from out import report
V = {'A': 12000, 'B': 9000, 'C': 6000, 'D': 3000, 'E': 0}
MODE, DIR = sys.argv[1], sys.argv[2]
with open(DIR + '/cases.json') as _f:
    CASES = json.load(_f)
FAULTS = CASES['faults']
STATES = CASES['states']
NA = {(f, s): 1 for f, s in CASES['na']}
HOW = CASES.get('how', {})
ERRORS = ('rcd', 'weld', 'lock', 'meter', 'diode', 'overtemp', 'overcurrent', 'pilot', 'vent',
          'relay')




def errors(e):
    """The kernel's error bits by name (evse_kernel.ERR_RCD -> 'rcd')."""
    return [n for n in ERRORS if e.errors & getattr(evse_kernel, 'ERR_' + n.upper())]
CFG = {'max_current': 32, 'ocpp': '1.6', 'csms': 'ws://x', 'id': 'T', 'password': '', 'profile': 0}


def rmtree(d):
    try:
        for n in os.listdir(d):
            p = d + '/' + n
            try: os.remove(p)
            except OSError: rmtree(p)
        os.rmdir(d)
    except OSError:
        pass


def setup():
    for f in (DIR + '/fm_s.json', DIR + '/fm_p.json'):
        try: os.remove(f)
        except OSError: pass
    rmtree(DIR + '/fm_flash'); os.mkdir(DIR + '/fm_flash'); os.mkdir(DIR + '/fm_flash/a'); os.mkdir(DIR + '/fm_flash/b')
    b = Board(1)
    p = Persist(DIR + '/fm_p.json'); p.load()
    st = Station(b, CFG, p); st.load()
    s = Settings(DIR + '/fm_s.json'); s.load()
    a16 = Adapter16(st, s, CFG, Clock(), p, None, DIR + '/fm_flash/a')
    a201 = Adapter201(st, s, CFG, Clock(), p, None, DIR + '/fm_flash/b')
    st.evses[0].meter_seen = True     # no meter task here: as if read once
    return b, st.evses[0], a16, a201


def step(e, n=3):
    for _ in range(n):
        e.tick(); e.poll(time.ticks_ms())


def pilot(b, s): b.pilot[0].hi = V[s]


def to_state(b, e, name):
    pilot(b, 'B'); step(e, 8)
    if name == 'Preparing': return
    pilot(b, 'C'); step(e, 8)
    e.meter(100, 7000, (230, 230, 230), (10, 10, 10))
    if name == 'SuspendedEV': pilot(b, 'B'); step(e, 4)
    if name == 'SuspendedEVSE':
        e.pause(); step(e); pilot(b, 'B'); step(e, 4)


def inject(b, e, f):
    if f == 'rcd': b.rcd[0].trip = True
    elif f == 'weld':
        b.relay[0].welded = True; pilot(b, 'B'); step(e, 2); e.opened_ms = time.ticks_add(time.ticks_ms(), -2000)
    elif f == 'lock':
        e.locked = False; b.lock[0].locked = False; b.lock[0].broken = True
        for _ in range(5):
            step(e, 2)
            if e._t_lock: e._t_lock = time.ticks_add(e._t_lock, -2000)
    elif f == 'meter': e.meter_fail = True
    elif f == 'diode': b.pilot[0].lo = 0
    elif f == 'overtemp': e.temp_c = 80
    elif f == 'overcurrent':
        e.meter(100, 9000, (230, 230, 230), (40, 40, 40)); step(e, 1)
        e._t_oc = time.ticks_add(e._t_oc, -7000)
    elif f == 'pilot': pilot(b, 'E')
    elif f == 'vent': pilot(b, 'D')
    step(e, 4)


def recover(b, e, f, how):
    if f == 'rcd': b.rcd[0].trip = False
    if f == 'weld': b.relay[0].welded = False
    if f == 'lock': b.lock[0].broken = False
    if f == 'meter': e.meter_fail = False
    if f == 'diode': b.pilot[0].lo = -12000
    if f == 'overtemp': e.temp_c = 40
    if f == 'overcurrent': e.meter(100, 0, (230, 230, 230), (0, 0, 0))
    if how == 'unplug':
        e.f_ms = time.ticks_add(e.f_ms, -320) if e.f_ms else 0   # F held 300 ms,
        step(e, 2)                                                # then +12 V
        pilot(b, 'A')
    e.meter(100, 0, (230, 230, 230), (0, 0, 0))
    step(e, 6)


def run_matrix():
    out = {}
    for f in FAULTS:
        for s in STATES:
            if (f, s) in NA: continue
            b, e, a16, a201 = setup()
            to_state(b, e, s)
            before = a16.status(1)
            inject(b, e, f)
            r = {'before': before, 'relay': b.relay[0].on, 's16': a16.status(1), 's201': a201.status(1),
                 'errors': errors(e), 'pilot': b.pilot[0].mode}
            out[f + '/' + s] = r
    return out


def run_recovery():
    out = {}
    for f in FAULTS:
        how = HOW[f]
        b, e, a16, a201 = setup()
        to_state(b, e, 'Charging')
        inject(b, e, f)
        faulted = a16.status(1)
        recover(b, e, f, how)
        out[f] = {'faulted': faulted, 'after': a16.status(1), 's201': a201.status(1), 'errors': errors(e)}
    return out


report(run_matrix() if MODE == 'matrix' else run_recovery())
