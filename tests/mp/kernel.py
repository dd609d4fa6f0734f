"""The kernel (firmware/evse) with an in-memory board (tests/fixtures/fakeboard.py): the
safety tick and the state machine stepped by hand, one scenario per rule; tests/unit/
test_kernel.py asserts on the states, pilot modes, events and error names reported.
Time that must pass (a timeout, the F hold) is moved back on the kernel's own stamps,
not slept through."""
import micropython

import sys
import time

sys.path.append('tests/fixtures')
from fakeboard import Board, Events
from firmware.evse import evse as evse_kernel
from firmware.evse.pilot import classify, duty_permille, amps_from_permille, NAMES
from out import report

ERRORS = ('rcd', 'weld', 'lock', 'meter', 'diode', 'overtemp', 'overcurrent', 'pilot', 'vent',
          'relay')




def errors(e, bits=None):
    """The kernel's error bits by name (evse_kernel.ERR_RCD -> 'rcd')."""
    bits = e.errors if bits is None else bits
    return [n for n in ERRORS if bits & getattr(evse_kernel, 'ERR_' + n.upper())]


V = {'A': 12000, 'B': 9000, 'C': 6000, 'D': 3000, 'E': 0, 'F': -12000}


def make(**cfg):
    b = Board(1); ev = Events()
    c = {'max_current': 32}; c.update(cfg)
    e = evse_kernel.Evse(1, b, c, ev)
    e.meter_seen = True          # no meter task here: as if the first reading had arrived
    return b, e, ev


def ev_state(b, s):
    b.pilot[0].hi = V[s]


def step(e, n=3):
    for _ in range(n):
        e.tick(); e.poll(time.ticks_ms())


def snap(b, e):
    return {'state': evse_kernel.STATE_NAMES[e.state], 'relay': b.relay[0].on, 'pilot': b.pilot[0].mode,
            'duty': b.pilot[0].duty, 'errors': errors(e), 'cp': NAMES[e.cp]}
out = {}

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
step(e); b.rcd[0].trip = False; step(e); out['rcd_still'] = errors(e)
ev_state(b, 'A'); step(e); out['rcd_cleared'] = errors(e)
# a trip only a pin interrupt saw (a pulse between two ticks: the input reads healthy
# again): the count changed, so the tick faults the EVSE all the same
b, e, ev = make(); ev_state(b, 'C'); step(e, 6)
b.rcd[0].trips += 1; e.tick(); out['rcd_pulse'] = [b.relay[0].on, b.pilot[0].mode, errors(e, e.err_t)]
step(e); ev_state(b, 'A'); step(e); out['rcd_pulse_cleared'] = errors(e)

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

# A token accepted while FINISHED (stopped, cable in) is the next session's: a card
# presented around an unplug and replug the state machine has not polled yet
b, e, ev = make(auth='ocpp'); ev_state(b, 'C'); e.authorize(True, 'T1'); step(e, 6)
e.stop(); ev_state(b, 'B'); step(e, 4); out['finished'] = snap(b, e)
ev_state(b, 'A'); e.tick(); e.authorize(True, 'T2')     # unplugged, not polled yet
out['finished_auth'] = (e.authorized, e.token)
step(e); ev.items.clear(); out['next_idle'] = (snap(b, e)['state'], e.authorized, e.token)
ev_state(b, 'C'); step(e, 6); out['next_session'] = snap(b, e)
# a session still WaitingForAuthentication (its start deauthorized at once): the unplug
# seen by the tick, not yet by the state machine
b, e, ev = make(auth='ocpp'); ev_state(b, 'B'); step(e)
ev_state(b, 'A'); e.tick(); e.authorize(True, 'T4'); step(e); ev_state(b, 'B'); step(e)
out['wait_auth_unplug'] = (snap(b, e)['state'], e.token)
# ... and with the cable still in (1.6 Finishing -> Preparing on an idTag)
e.stop(); ev_state(b, 'B'); step(e, 4); ev.items.clear(); e.authorize(True, 'T3'); step(e)
out['replug_less'] = (snap(b, e)['state'], e.authorized, e.token, list(ev.items))

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
ev_state(b, 'A'); step(e, 3); out['lock_cleared'] = errors(e)
# Lock that works: locked before the relay closes, unlocked after unplug
b, e, ev = make(); ev_state(b, 'C'); step(e, 6)
out['lock_ok'] = (b.lock[0].locked, b.relay[0].on)
ev_state(b, 'A'); step(e, 3); out['unlocked'] = b.lock[0].locked

# After a fault the pilot holds F for >= 300 ms, then steady +12 V
b, e, ev = make(); ev_state(b, 'C'); step(e, 6); b.rcd[0].trip = True; step(e, 2)
out['f_hold'] = b.pilot[0].mode
e.f_ms = time.ticks_add(e.f_ms, -350); step(e, 2); out['f_after'] = b.pilot[0].mode

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

# A listener out of heap (MemoryError) loses no event: collected and called once more,
# else the event is kept and handed over at the next poll (Station.deliver_owed), in order
from firmware.evse.station import Station


class State(dict):
    def save(self):
        pass


class Hungry:
    """A listener whose next `fails` calls raise MemoryError (and take nothing)."""
    def __init__(self):
        self.fails = 0
        self.got = []

    def __call__(self, eid, event, data):
        if self.fails:
            self.fails -= 1
            raise MemoryError('simulated')
        self.got.append(event)


b = Board(1)
st = Station(b, {'max_current': 32}, State())
st.load()
h = Hungry(); other = []
st.listeners.append(h)
st.listeners.append(lambda eid, event, data: other.append(event))
e = st.evses[0]; e.meter_seen = True
ev_state(b, 'C'); step(e, 6)
h.fails = 1                     # once: the second call (after gc.collect) takes it
ev_state(b, 'A'); step(e, 3)
out['nomem_once'] = list(h.got[-2:])
ev_state(b, 'C'); step(e, 6)
h.fails = 3                     # twice in emit, once more at the first delivery
n0 = len(h.got)
ev_state(b, 'A'); step(e, 1)    # (the run loop's poll hands kept events over first)
out['nomem_kept'] = st.owed
st.deliver_owed(); out['nomem_kept2'] = st.owed
st.deliver_owed()
out['nomem_twice'] = h.got == other and st.owed == 0
out['nomem_events'] = h.got[n0:]

out['classify'] = [NAMES[classify(mv, p)] for mv, p in (
    (10500, 1), (10500, 2), (7500, 2), (7500, 3), (4500, 3), (4500, 4), (-1500, 5), (-1500, 1),
    (-10500, 6), (-10500, 1), (14000, 1), (-14000, 1), (12000, 3), (9000, 1), (6000, 2), (3000, 3))]
out['duty'] = [duty_permille(a) for a in (5, 6, 10, 16, 32, 51, 60, 80, 90)]
out['amps'] = [amps_from_permille(d) for d in (50, 100, 533, 850, 880, 960, 970)]
report(out)
