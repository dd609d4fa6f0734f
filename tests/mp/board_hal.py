"""The real boards (boards/esp32_generic, boards/rp2_pico_w) on the unix port with the
fake `machine` (tests/fixtures/machine.py), for tests/unit/test_boards.py: pin maps, the
pilot's conversion and bursts, allocation-free safety path, RCD interrupt, Ctrl-C in the
tick, boot's safe modes, the watchdog and the kernel through the HAL.

argv: CASE [ARGS] — CASE one of the functions in CASES (ARGS: paths, see each)."""
import array
import micropython
import sys
import time

sys.path.insert(0, "tests/fixtures")

import machine  # noqa: E402  (the fake, from tests/fixtures)
from boards.common import pinmap  # noqa: E402
from firmware.evse.pilot import CP_A, NAMES, classify  # noqa: E402
from out import report  # noqa: E402


def load(name):
    hal = __import__("boards.%s.hal" % name, None, None, ["make_board"])
    pins = __import__("boards.%s.pins" % name, None, None, ["EVSE"])
    return hal, pins


def reading(pins, volts):
    # forward model of the documented divider (and of the port's ADC)
    r1, r2, r3 = pins.PILOT_R
    g1, g2, g3 = 1 / r1, 1 / r2, 1 / r3
    mv = (volts * 1000 * g1 + pins.VREF_MV * g2) / (g1 + g2 + g3)
    if pins.PILOT_UNIT_UV:
        return int(mv * 1000)                     # esp32 read_uv: microvolts
    v12 = int(mv * 4095 / pins.VREF_MV)           # rp2: 12 bits scaled to 16
    return (v12 << 4) | (v12 >> 8)


def wave(pins, hi, lo=-12, permille=1000):
    n_hi = (permille + 5) // 10
    return [reading(pins, hi)] * n_hi + [reading(pins, lo)] * (100 - n_hi)


def full_bursts(b):
    # The fake ADC plays its wave one value per read, not per microsecond, while a burst
    # lasts a time (the PWM period): a preempted test process would end a burst after a
    # few reads of one phase. A window no burst reaches: every burst reads its whole
    # buffer (256 values, 2.5 periods of a wave), however busy the machine.
    for p in b.pilot:
        p.calibrate(10000000)
    return b


def pin_maps(out):
    for name in ('esp32_generic', 'rp2_pico_w'):
        hal, pins = load(name)
        out[name] = pinmap.check(pins)
        out[name + '_roles'] = sorted(set(r.split('.')[-1] for r, _ in pinmap.roles(pins)))

    class Bad: pass
    def variant(name, **changes):
        _, pins = load(name)
        b = Bad()
        for k in dir(pins):
            if not k.startswith('__'):
                setattr(b, k, getattr(pins, k))
        ev = dict(pins.EVSE[0])
        st = dict(pins.STATION)
        for k, v in changes.items():
            if k in st: st[k] = v
            else: ev[k] = v
        b.EVSE = (ev,)
        b.STATION = st
        return b

    # rp2: a second PWM role on the pilot's slice (GPIO16 = slice 0 A; GPIO1 = slice 0 B)
    b = variant('rp2_pico_w')
    ev2 = dict(b.EVSE[0]); ev2.update(pilot_pwm=1, pilot_adc=27, relay=3, relay_feedback=4,
         lock_a=None, lock_b=None, lock_feedback=None, rcd=None)
    b.STATION = dict(b.STATION, meter_tx=8, meter_rx=9, meter_de=7)
    b.EVSE = (b.EVSE[0], ev2)
    out['slice'] = pinmap.check(b)
    out['slice_fn'] = [pinmap.pwm_slice(16), pinmap.pwm_slice(17), pinmap.pwm_slice(0)]
    out['dup'] = pinmap.check(variant('rp2_pico_w', relay=16))
    out['missing'] = pinmap.check(variant('rp2_pico_w', pilot_adc=None))
    out['radio'] = pinmap.check(variant('rp2_pico_w', lock_b=24))
    out['no_adc'] = pinmap.check(variant('rp2_pico_w', pilot_adc=21))
    out['esp_adc2'] = pinmap.check(variant('esp32_generic', pilot_adc=4, meter_de=5))
    out['esp_input_only'] = pinmap.check(variant('esp32_generic', relay=34, rcd=32))


def pilot_levels(out):
    for name in ('esp32_generic', 'rp2_pico_w'):
        hal, pins = load(name)
        b = hal.make_board(meters=False)
        full_bursts(b)
        p = b.pilot[0]
        adc = machine.ADCS[pins.EVSE[0]['pilot_adc']]
        buf = array.array('i', (0, 0))
        res = {}
        for v in (12, 9, 6, 3, 0, -12):
            adc.play(wave(pins, v, v))                   # steady level (X1, or a state without PWM)
            p.sample(buf)
            res[str(v)] = [buf[0], buf[1], NAMES[classify(buf[0], CP_A if v == 12 else 0)]]
        pw = {}
        for v in (9, 6, 3):                              # under 1 kHz PWM at 10 %, 53 %, 96 %
            for d in (100, 533, 960):
                adc.play(wave(pins, v, -12, d))
                p.sample(buf)
                pw['%d@%d' % (v, d)] = [buf[0], buf[1], NAMES[classify(buf[0], 0)]]
        out[name] = {'steady': res, 'pwm': pw, 'n': p.n, 'atten': adc.atten}


def pilot_outputs(out):
    hal, pins = load('rp2_pico_w')
    b = hal.make_board(meters=False)
    pwm = machine.PWMS[16]
    p = b.pilot[0]
    out['boot'] = pwm.duty                 # F until the firmware says otherwise
    p.x1(); out['x1'] = pwm.duty
    p.pwm(533); out['pwm'] = pwm.duty
    p.f(); out['f'] = pwm.duty
    out['freq'] = pwm.freq()
    from boards.common.pilot import Pilot
    q = Pilot(pwm, lambda: 0, 0, 1, invert=True, k=2)
    q.x1(); out['inv_x1'] = pwm.duty
    q.f(); out['inv_f'] = pwm.duty


def no_alloc(out):
    from firmware.evse.evse import Evse
    for name in ('esp32_generic', 'rp2_pico_w'):
        hal, pins = load(name)
        b = hal.make_board(meters=False)
        full_bursts(b)
        ev = pins.EVSE[0]
        machine.PINS[ev['rcd']].level = 1 - pins.RCD_ACTIVE
        machine.ADCS[ev['pilot_adc']].play(wave(pins, 6, -12, 533))
        k = Evse(1, b, {'max_current': 32}, lambda *a: None)
        b.start_tick(k.tick, 10)
        t = machine.TIMERS[pins.TICK_TIMER]
        buf = array.array('i', (0, 0))
        t.fire(); b.pilot[0].sample(buf)                # warm up (first-call caches)
        micropython.heap_lock()
        try:
            for _ in range(5):
                b.pilot[0].sample(buf)
                b.relay[0].set(True); b.relay[0].set(False); b.relay[0].feedback()
                b.rcd[0].tripped()
                b.lock[0].service(time.ticks_ms())
                b.pilot[0].f()
                t.fire()                                 # board callback + kernel tick + WDT beat
            ok = True
        except MemoryError:
            ok = False
        micropython.heap_unlock()
        out[name] = [ok, buf[0], buf[1], b.watchdog.ticks, b.tick_failed]


def burst_window(out):
    clock = [0]
    cost = [30]
    def ticks_us():
        return clock[0]
    class FakeTime:                       # what boards.common.pilot sees as `time`
        pass
    FakeTime.ticks_us = staticmethod(ticks_us)          # (a class body here cannot see
    FakeTime.ticks_diff = staticmethod(time.ticks_diff)  # the function's names)
    sys.modules['time'] = FakeTime
    from boards.common.pilot import Pilot
    sys.modules.pop('time')
    T = array.array('i', bytes(4 * 300))        # end of each read (fake us), preallocated
    n = [0]
    def read():                                 # an ADC read that takes cost[0] us
        clock[0] += cost[0]
        i = n[0]
        if i < 300:
            T[i] = clock[0]
        n[0] = i + 1
        return 40000
    p = Pilot(machine.PWM(machine.Pin(16)), read, 32572, 27324)
    out['calibrated'] = p.calibrate(1100)
    cost[0] = 10                                # cheaper reads in the tick
    buf = array.array('i', (0, 0))
    spans = []
    reads = []
    for _ in range(3):
        n[0] = 0
        micropython.heap_lock()
        try:
            p.sample(buf)
            ok = True
        except MemoryError:
            ok = False
        micropython.heap_unlock()
        k = n[0]
        spans.append(T[k - 1] - (T[0] - cost[0]))     # first read's start to last read's end
        reads.append(k)
        out['ok'] = ok
    out['spans'] = spans
    out['reads'] = reads
    out['n'] = p.n
    out['span_us'] = getattr(p, 'span_us', 0)


def rcd_irq(out):
    from firmware.evse.evse import Evse, STATE_NAMES, ERR_RCD
    LEVEL = {'A': 12, 'B': 9, 'C': 6}
    for name in ('esp32_generic', 'rp2_pico_w'):
        hal, pins = load(name)
        b = hal.make_board(meters=False)
        full_bursts(b)
        ev = pins.EVSE[0]
        P = machine.PINS
        act = pins.RCD_ACTIVE
        P[ev['rcd']].level = 1 - act
        adc = machine.ADCS[ev['pilot_adc']]
        pwm = machine.PWMS[ev['pilot_pwm']]
        k = Evse(1, b, {'max_current': 16}, lambda *a: None)
        k.meter_seen = True
        b.start_tick(k.tick, 10)
        t = machine.TIMERS[pins.TICK_TIMER]
        car = ['B']
        def world():
            d = pwm.duty * 1000 // 65535
            v = LEVEL[car[0]]
            adc.play(wave(pins, v, -12 if d < 1000 else v, d))
            if ev.get('relay_feedback') is not None:
                P[ev['relay_feedback']].level = P[ev['relay']].level
            if ev.get('lock_feedback') is not None:
                P[ev['lock_feedback']].level = 1 if b.lock[0].target else 0
        def step(n=3):
            for _ in range(n):
                world(); t.fire(); k.poll(time.ticks_ms())
        step(); car[0] = 'C'; step()
        charging = [STATE_NAMES[k.state], P[ev['relay']].level]
        P[ev['rcd']].drive(act)                 # no tick runs: the interrupt alone
        at_irq = P[ev['relay']].level
        P[ev['rcd']].drive(1 - act)             # a pulse, over before the next tick
        world(); t.fire()
        out[name] = [charging, at_irq, bool(k.err_t & ERR_RCD), P[ev['relay']].level, k.relay_on,
                     P[ev['rcd']].hard, b.tick_error]
        b.stop_tick()


def ctrl_c_tick(out):
    import asyncio
    hal, pins = load('rp2_pico_w')
    b = hal.make_board(meters=False)
    ev = pins.EVSE[0]
    relay = machine.PINS[ev['relay']]
    n = [0]
    def tick():                       # a kernel tick that closes the relay, then Ctrl-C
        n[0] += 1
        b.relay[0].set(True)
        if n[0] == 3:
            raise KeyboardInterrupt
    b.start_tick(tick, 10)
    t = machine.TIMERS[pins.TICK_TIMER]
    escaped = []
    for _ in range(5):
        try:
            t.fire()
        except KeyboardInterrupt:
            escaped.append(n[0])
    out['escaped'] = escaped
    out['calls'] = n[0]
    out['relay'] = relay.level
    out['pilot'] = machine.PWMS[ev['pilot_pwm']].duty
    out['failed'] = [b.tick_failed, b.tick_error]
    from boards.common.hostlink import HostLink
    try:                              # the host link reads nothing after it (mpremote's Ctrl-A)
        HostLink(b.n_evse, b.watchdog).inputs()
        out['link'] = 'read on'
    except KeyboardInterrupt:
        out['link'] = 'KeyboardInterrupt'
    b.watchdog.period_ms = 10
    async def main():                 # bounded: without the fix the task would run on
        try:
            await asyncio.wait_for_ms(b.watchdog.run(), 5000)
        except asyncio.TimeoutError:
            return 'ran on'
    try:
        out['loop'] = asyncio.run(main())
    except KeyboardInterrupt:
        out['loop'] = 'KeyboardInterrupt'


def boot_interrupted(out, flash):
    machine.start_threads()
    from boards.common import boot
    hal, pins = load('rp2_pico_w')
    ev = pins.EVSE[0]
    made = []
    def make():
        b = hal.make_board(meters=False)
        start = b.start_tick
        def start_tick(cb, period_ms):
            n = [0]
            def tick():
                cb()
                n[0] += 1
                if n[0] >= 20:                     # running a while: relay on, Ctrl-C
                    b.relay[0].set(True)
                    raise KeyboardInterrupt
            start(tick, period_ms)
        b.start_tick = start_tick
        made.append(b)
        return b
    out['reason'] = boot.boot(make, flash=flash)
    b = made[0]
    out['relay'] = machine.PINS[ev['relay']].level
    out['pilot'] = machine.PWMS[ev['pilot_pwm']].duty
    out['failed'] = b.tick_error
    out['resets'] = len(machine.RESETS)
    machine.stop_threads()


def boot_py(out):
    for name in ('esp32_generic', 'rp2_pico_w'):
        hal, pins = load(name)
        b = hal.make_board(meters=False)
        ev = pins.EVSE[0]
        b.pilot[0].pwm(533)
        b.relay[0].set(True)
        machine.PINS[ev['lock_a']].value(1)
        before = [machine.PINS[ev[r]].level for r in ('relay', 'lock_a')]
        machine.TIMERS.clear()                   # the soft reset: no tick any more
        exec(open('boards/%s/boot.py' % name).read(), {'__name__': '__main__'})
        P = machine.PINS
        out[name] = [before, P[ev['relay']].level, P[ev['lock_a']].level, P[ev['lock_b']].level,
                     P[ev['pilot_pwm']].level, P[ev['pilot_pwm']].mode == machine.Pin.OUT]


def button_held(out):
    from boards.common import boot
    hal, pins = load('rp2_pico_w')
    made = []
    def make():
        b = hal.make_board(meters=False)
        machine.PINS[pins.STATION['button']].level = 0       # held
        made.append(b)
        return b
    out['reason'] = boot.boot(make, flash='/nonexistent')
    b = made[0]
    out['tick'] = b._timer is None
    out['wdt'] = len(machine.WDTS)
    out['relay'] = machine.PINS[pins.EVSE[0]['relay']].level


def ctrl_c_rcd(out):
    from boards.common.io import Rcd
    hal, pins = load('rp2_pico_w')
    b = hal.make_board(meters=False)
    ev = pins.EVSE[0]
    pin = machine.PINS[ev['rcd']]
    relay = b.relay[0]
    set_ = relay.set
    calls = [0]
    def set_once_interrupted(on):          # Ctrl-C lands on the first call
        calls[0] += 1
        if calls[0] == 1:
            raise KeyboardInterrupt
        set_(on)
    relay.set(True)
    relay.set = set_once_interrupted
    escaped = False
    try:
        pin.drive(1 - pins.RCD_ACTIVE)
        pin.drive(pins.RCD_ACTIVE)        # the trip edge
    except KeyboardInterrupt:
        escaped = True
    out['escaped'] = escaped
    out['relay'] = machine.PINS[ev['relay']].level
    out['trips'] = b.rcd[0].trips


def watchdog_feeds(out):
    import asyncio
    hal, pins = load('rp2_pico_w')
    b = hal.make_board(meters=False)
    wd = b.watchdog
    wd.period_ms = 20
    n = [0]
    def cb():
        n[0] += 1
    machine.start_threads()                             # the timer fires from a thread
    b.start_tick(cb, 5)
    t = machine.TIMERS[-1]

    def feeds_between(t0, t1):
        return len([x for x in machine.WDTS[0].feeds if t0 <= x < t1])

    async def scenario():
        task = asyncio.create_task(wd.run())
        await asyncio.sleep_ms(200)
        t0 = time.ticks_ms(); await asyncio.sleep_ms(200); t1 = time.ticks_ms()
        out['healthy'] = feeds_between(t0, t1)
        t.hung = True                                    # the tick stops; the loop runs on
        await asyncio.sleep_ms(60)
        t0 = time.ticks_ms(); await asyncio.sleep_ms(300); t1 = time.ticks_ms()
        out['hung_tick'] = feeds_between(t0, t1)
        out['starved'] = wd.starved > 0
        t.hung = False
        await asyncio.sleep_ms(100)
        fired = t.fired
        fed = len(machine.WDTS[0].feeds)       # counted, not timed: a feed stamped in the
        time.sleep_ms(300)                      # same ms as a t0 would count; the loop blocks
        out['hung_loop'] = len(machine.WDTS[0].feeds) - fed
        out['tick_ran_meanwhile'] = t.fired - fired
        await asyncio.sleep_ms(100)
        t0 = time.ticks_ms(); await asyncio.sleep_ms(200); t1 = time.ticks_ms()
        out['recovered'] = feeds_between(t0, t1)
        task.cancel()

    asyncio.run(scenario())
    machine.stop_threads()
    b.stop_tick()
    out['timeout'] = machine.WDTS[0].timeout

    # the tick's callback raises: outputs safe, beats stop
    hal2, pins2 = load('esp32_generic')
    b2 = hal2.make_board(meters=False)
    def bad():
        raise ValueError('boom')
    b2.start_tick(bad, 10)
    b2.relay[0].set(True); b2.pilot[0].x1()
    machine.TIMERS[0].fire()
    out['fail'] = [b2.tick_failed, machine.PINS[pins2.EVSE[0]['relay']].level,
                   machine.PWMS[pins2.EVSE[0]['pilot_pwm']].duty, b2.watchdog.ticks]


def kernel_hal(out):
    from firmware.evse.evse import Evse, STATE_NAMES, ERR_RCD
    hal, pins = load('rp2_pico_w')
    b = hal.make_board(meters=False)
    full_bursts(b)
    ev = pins.EVSE[0]
    P = machine.PINS
    P[ev['rcd']].level = 1                               # RCD healthy (active low)
    adc = machine.ADCS[ev['pilot_adc']]
    pwm = machine.PWMS[ev['pilot_pwm']]
    events = []
    k = Evse(1, b, {'max_current': 16}, lambda i, e, d: events.append(e))
    k.meter_seen = True                                  # no meter task here
    b.start_tick(k.tick, 10)
    t = machine.TIMERS[-1]
    LEVEL = {'A': 12, 'B': 9, 'C': 6}
    car = ['A']
    def world():
        # the EV's resistor network on the pilot the HAL drives
        d = pwm.duty * 1000 // 65535
        v = LEVEL[car[0]]
        adc.play(wave(pins, v, -12 if d < 1000 else v, d))
        P[ev['relay_feedback']].level = P[ev['relay']].level          # mirror contact
        P[ev['lock_feedback']].level = 1 if b.lock[0].target else 0   # the latch follows
    def step(n=3):
        for _ in range(n):
            world(); t.fire(); k.poll(time.ticks_ms())
    def snap():
        return [STATE_NAMES[k.state], NAMES[k.cp], P[ev['relay']].level, pwm.duty * 1000 // 65535,
                P[ev['lock_a']].level, P[ev['lock_b']].level]
    step(); out['idle'] = snap()
    car[0] = 'B'; step(); out['plugged'] = snap()
    car[0] = 'C'; step(); out['charging'] = snap()
    b.lock[0].service(time.ticks_add(time.ticks_ms(), 1000)); out['pulse_over'] = snap()
    P[ev['rcd']].level = 0; world(); t.fire(); out['rcd_tick'] = snap()
    out['rcd_err'] = bool(k.err_t & ERR_RCD)
    P[ev['rcd']].level = 1
    time.sleep_ms(350)                                   # F held 300 ms after a fault (Table A.5)
    car[0] = 'A'; step(4); out['unplugged'] = snap()
    out['tick_error'] = b.tick_error
    out['events'] = events
    out['temp'] = b.temp_c(0)


def safe_mode(out, ok, bad, tmp, flash):
    from boards.common import boot
    from firmware import log
    log.echo = False
    hal, pins = load('esp32_generic')
    out['ok'] = boot.read_config(ok)[1]
    cfg, out['bad'] = boot.read_config(bad)
    out['bad_default'] = cfg['max_current']
    out['missing'] = boot.read_config(tmp + '/none.json')[1]
    r = boot.boot(hal.make_board, flash=flash, hold_s=1)
    out['boot'] = r
    out['resets'] = len(machine.RESETS)
    out['relay'] = machine.PINS[pins.EVSE[0]['relay']].level
    out['pilot'] = machine.PWMS[pins.EVSE[0]['pilot_pwm']].duty
    out['log'] = [l for l in log.tail(20) if 'SAFE MODE' in l][:1]
    b = hal.make_board(meters=False)
    cfg = {'evses': 2, 'max_current': 63}
    boot.fit_to_board(cfg, b)
    out['fit'] = cfg


CASES = {"pin_maps": pin_maps, "pilot_levels": pilot_levels, "pilot_outputs": pilot_outputs,
         "no_alloc": no_alloc, "burst_window": burst_window, "rcd_irq": rcd_irq,
         "ctrl_c_tick": ctrl_c_tick, "boot_interrupted": boot_interrupted, "boot_py": boot_py,
         "button_held": button_held, "ctrl_c_rcd": ctrl_c_rcd, "watchdog_feeds": watchdog_feeds,
         "kernel_hal": kernel_hal, "safe_mode": safe_mode}
result = {}
CASES[sys.argv[1]](result, *sys.argv[2:])
report(result)
