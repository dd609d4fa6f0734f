"""The simulated board (boards/sim) under MicroPython: the world's physics stepped by hand,
the HAL objects (allocation-free on the safety-tick path), the tick thread, the input
ring, publish/reset; then the real thing: a process with the world thread, the control
channel and a stand-in firmware, driven over TCP from here."""
import json
import socket
import time

import pytest

from tests import mp
from tools.simctl import free_port

PHYSICS = r"""
import json, array, asyncio, micropython, time
from boards.sim import Reset
from boards.sim.board import SimBoard
from boards.sim import world as W
FB = lambda kind: 1 << W.FAULTS.index(kind)     # a fault's bit
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
run_ms(200); out['C_pwm'] = lv(); out['ev_C'] = W.LETTERS[w.ev_cp[0]]
p.pwm(50); run_ms(500); out['hlc_5pct'] = W.LETTERS[w.ev_cp[0]]       # 5 %: not a valid offer
p.x1(); run_ms(500); out['x1'] = W.LETTERS[w.ev_cp[0]]
p.pwm(533); run_ms(300)
w.fault(0, FB('diode')); out['diode'] = lv(); w.clear(0, FB('diode'))
p.f(); out['F'] = lv(); p.pwm(533)
w.set_ev(0, W.LETTERS.index('E')); out['E'] = lv(); w.set_ev(0, -1); run_ms(300)
out['offers'] = [W.offer_ma(PWM, d) for d in (100, 533, 850, 900, 960, 99, 961)]
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
r.set(True); w.soc(0, 100); run_ms(50); out['full'] = [W.LETTERS[w.ev_cp[0]], w.ma[0]]
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
b.start_tick(cb, 5); time.sleep_ms(100); b.stop_tick(); k = n[0]; time.sleep_ms(30)
out['tick'] = [k > 5, n[0] == k]
def bad():
    raise ValueError('boom')
r.set(True); b.start_tick(bad, 5); time.sleep_ms(50)
out['tick_fail'] = [w.relay_cmd[0], b.tick_error]
print(json.dumps(out))
"""


def test_world_physics_and_hal():
    p = mp.run(PHYSICS, timeout=30)
    out = json.loads(p.stdout.strip().splitlines()[-1])
    assert out["A_x1"] == [12000, 12000]
    assert out["B_x1"] == [9000, 9000]
    assert out["B_pwm"] == [9000, -12000]                 # diode: -12 V low level
    assert out["C_pwm"] == [6000, -12000] and out["ev_C"] == "C"
    assert out["hlc_5pct"] == "B" and out["x1"] == "B"
    assert out["diode"] == [6000, -6000]                  # shorted diode: low = -high
    assert out["F"] == [-12000, -12000] and out["E"] == [0, 0]
    assert out["offers"] == [6000, 31980, 51000, 65000, 80000, 0, 0]
    assert out["fb_closed"] is True
    assert 4500 <= out["a_1s"] <= 5500 and out["a_11s"] == 31980
    assert out["a_draw16"] == 16000
    assert abs(out["wh_1min_16a"] - 3 * 230 * 16 / 60) < 1
    assert out["meter"] == [11040, [230.0] * 3, [16.0] * 3]
    assert out["weld"] == [True, 16000] and out["weld_cleared"] == [False, 0]
    assert out["rcd"] == [True, 0]
    assert out["fault_ms"] == 30
    assert out["hot"] == 85.0 and out["cool"] == 25.0
    assert out["lock_stuck"] is True and out["lock_free"] is False
    assert out["meter_fault"] == 110
    assert out["full"] == ["B", 0]
    assert out["unplugged"] == [12000, -12000]           # PWM still on: +-12 V
    assert out["noalloc"] is True
    assert out["ring"][0] == 15 and out["ring"][1] is False
    assert out["ring"][2] == [["tag", 0, "T0"], ["tag", 0, "T1"]] and out["ring"][3] == []
    assert out["stall"] == [["stall", 5]]
    spare = ["x%d" % k for k in range(8)]
    assert len(out["status"][3]) == 2 and out["status"][3] in spare   # the 8th name: no slot
    assert out["status"][:3] + out["status"][4:9] == [True, "Accepted", "1.6", "Charging",
                                                      "tx1", [1, 2], 1, 1]
    assert len(out["status"][9]) == 7
    assert out["reset"] == ["test", False]                # a BaseException: not caught by
    assert out["reboot"] == [0, 0, None, 1]               # `except Exception` in tasks
    assert out["tick"] == [True, True]
    assert out["tick_fail"] == [0, "ValueError('boom',)"]


# A stand-in firmware: a safety tick (PWM 32 A in B, relay closed in C, open otherwise
# and on RCD), an asyncio loop that serves inputs, reads the meter, locks, publishes.
STATION = r"""
import sys, time, asyncio, array, store
from boards.sim.board import SimBoard
port, img = int(sys.argv[-2]), sys.argv[-1]
b = SimBoard(1, flash_path=img, control=('127.0.0.1', port))
b.flash_mount('/flash')
store.cleanup('/flash')
runs = store.load_json('/flash/runs.json', 0)[0] + 1
store.save_json('/flash/runs.json', runs)
b.start()
buf = array.array('i', (0, 0))
def tick():
    hi = b.pilot[0].sample(buf)[0]
    if hi > 10500:
        b.pilot[0].x1(); b.relay[0].set(False)
    elif hi > 7500 or b.rcd[0].tripped() or hi < 4500:
        if hi > 7500:
            b.pilot[0].pwm(533)
        b.relay[0].set(False)
    else:
        b.relay[0].set(True)
async def main():
    n = 0
    while True:
        n += 1
        for ev in b.inputs():
            if ev[0] == 'stall':
                time.sleep_ms(ev[1])
            elif ev[2] == 'QUIT':
                return
            else:
                b.publish(ev[1], tx_id=ev[2])
        try:
            wh, w, v, a = await b.meter[0].read()
            err = None
        except OSError as e:
            err = 'meter %d' % e.errno
        hi = b.pilot[0].sample(buf)[0]
        b.lock[0].set(0 < hi < 10500)
        b.publish(0, session=n, error_code=err, ocpp_status='Occupied' if hi < 10500 else 'Available')
        b.publish(-1, connected=True, registration='Accepted', ocpp='stand-in')
        await asyncio.sleep_ms(20)
b.start_tick(tick, 10)
try:
    asyncio.run(main())
finally:
    b.stop()
print('RUNS', runs, b.flash_state)
"""


class Ctl:
    def __init__(self, port, timeout=10):
        deadline = time.monotonic() + timeout
        while True:
            try:
                self.s = socket.create_connection(("127.0.0.1", port), timeout=5)
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)
        self.f = self.s.makefile("rwb")

    def __call__(self, line):
        self.f.write(line.encode() + b"\n")
        self.f.flush()
        return json.loads(self.f.readline())

    def ev(self):
        return self("status")["evses"][0]

    def wait(self, pred, timeout=5, what=""):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            e = self.ev()
            if pred(e):
                return e
            time.sleep(0.02)
        raise AssertionError("timeout: %s; last %s" % (what, e))

    def close(self):
        self.f.close()
        self.s.close()


def start(img):
    port = free_port()
    proc = mp.popen(["-c", STATION, str(port), img], stdout=-1, stderr=-1, text=True)
    return proc, port


def finish(proc, c):
    assert c("tag 1 QUIT")["ok"]
    c.close()
    out, err = proc.communicate(timeout=10)
    assert proc.returncode == 0, (out, err)
    return out


@pytest.fixture
def station(tmp_path):
    img = str(tmp_path / "sim.img")
    proc, port = start(img)
    try:
        yield proc, port, img
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(5)


@pytest.mark.slow
def test_charging_session_over_control_channel(station):
    proc, port, img = station
    c = Ctl(port)
    st = c("status")
    assert st["ok"] and st["flash"] == "formatted" and st["evses"][0]["pilot"] == "A"
    assert c.wait(lambda e: e["ocpp_status"] == "Available", what="published")
    # the EV held in B: 9 V, the firmware offers 32 A (53.3 %), no power yet
    assert c("ev 1 B") == {"ok": True, "evse": 1}
    e = c.wait(lambda e: e["pwm"] == "pwm" and e["lock"] and e["ocpp_status"] == "Occupied",
               what="PWM offered, locked")
    assert e["pilot"] == "B" and e["pilot_mv"] == [9000, -12000]
    assert e["duty"] == 53.3 and e["offered_a"] == 31.98 and e["relay"] is False
    # the EV model takes over: C, relay closes, current ramps, energy rises
    c("ev 1 auto")
    e = c.wait(lambda e: e["relay"] and e["current_a"] > 0, what="charging")
    assert e["pilot"] == "C" and e["contacts"] is True
    wh0 = e["energy_wh"]
    e = c.wait(lambda e: e["energy_wh"] > wh0 + 0.2, what="energy rising")
    assert e["power_w"] > 0
    # several clients at once
    c2 = Ctl(port)
    assert c2("draw 1 10")["ok"] and c("status")["ok"]
    assert c2.wait(lambda e: e["current_a"] == 10.0, what="draw 10 A")["ev_max_a"] == 10.0
    c2.close()
    # RCD fault: the (stand-in) safety tick opens the relay, latency is reported
    assert c("fault 1 rcd")["ok"]
    e = c.wait(lambda e: not e["relay"] and e["fault_to_open_ms"] is not None, what="rcd open")
    assert e["faults"] == ["rcd"] and e["last_fault"] == "rcd" and e["current_a"] == 0
    assert 0 <= e["fault_to_open_ms"] < 500
    assert c("clear 1 rcd")["ok"]
    c.wait(lambda e: e["relay"] and not e["faults"], what="closed again")
    # meter, overtemp, weld, lock
    c("fault 1 meter")
    c.wait(lambda e: e["error_code"] == "meter 110", what="meter error seen")
    c("clear 1 meter")
    c.wait(lambda e: e["error_code"] is None, what="meter back")
    assert c("fault 1 overtemp")["ok"] and c.ev()["temp_c"] == 85.0
    c("clear 1 overtemp")
    c("fault 1 weld")
    c("unplug 1")
    e = c.wait(lambda e: e["pilot"] == "A" and not e["relay"], what="unplugged")
    assert e["contacts"] is True                         # welded: feedback stays closed
    c("clear 1 weld")
    c.wait(lambda e: not e["contacts"] and not e["lock"], what="weld cleared, unlocked")
    c("fault 1 lock")
    c("plug 1")
    e = c.wait(lambda e: e["relay"], what="charging without lock")
    assert e["lock"] is False                            # the stand-in ignores feedback
    c("clear 1 lock")
    # stall: returns at once, the channel answers while the loop is blocked
    n0 = c.ev()["session"]
    t0 = time.monotonic()
    assert c("stall 1500") == {"ok": True, "stall_ms": 1500}
    time.sleep(0.3)
    n1 = c.ev()["session"]
    worst = 0.0
    while time.monotonic() - t0 < 1.2:
        t = time.monotonic()
        e = c.ev()
        worst = max(worst, time.monotonic() - t)
        assert e["session"] == n1                         # the loop is really stalled
        time.sleep(0.05)
    assert n1 >= n0 and worst < 0.25
    c.wait(lambda e: e["session"] > n1, what="loop running again")
    # tag reaches the firmware through inputs()
    c("tag 1 CARD42")
    c.wait(lambda e: e["tx_id"] == "CARD42", what="tag")
    # errors
    for line, msg in (("plug 2", "out of range"), ("fault 1 smoke", "KIND"),
                      ("frobnicate", "unknown"), ("stall 0", "MS"), ("draw 1 x", ""),
                      ("ev 1 Z", "EV state")):
        r = c(line)
        assert r["ok"] is False and msg in r["error"], (line, r)
    c("unplug 1")
    c.wait(lambda e: e["pilot"] == "A" and not e["relay"] and e["pwm"] == "x1", what="A")
    out = finish(proc, c)
    assert "RUNS 1 formatted" in out


def test_flash_image_reused_across_runs(tmp_path):
    img = str(tmp_path / "sim.img")
    for n, how in ((1, "formatted"), (2, "mounted")):
        proc, port = start(img)
        try:
            c = Ctl(port)
            assert c("status")["flash"] == how
            out = finish(proc, c)
            assert "RUNS %d %s" % (n, how) in out
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait(5)
