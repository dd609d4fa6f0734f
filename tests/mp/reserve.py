"""Reservations in the kernel (firmware/evse/reserve.py) with an in-memory board and a
dict-backed state: answers, who may start on a held EVSE, station-wide reservations,
expiry by an injected clock, and the list surviving a new Station on the same state.
tests/unit/test_reserve.py asserts on what this reports."""
import sys
import time

sys.path.append('tests/fixtures')
from fakeboard import Board
from firmware.evse import evse as K
from firmware.evse.station import Station
from out import report


class State(dict):
    """Persist's interface over a dict; a failing flash when `fail`."""
    fail = False

    def save(self):
        if self.fail:
            raise OSError(28)


class Clock:
    t = 1000000

    def now(self):
        return self.t


def make(n, persist, clock, **cfg):
    b = Board(n)
    c = {'max_current': 32, 'auth': 'ocpp'}
    c.update(cfg)
    st = Station(b, c, persist, clock)
    st.load()
    ev = []
    st.listeners.append(lambda eid, event, data: ev.append([eid, event, data]))
    for e in st.evses:
        e.meter_seen = True
    return b, st, ev


def step(st, n=3):
    for _ in range(n):
        st.tick()
        for e in st.evses:
            e.poll(time.ticks_ms())


def held(st):
    return [None if e.reserved() is None else e.reserved()[0] for e in st.evses]


out = {}
ps, clk = State(), Clock()
b, st, ev = make(2, ps, clk)
step(st)
e1, e2 = st.evses
out['accept'] = e1.reserve(1, 'TAG1', 'PARENT', clk.t + 60)
out['same_evse'] = e1.reserve(2, 'TAG2')                     # EVSE 1 is reserved already
out['no_evse'] = st.reserve(3, 5, 'TAG3')
out['wide'] = st.reserve(4, 0, 'TAG4', None, clk.t + 600)   # EVSE 2, the last free one, held
out['wide_full'] = st.reserve(5, 0, 'TAG5')
out['held'] = held(st)
out['events'] = [x for x in ev if x[1].startswith('Reservation')]
out['saved'] = [list(x) for x in ps.get('resv')]
# the same state after a restart: the reservations are back
b2, st2, ev2 = make(2, ps, clk)
out['reloaded'] = held(st2)
# another token is refused on a held EVSE, a token with the parent id is taken (Used)
e1, e2 = st2.evses
e1.authorize(True, 'OTHER')
out['other'] = e1.authorized
e1.authorize(True, 'CHILD', 'parent')                        # parent ids compare case-insensitively
out['child'] = [e1.authorized, e1.resv_used]
out['used_events'] = [x for x in ev2 if x[1] == 'ReservationEnd']
out['after_use'] = held(st2)
# the station-wide one's token starts on EVSE 2
e2.authorize(True, 'tag4')
out['wide_use'] = [e2.authorized, e2.resv_used, list(st2.resv.items)]
# the session ends: resv_used goes with it
b2.pilot[0].hi = 9000; step(st2); b2.pilot[0].hi = 12000; step(st2)
out['session_end'] = [K.STATE_NAMES[e1.state], e1.resv_used]

# expiry by the station clock; cancel; Removed when the EVSE is made Inoperative
ps, clk = State(), Clock()
b, st, ev = make(1, ps, clk)
step(st)
e = st.evses[0]
out['exp_accept'] = e.reserve(7, 'TAG7', None, clk.t + 5)
st.resv.poll()
out['before_expiry'] = held(st)
clk.t += 5
st.resv.poll()
out['after_expiry'] = [held(st), ev[-1]]
out['cancel_none'] = e.cancel_reservation(7)
e.reserve(8, 'TAG8', None, clk.t + 60)
out['replace'] = e.reserve(8, 'TAG9', None, clk.t + 60)      # the same id replaces it
out['replaced'] = [list(x) for x in st.resv.items]
out['cancel'] = [e.cancel_reservation(8), held(st), ev[-1]]
e.reserve(9, 'TAG9', None, clk.t + 60)
st.change_availability(1, False)
step(st)
st.resv.poll()
out['removed'] = [held(st), ev[-1]]
out['unavailable'] = e.reserve(10, 'TAG10')
st.change_availability(1, True)
step(st)
b.rcd[0].trip = True
step(st)
out['faulted'] = e.reserve(11, 'TAG11')
b.rcd[0].trip = False
b.pilot[0].hi = 9000
step(st, 6)
out['occupied'] = e.reserve(12, 'TAG12')

# free charging: a reserved EVSE waits for its token instead of starting at plug-in
ps, clk = State(), Clock()
b, st, ev = make(1, ps, clk, auth='free')
step(st)
e = st.evses[0]
ps.fail = True                                               # not on flash: not accepted
out['not_saved'] = [e.reserve(14, 'TAG14'), held(st)]
ps.fail = False
e.reserve(13, 'TAG13')
b.pilot[0].hi = 9000
step(st, 6)
out['free_reserved'] = [K.STATE_NAMES[e.state], e.authorized]
e.authorize(True, 'TAG13')
step(st, 3)
out['free_token'] = [K.STATE_NAMES[e.state], e.resv_used]
report(out)
