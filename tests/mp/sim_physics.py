"""The simulated board's world and HAL (boards/sim), the physics stepped by hand on a
fake clock (tests/unit/test_sim.py): pilot levels, the EV model, relay current ramps and
energy, the meter, injected faults, the allocation-free safety-tick path, the input ring,
publish/reset/reboot, and the tick thread (waited for by condition, not by duration)."""
import array
import asyncio
import micropython
import time

from boards.sim import Reset
from boards.sim.board import SimBoard
from boards.sim import world
from out import report


def FB(kind):
    return 1 << world.FAULTS.index(kind)            # a fault's bit


PWM = 1                                         # the world's pilot mode of a PWM offer
T = [1000]

def clk():
    return T[0] & 0x3FFFFFFF

b = SimBoard(1, ev_max_a=32, ev_capacity_wh=1000, ev_soc=50, ramp_a_s=5, clock=clk)
w = b.world
p, r, lk, rc, m = b.pilot[0], b.relay[0], b.lock[0], b.rcd[0], b.meter[0]
buf = array.array('i', (0, 0))
def run_ms(ms, dt=10):
    for _ in range(ms // dt):
        T[0] += dt
        w.step()

def lv():
    return list(p.sample())

out = {}
out['A_x1'] = lv()
w.plug(0); run_ms(20); out['B_x1'] = lv()
p.pwm(533); run_ms(100); out['B_pwm'] = lv()
run_ms(200); out['C_pwm'] = lv(); out['ev_C'] = world.LETTERS[w.ev_cp[0]]
p.pwm(50); run_ms(500); out['hlc_5pct'] = world.LETTERS[w.ev_cp[0]]       # 5 %: not a valid offer
p.x1(); run_ms(500); out['x1'] = world.LETTERS[w.ev_cp[0]]
p.pwm(533); run_ms(300)
w.fault(0, FB('diode')); out['diode'] = lv(); w.clear(0, FB('diode'))
p.f(); out['F'] = lv(); p.pwm(533)
w.set_ev(0, world.LETTERS.index('E')); out['E'] = lv(); w.set_ev(0, -1); run_ms(300)
out['offers'] = [world.offer_ma(PWM, d) for d in (100, 533, 850, 900, 960, 99, 961)]
# relay closed in C: current ramps at 5 A/s up to min(offer, EV max)
r.set(True); run_ms(20); out['fb_closed'] = r.feedback()
run_ms(1000); out['a_1s'] = w.ma[0]
run_ms(10000); out['a_11s'] = w.ma[0]
w.draw(0, 16); run_ms(100); out['a_draw16'] = w.ma[0]
e0 = w.energy_mj[0]; run_ms(60000, 1000); out['wh_1min_16a'] = (w.energy_mj[0] - e0) / 3600000
wh, watts, volts, amps = asyncio.run(m.read())
out['meter'] = [watts, list(volts), list(amps)]
# weld: contacts stay closed after the open command, current keeps flowing
w.fault(0, FB('weld')); r.set(False); run_ms(50)
out['weld'] = [r.feedback(), w.ma[0]]
w.clear(0, FB('weld')); run_ms(20); out['weld_cleared'] = [r.feedback(), w.ma[0]]
# fault -> relay commanded open, timed
r.set(True); run_ms(20)
w.fault(0, FB('rcd')); out['rcd'] = [rc.tripped(), w.ma[0]]
T[0] += 30; r.set(False); run_ms(10)
out['fault_ms'] = w.fault_ms[0]; w.clear(0, FB('rcd'))
w.fault(0, FB('overtemp')); out['hot'] = b.temp_c(0); w.clear(0, FB('overtemp'))
out['cool'] = b.temp_c(0)
lk.set(True); run_ms(20); w.fault(0, FB('lock')); lk.set(False); run_ms(50)
out['lock_stuck'] = lk.feedback(); w.clear(0, FB('lock')); run_ms(20); out['lock_free'] = lk.feedback()
w.fault(0, FB('meter'))
try:
    asyncio.run(m.read()); out['meter_fault'] = None
except OSError as e:
    out['meter_fault'] = e.errno
w.clear(0, FB('meter'))
# a full battery: the EV goes back to B and draws nothing
r.set(True); w.soc(0, 100); run_ms(50); out['full'] = [world.LETTERS[w.ev_cp[0]], w.ma[0]]
w.soc(0, 50); w.unplug(0); out['unplugged'] = lv()
# the safety-tick path allocates nothing
micropython.heap_lock()
try:
    p.sample(buf); r.set(True); r.set(False); r.feedback(); rc.tripped(); lk.set(True)
    lk.feedback(); p.pwm(500); p.x1(); p.f()
    out['noalloc'] = True
except MemoryError:
    out['noalloc'] = False
micropython.heap_unlock()
# input ring: bounded, oldest first
pushed = [b.queue_tag(0, 'T%d' % k) for k in range(16)]
out['ring'] = [pushed.count(True), pushed[-1], b.inputs()[:2], b.inputs()]
b.queue_stall(5); out['stall'] = b.inputs()
b.publish(0, ocpp_status='Charging', tx_id='tx1', bogus=1, errors=[1, 2])
b.publish(0, **dict(('x%d' % k, k) for k in range(8)))     # 7 more spare slots, then full
b.publish(-1, connected=True, registration='Accepted', ocpp='1.6')
st = b.status()
out['status'] = [st['connected'], st['registration'], st['ocpp'], st['publish_unknown'],
                 st['evses'][0]['ocpp_status'], st['evses'][0]['tx_id'],
                 st['evses'][0]['errors'], st['evses'][0]['evse'], st['evses'][0]['bogus'],
                 sorted(k for k in st['evses'][0] if k[0] == 'x')]
try:
    b.reset('test')
except Reset as e:
    out['reset'] = [e.reason, isinstance(e, Exception)]
p.pwm(533); r.set(True); b.reboot()
out['reboot'] = [w.relay_cmd[0], w.pmode[0], b.pub[0].d['tx_id'], b.boots]
# the tick thread: runs cb every period, stops, fails safe when cb raises
n = [0]

def cb():
    n[0] += 1

def until(cond, ms=10000):
    t0 = time.ticks_ms()
    while not cond() and time.ticks_diff(time.ticks_ms(), t0) < ms:
        time.sleep_ms(5)


b.start_tick(cb, 5); until(lambda: n[0] > 5); b.stop_tick(); k = n[0]; time.sleep_ms(30)
out['tick'] = [k > 5, n[0] == k]

def bad():
    raise ValueError('boom')

r.set(True); b.start_tick(bad, 5); until(lambda: b.tick_error is not None)
out['tick_fail'] = [w.relay_cmd[0], b.tick_error]
report(out)
