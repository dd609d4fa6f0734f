"""Fault matrix: every fault in every state -> relay open, the right OCPP status and
error code (1.6 errorCode, 2.0.1 connectorStatus), and the stated recovery rule.

Runs the kernel and both adapters' status derivation under MicroPython on an in-memory
board (tests/fixtures/fakeboard.py); one process computes the whole matrix."""
import json

import pytest

from tests import mp

FAULTS = ("rcd", "weld", "lock", "meter", "diode", "overtemp", "overcurrent", "pilot", "vent")
STATES = ("Preparing", "Charging", "SuspendedEV", "SuspendedEVSE")

# fault -> (1.6 errorCode, faulted?, recovery action)
EXPECT = {
    "rcd": ("GroundFailure", True, "unplug"),            # IEC 61851-1 / EVerest: clear in A
    "weld": ("PowerSwitchFailure", True, "clear"),       # feedback open again
    "lock": ("ConnectorLockFailure", True, "unplug"),
    "meter": ("PowerMeterFailure", False, "clear"),      # pauses charging, not Faulted
    "diode": ("EVCommunicationError", True, "unplug"),
    "overtemp": ("HighTemperature", True, "clear"),      # below 55 C
    "overcurrent": ("OverCurrentFailure", True, "unplug"),
    "pilot": ("EVCommunicationError", True, "unplug"),   # pilot short (E)
    "vent": ("OtherError", True, "unplug"),              # state D without ventilation
}

# Where a fault cannot arise (no PWM for a diode check, relay never closed for a weld,
# lock already confirmed), the cell is not applicable and says why.
NA = {
    ("weld", "Preparing"): "relay never closed",
    ("lock", "Charging"): "locked before closing; feedback loss is a later issue",
    ("lock", "SuspendedEV"): "already locked",
    ("lock", "SuspendedEVSE"): "already locked",
    ("diode", "SuspendedEVSE"): "no PWM while paused by the EVSE",
    ("overcurrent", "Preparing"): "no current without the relay",
    ("overcurrent", "SuspendedEV"): "no current without the relay",
    ("overcurrent", "SuspendedEVSE"): "no current without the relay",
}

CODE = r"""
import sys, json, time
sys.path.append('tests/fixtures')
from fakeboard import Board
from firmware.evse import evse as K
from firmware.evse.station import Station
from firmware.settings import Settings
from firmware.settings import Persist
from firmware.clock import Clock
from firmware.ocpp.v16.core import Adapter16
from firmware.ocpp.v201.core import Adapter201
import os
V = {'A': 12000, 'B': 9000, 'C': 6000, 'D': 3000, 'E': 0}
FAULTS = %s
STATES = %s
NA = %s
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
    for f in ('/tmp/fm_s.json', '/tmp/fm_p.json'):
        try: os.remove(f)
        except OSError: pass
    rmtree('/tmp/fm_flash'); os.mkdir('/tmp/fm_flash'); os.mkdir('/tmp/fm_flash/a'); os.mkdir('/tmp/fm_flash/b')
    b = Board(1)
    p = Persist('/tmp/fm_p.json'); p.load()
    st = Station(b, CFG, p); st.load()
    s = Settings('/tmp/fm_s.json'); s.load()
    a16 = Adapter16(st, s, CFG, Clock(), p, None, '/tmp/fm_flash/a')
    a201 = Adapter201(st, s, CFG, Clock(), p, None, '/tmp/fm_flash/b')
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
        time.sleep_ms(320); step(e, 2)         # F is held 300 ms, then +12 V
        pilot(b, 'A')
    e.meter(100, 0, (230, 230, 230), (0, 0, 0))
    step(e, 6)
out = {}
for f in FAULTS:
    for s in STATES:
        if (f, s) in NA: continue
        b, e, a16, a201 = setup()
        to_state(b, e, s)
        before = a16.status(1)
        inject(b, e, f)
        r = {'before': before, 'relay': b.relay[0].on, 's16': a16.status(1), 's201': a201.status(1),
             'errors': e.errors, 'pilot': b.pilot[0].mode}
        out[f + '/' + s] = r
print(json.dumps(out))
"""

RECOVER = r"""
out = {}
for f in FAULTS:
    how = HOW[f]
    b, e, a16, a201 = setup()
    to_state(b, e, 'Charging')
    inject(b, e, f)
    faulted = a16.status(1)
    recover(b, e, f, how)
    out[f] = {'faulted': faulted, 'after': a16.status(1), 's201': a201.status(1), 'errors': e.errors}
print(json.dumps(out))
"""


def _prelude():
    na = {"%s" % k[0]: None for k in NA}
    na = "{%s}" % ", ".join("(%r, %r): 1" % k for k in NA)
    return CODE % (repr(FAULTS), repr(STATES), na)


def _in(tmp_dir, code):
    # the files of each run in a folder of its own (other runs on the machine: not /tmp)
    return code.replace("/tmp/fm_", "%s/fm_" % tmp_dir)


@pytest.fixture(scope="module")
def matrix(tmp_path_factory):
    p = mp.run(_in(tmp_path_factory.mktemp("matrix"), _prelude()), timeout=120)
    return json.loads(p.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="module")
def recovery(tmp_path_factory):
    how = "HOW = %r\n" % {f: EXPECT[f][2] for f in FAULTS if f not in ("lock",)}
    code = _prelude().rsplit("out = {}", 1)[0] + how + RECOVER.replace("for f in FAULTS:", "for f in HOW:")
    p = mp.run(_in(tmp_path_factory.mktemp("recovery"), code), timeout=120)
    return json.loads(p.stdout.strip().splitlines()[-1])


CELLS = [(f, s) for f in FAULTS for s in STATES]


@pytest.mark.parametrize("fault,state", CELLS, ids=["%s-%s" % c for c in CELLS])
def test_fault_in_state(matrix, fault, state):
    if (fault, state) in NA:
        assert "%s/%s" % (fault, state) not in matrix      # documented: cannot arise
        return
    r = matrix["%s/%s" % (fault, state)]
    code, faulted, _ = EXPECT[fault]
    assert r["relay"] is False, r
    if faulted:
        assert r["s16"] == ["Faulted", code], r
        assert r["s201"] == "Faulted", r
    else:
        # meter loss: charging pauses, the error is reported, the connector is not Faulted
        assert r["s16"][1] == code and r["s16"][0] in ("SuspendedEVSE", "Preparing", "SuspendedEV"), r
        assert r["s201"] == "Occupied", r


@pytest.mark.parametrize("fault", [f for f in FAULTS if f != "lock"])
def test_recovery_rule(recovery, fault):
    """After the stated recovery (unplug, or the condition clearing) no error remains."""
    r = recovery[fault]
    assert r["faulted"][1] == EXPECT[fault][0]
    assert r["errors"] == 0, r
    if EXPECT[fault][2] == "unplug":
        assert r["after"] == ["Available", "NoError"], r
        assert r["s201"] == "Available"
    else:
        assert r["after"][0] != "Faulted" and r["after"][1] == "NoError", r


def test_lock_failure_recovers_on_unplug(matrix):
    r = matrix["lock/Preparing"]
    assert r["s16"] == ["Faulted", "ConnectorLockFailure"] and r["relay"] is False
