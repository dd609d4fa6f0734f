"""Kernel (firmware/evse) under MicroPython with an in-memory board: the safety tick and
the state machine stepped by hand, one scenario per rule."""
import json

import pytest

from tests import mp

PRELUDE = r"""
import sys, json, time
sys.path.append('tests/fixtures')
from fakeboard import Board, Events
from firmware.evse import evse as K
from firmware.evse.pilot import classify, duty_permille, amps_from_permille, NAMES
V = {'A': 12000, 'B': 9000, 'C': 6000, 'D': 3000, 'E': 0, 'F': -12000}
def make(**cfg):
    b = Board(1); ev = Events()
    c = {'max_current': 32}; c.update(cfg)
    e = K.Evse(1, b, c, ev)
    e.meter_seen = True          # no meter task here: as if the first reading had arrived
    return b, e, ev
def ev_state(b, s):
    b.pilot[0].hi = V[s]
def step(e, n=3):
    for _ in range(n):
        e.tick(); e.poll(time.ticks_ms())
def snap(b, e):
    return {'state': K.STATE_NAMES[e.state], 'relay': b.relay[0].on, 'pilot': b.pilot[0].mode,
            'duty': b.pilot[0].duty, 'errors': e.errors, 'cp': NAMES[e.cp]}
out = {}
"""

SCENARIOS = r"""
# IEC 61851-1 A.4: B -> PWM offer (free charging authorizes at plug-in)
b, e, ev = make()
step(e); out['idle'] = snap(b, e)
ev_state(b, 'B'); step(e); out['plug'] = snap(b, e); out['plug_events'] = list(ev.items)
ev_state(b, 'C'); step(e); out['charge'] = snap(b, e)
# C -> B: relay opens in the very next tick, before any poll
ev_state(b, 'C'); ev_state(b, 'B'); e.tick(); e.tick(); out['c_to_b_tick'] = b.relay[0].on
step(e); out['paused_ev'] = snap(b, e)
ev_state(b, 'C'); step(e); ev_state(b, 'A'); e.tick(); out['unplug_tick'] = b.relay[0].on
step(e); out['unplugged'] = snap(b, e); out['events'] = list(ev.items)

# No power before the first meter reading after boot: meterStart must be the register
b, e, ev = make(); e.meter_seen = False; ev_state(b, 'C'); step(e, 6)
out['no_meter_yet'] = snap(b, e)
e.meter_seen = True; step(e, 6); out['meter_read'] = snap(b, e)

# EV-side disconnect with the session kept (OCPP StopTransactionOnEVSideDisconnect false)
b, e, ev = make(); e.hold_on_unplug = True; e.unlock_on_unplug = False
ev_state(b, 'C'); step(e, 6); ev.items.clear()
ev_state(b, 'A'); e.tick(); out['hold_tick'] = b.relay[0].on; step(e, 4)
out['held'] = snap(b, e); out['held_lock'] = b.lock[0].locked; out['held_events'] = list(ev.items)
ev_state(b, 'C'); step(e, 6); out['held_resumed'] = snap(b, e)
e.stop(); step(e, 6); ev_state(b, 'A'); step(e, 4); out['held_end'] = snap(b, e)
out['held_end_lock'] = b.lock[0].locked; out['held_end_events'] = list(ev.items)[-2:]

# RCD trip while charging: opened by the tick, pilot F, cleared only on unplug
b, e, ev = make(); ev_state(b, 'C'); step(e, 6)
b.rcd[0].trip = True; e.tick(); out['rcd_tick'] = (b.relay[0].on, b.pilot[0].mode)
step(e); b.rcd[0].trip = False; step(e); out['rcd_still'] = e.errors & K.ERR_RCD
ev_state(b, 'A'); step(e); out['rcd_cleared'] = e.errors & K.ERR_RCD
# a trip only a pin interrupt saw (a pulse between two ticks: the input reads healthy
# again): the count changed, so the tick faults the EVSE all the same
b, e, ev = make(); ev_state(b, 'C'); step(e, 6)
b.rcd[0].trips += 1; e.tick(); out['rcd_pulse'] = [b.relay[0].on, b.pilot[0].mode, bool(e.err_t & K.ERR_RCD)]
step(e); ev_state(b, 'A'); step(e); out['rcd_pulse_cleared'] = e.errors & K.ERR_RCD

# Diode missing: no -12 V low level while PWM runs
b, e, ev = make(); ev_state(b, 'C'); step(e, 6)
b.pilot[0].lo = 0; e.tick(); out['diode_one'] = b.relay[0].on; e.tick(); out['diode_tick'] = b.relay[0].on; step(e)
out['diode'] = snap(b, e)

# State D without ventilation: never closes, VentilationNotAvailable
b, e, ev = make(); ev_state(b, 'D'); step(e, 5); out['vent'] = snap(b, e)
b, e, ev = make(ventilation=True); ev_state(b, 'D'); step(e, 5); out['vent_ok'] = snap(b, e)

# Less than 6 A available: pause, steady +12 V
b, e, ev = make(); e.set_limit(5); ev_state(b, 'B'); step(e); out['low_limit'] = snap(b, e)
e.set_limit(16); step(e); out['limit_16'] = snap(b, e)

# Plug-in timeout: authorized without a plug-in within ConnectionTimeOut -> withdrawn
b, e, ev = make(auth='ocpp'); e.plugin_timeout_s = 1; e.authorize(True); step(e)
out['preauth'] = e.authorized
e._t_auth = time.ticks_add(e._t_auth, -1500); step(e)
out['plugin_timeout'] = (e.authorized, 'PluginTimeout' in ev.items)

# Authorization required
b, e, ev = make(auth='ocpp'); ev_state(b, 'C'); step(e); out['wait_auth'] = snap(b, e)
e.authorize(True); step(e, 6); out['authorized'] = snap(b, e)

# Disabled during a session: the session finishes first, then Unavailable
b, e, ev = make(); ev_state(b, 'C'); step(e, 6); e.enable(False); step(e)
out['disable_in_session'] = snap(b, e); ev_state(b, 'A'); step(e); out['disabled'] = snap(b, e)
ev_state(b, 'B'); step(e); out['disabled_plug'] = snap(b, e)

# Pause by the EVSE: steady +12 V, wait for B, then open
b, e, ev = make(); ev_state(b, 'C'); step(e, 6); e.pause(); step(e)
out['pausing'] = snap(b, e); ev_state(b, 'B'); step(e, 3); out['paused'] = snap(b, e)
e.resume(); step(e); out['resumed'] = snap(b, e)

# Welded relay: feedback stays closed after opening
b, e, ev = make(); ev_state(b, 'C'); step(e, 6); b.relay[0].welded = True
ev_state(b, 'B'); step(e); e.opened_ms = time.ticks_ms() - 2000; step(e); out['weld'] = snap(b, e)

# Lock that never locks: no power, ConnectorLockFailure after bounded retries
b, e, ev = make(); b.lock[0].broken = True; ev_state(b, 'C')
drives = []
for _ in range(5):
    step(e, 2); drives.append(e._lock_tries); e._t_lock = time.ticks_add(e._t_lock, -2000) if e._t_lock else 0
step(e, 2); out['lock'] = snap(b, e); out['lock_drives'] = drives
ev_state(b, 'A'); step(e, 3); out['lock_cleared'] = e.errors & K.ERR_LOCK
# Lock that works: locked before the relay closes, unlocked after unplug
b, e, ev = make(); ev_state(b, 'C'); step(e, 6)
out['lock_ok'] = (b.lock[0].locked, b.relay[0].on)
ev_state(b, 'A'); step(e, 3); out['unlocked'] = b.lock[0].locked

# After a fault the pilot holds F for >= 300 ms, then steady +12 V
b, e, ev = make(); ev_state(b, 'C'); step(e, 6); b.rcd[0].trip = True; step(e, 2)
out['f_hold'] = b.pilot[0].mode
time.sleep_ms(350); step(e, 2); out['f_after'] = b.pilot[0].mode

# Relay that never confirms closing: PowerSwitchFailure, opened
b, e, ev = make(); b.relay[0].feedback = lambda: False; ev_state(b, 'C'); step(e, 6)
e._t_close = time.ticks_add(e._t_close, -1000); step(e, 2); out['no_confirm'] = snap(b, e)

# Overcurrent: the EV draws more than offer x 1.1 + 0.5 A for > 6 s
b, e, ev = make(); e.set_limit(16); ev_state(b, 'C'); step(e, 6)
e.meter(100, 4000, (230, 230, 230), (18.2, 18.2, 18.2)); step(e, 1)
e._t_oc = time.ticks_add(e._t_oc, -7000); step(e, 2); out['oc'] = snap(b, e)
b, e, ev = make(); e.set_limit(16); ev_state(b, 'C'); step(e, 6)
e.meter(100, 4000, (230, 230, 230), (18.0, 18.0, 18.0)); step(e, 1)
e._t_oc = time.ticks_add(e._t_oc, -7000) if e._t_oc else 0; step(e, 2); out['oc_ok'] = snap(b, e)

# The safety tick allocates nothing
import micropython
b, e, ev = make(); ev_state(b, 'C'); step(e, 6)
def ticks(e, rcd):
    n = 0
    while n < 50:
        e.tick()
        n += 1
    rcd.trip = True
    e.tick()
ok = True
micropython.heap_lock()
try:
    ticks(e, b.rcd[0])
except MemoryError:
    ok = False
micropython.heap_unlock()
out['tick_alloc_free'] = ok and not b.relay[0].on

out['classify'] = [NAMES[classify(mv, p)] for mv, p in (
    (10500, 1), (10500, 2), (7500, 2), (7500, 3), (4500, 3), (4500, 4), (-1500, 5), (-1500, 1),
    (-10500, 6), (-10500, 1), (14000, 1), (-14000, 1), (12000, 3), (9000, 1), (6000, 2), (3000, 3))]
out['duty'] = [duty_permille(a) for a in (5, 6, 10, 16, 32, 51, 60, 80, 90)]
out['amps'] = [amps_from_permille(d) for d in (50, 100, 533, 850, 880, 960, 970)]
print(json.dumps(out))
"""


@pytest.fixture(scope="module")
def r():
    p = mp.run(PRELUDE + SCENARIOS, timeout=60)
    return json.loads(p.stdout.strip().splitlines()[-1])


def test_plug_in_offers_pwm(r):
    assert r["idle"]["pilot"] == "x1" and r["idle"]["state"] == "Idle"
    assert r["plug"] == dict(r["plug"], state="PrepareCharging", pilot="pwm", duty=533, relay=False)
    assert r["plug_events"][:2] == ["SessionStarted", "PrepareCharging"]


def test_state_c_closes_relay(r):
    assert r["charge"]["relay"] is True and r["charge"]["state"] == "Charging"


def test_no_power_before_first_meter_reading(r):
    # the session is prepared (PWM offered) but the relay waits for the meter
    assert r["no_meter_yet"]["relay"] is False and r["no_meter_yet"]["state"] == "PrepareCharging"
    assert r["meter_read"]["relay"] is True and r["meter_read"]["state"] == "Charging"


def test_ev_side_disconnect_held(r):
    # the tick opens at A regardless; the session stays, locked, PWM off, until a stop
    assert r["hold_tick"] is False
    assert r["held"]["state"] == "ChargingPausedEV" and r["held"]["pilot"] == "x1"
    assert r["held_lock"] is True and "SessionFinished" not in r["held_events"]
    assert "EVDisconnected" in r["held_events"]
    assert r["held_resumed"]["state"] == "Charging" and r["held_resumed"]["relay"] is True
    assert r["held_end"]["state"] == "Idle" and r["held_end_lock"] is False
    assert r["held_end_events"][-1] == "SessionFinished"


def test_c_to_b_opens_in_tick(r):
    # IEC 61851-1: C -> B opens at once; the tick does it without a poll in between
    assert r["c_to_b_tick"] is False
    assert r["paused_ev"]["state"] == "ChargingPausedEV" and r["paused_ev"]["pilot"] == "pwm"


def test_unplug_ends_session(r):
    assert r["unplug_tick"] is False
    assert r["unplugged"]["state"] == "Idle" and r["unplugged"]["pilot"] == "x1"
    assert r["events"][-2:] == ["ChargingFinished", "SessionFinished"]


def test_rcd_trip(r):
    assert r["rcd_tick"] == [False, "f"]
    assert r["rcd_still"] and not r["rcd_cleared"]
    assert r["rcd_pulse"] == [False, "f", True] and not r["rcd_pulse_cleared"]


def test_diode_fault(r):
    # one burst without the -12 V level may straddle a PWM <-> X1 switch: two in a row trip
    assert r["diode_one"] is True and r["diode_tick"] is False
    assert r["diode"]["errors"] & 16 and r["diode"]["relay"] is False


def test_state_d_needs_ventilation(r):
    assert r["vent"]["relay"] is False and r["vent"]["errors"] & 256
    assert r["vent_ok"]["relay"] is True and r["vent_ok"]["state"] == "Charging"


def test_below_6a_pauses(r):
    assert r["low_limit"]["state"] == "ChargingPausedEVSE" and r["low_limit"]["pilot"] == "x1"
    assert r["limit_16"]["duty"] == 267 and r["limit_16"]["state"] == "PrepareCharging"


def test_plugin_timeout(r):
    # OCPP ConnectionTimeOut / EVConnectionTimeOut: authorization without plug-in expires
    assert r["preauth"] is True and r["plugin_timeout"] == [False, True]


def test_authorization_required(r):
    assert r["wait_auth"]["state"] == "WaitingForAuthentication" and r["wait_auth"]["pilot"] == "x1"
    assert r["authorized"]["state"] == "Charging" and r["authorized"]["relay"] is True


def test_disable_waits_for_session_end(r):
    assert r["disable_in_session"]["state"] == "Charging"
    assert r["disabled"]["state"] == "Disabled"
    assert r["disabled_plug"]["state"] == "Disabled" and r["disabled_plug"]["relay"] is False


def test_evse_pause(r):
    assert r["pausing"]["state"] == "StoppingCharging" and r["pausing"]["pilot"] == "x1"
    assert r["paused"]["state"] == "ChargingPausedEVSE" and r["paused"]["relay"] is False
    assert r["resumed"]["pilot"] == "pwm"


def test_welded_relay(r):
    assert r["weld"]["errors"] & 2


def test_lock_failure_blocks(r):
    # bounded retries (3 drives), then ConnectorLockFailure; cleared on unplug
    assert r["lock"]["relay"] is False and r["lock"]["errors"] & 4
    assert max(r["lock_drives"]) == 3 and not r["lock_cleared"]
    assert r["lock_ok"] == [True, True] and r["unlocked"] is False


def test_state_f_held_after_fault(r):
    # IEC 61851-1 Table A.5: F for at least 300 ms after a fault, then X1
    assert r["f_hold"] == "f" and r["f_after"] == "x1"


def test_relay_close_not_confirmed(r):
    assert r["no_confirm"]["errors"] & 512 and r["no_confirm"]["relay"] is False


def test_overcurrent_rule(r):
    # EVerest: > offer x 1.1 + 0.5 A (16 A -> 18.1 A) for more than 6 s
    assert r["oc"]["errors"] & 64 and r["oc"]["relay"] is False
    assert not r["oc_ok"]["errors"] & 64 and r["oc_ok"]["relay"] is True


def test_tick_allocates_nothing(r):
    assert r["tick_alloc_free"] is True


def test_classify_hysteresis(r):
    # IEC 61851-1 Table A.4 bands with hysteresis on the previous state
    assert r["classify"] == ["A", "B", "B", "C", "C", "D", "E", "X", "F", "X", "X", "X",
                             "A", "B", "C", "D"]


def test_duty_from_current(r):
    # 6-51 A: A/0.6 %; 51-80 A: A/2.5 + 64 % (in permille); <6 A: nothing to offer
    assert r["duty"] == [0, 100, 167, 267, 533, 850, 880, 960, 960]
    assert r["amps"] == [0, 6, 31, 51, 60, 80, 0]
