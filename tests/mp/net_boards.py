"""Network bring-up of the real boards (boards/common: wifi, sntp, net, ui) on the unix
port with the fake `machine` and `network` (tests/fixtures), for tests/unit/test_net.py.

argv: CASE [ARGS] — CASE one of the functions in CASES; ARGS: the ports of the test's
servers on 127.0.0.1, or a file (see each function)."""
import asyncio
import json
import sys
import time

sys.path.insert(0, "tests/fixtures")

import machine  # noqa: E402  (the fakes, from tests/fixtures)
import network  # noqa: E402
from boards.common import sntp  # noqa: E402
from boards.common import wifi  # noqa: E402
from firmware import log  # noqa: E402
from out import report  # noqa: E402

log.echo = False
FAIL = {network.STAT_WRONG_PASSWORD: "wrong password",
        network.STAT_NO_AP_FOUND: "no AP", network.STAT_CONNECT_FAIL: "failed"}


def make_wifi(ssid="home", pw="secret123", **kw):
    return wifi.Wifi(network.WLAN(0), network.WLAN(1), ssid, pw, "MicroEVSE-TEST", "setupkey1",
                     fail_codes=FAIL, rand=lambda: 0, **kw)


def civil(out, *ts):
    out["c"] = [list(sntp.civil(int(t))) for t in ts]


def wifi_back_off(out):
    network.APS['home'] = 'secret123'
    w = make_wifi(clock=lambda: 0)
    w.start()
    sta = network.WLAN(0)
    out['active'] = sta.on
    w.step(0); out['s0'] = wifi.STATE_NAMES[w.state]
    w.step(250); out['s1'] = [wifi.STATE_NAMES[w.state], w.ip]
    w.step(500); out['steady'] = wifi.STATE_NAMES[w.state]
    del network.APS['home']                           # the AP goes away
    now = 1000
    w.step(now); out['dropped'] = [wifi.STATE_NAMES[w.state], w.drops]
    starts = []
    n0 = w.attempts
    while now < 600000:
        now += 250
        w.step(now)
        if w.attempts != n0:
            n0 = w.attempts
            starts.append(now)
    out['gaps'] = [b - a for a, b in zip(starts, starts[1:])]
    out['first_retry'] = starts[0] - 1000
    out['fails'] = w.fails
    network.APS['home'] = 'secret123'                 # back
    while w.state != wifi.UP:
        now += 250
        w.step(now)
    out['back'] = [wifi.STATE_NAMES[w.state], w.fails]
    # wrong password: at once, no waiting for the connect timeout
    network.APS['home'] = 'other-password'
    w.step(now + 250); out['wrong_drop'] = wifi.STATE_NAMES[w.state]
    t = now + 250
    while w.state != wifi.CONNECTING:
        t += 250; w.step(t)
    w.step(t + 250); out['wrong'] = [wifi.STATE_NAMES[w.state], w.fails, w.why]
    # a connect that never completes: timeout after connect_ms
    network.APS['home'] = 'secret123'
    network.STALL = True
    while w.state != wifi.CONNECTING:
        t += 250; w.step(t)
    t0 = t
    while w.state == wifi.CONNECTING:
        t += 250; w.step(t)
    out['stall_ms'] = t - t0
    network.STALL = False
    network.REFUSE = True
    n0, f0 = w.attempts, w.fails
    while w.attempts == n0:
        t += 250; w.step(t)
    out['refused'] = [wifi.STATE_NAMES[w.state], w.fails - f0, w.why]
    network.REFUSE = False


def wifi_jitter(out):
    w = make_wifi()
    w._rand = lambda: 123456789
    out['b'] = [w.backoff_ms(n) for n in (0, 1, 2, 6, 7, 40)]


def wifi_asyncio(out, port):
    from boards.common.net import Net
    network.APS['home'] = 'secret123'
    network.ASSOC_MS = 60
    w = make_wifi()
    w.poll_ms = 10
    w.backoff_min_ms = 100
    rtc = machine.RTC()
    ts = sntp.TimeSync(rtc, '127.0.0.1', lambda: w.up, port=int(port), epoch_s=0,
                       seconds=lambda: rtc.seconds(1970))
    ts.timeout_ms = 300
    net = Net(w, ts)
    gaps = [0]
    async def monitor():
        t = time.ticks_ms()
        while True:
            await asyncio.sleep_ms(5)
            n = time.ticks_ms()
            gaps[0] = max(gaps[0], time.ticks_diff(n, t) - 5)
            t = n
    async def main():
        m = asyncio.create_task(monitor())
        t0 = time.ticks_ms()
        out['ready_short'] = await net.ready(30)         # not yet: gives up after its bound
        out['ready_short_ms'] = time.ticks_diff(time.ticks_ms(), t0)
        net.start()
        out['ready'] = await net.ready(3000)
        out['up_ms'] = time.ticks_diff(time.ticks_ms(), t0)
        out['time_ok'] = ts.time_ok
        del network.APS['home']
        await asyncio.sleep_ms(50)
        out['down'] = wifi.STATE_NAMES[w.state]
        t1 = time.ticks_ms()
        network.APS['home'] = 'secret123'
        while not w.up:
            await asyncio.sleep_ms(5)
        out['reconnect_ms'] = time.ticks_diff(time.ticks_ms(), t1)
        out['status'] = net.status()
        net.deinit()
        out['after'] = [wifi.STATE_NAMES[w.state], network.WLAN(0).on]
        m.cancel()
    asyncio.run(main())
    out['stall'] = gaps[0]


def setup_ap(out):
    from boards.common.net import make_net
    for name in ('esp32_generic', 'rp2_pico_w'):
        network.reset()
        hal = __import__('boards.%s.hal' % name, None, None, ['make_board'])
        b = hal.make_board(meters=False)
        net = make_net({'id': 'CP-1', 'wifi_ssid': '', 'wifi_password': '', 'ntp': 'pool.ntp.org'},
                       b.port)
        net.wifi.start()
        ap, sta = network.WLAN(1), network.WLAN(0)
        out[name] = {'ap_calls': ap.calls, 'ap_on': ap.on, 'sta_on': sta.on, 'state': net.wifi.state,
                     'status': net.status()}
        net.setup_ap(1000)              # a long press changes nothing: no expiry when unconfigured
        net.wifi.step(time.ticks_add(time.ticks_ms(), 5000))
        out[name]['still'] = ap.on
    # configured: the AP only on request, held for hold_ms
    network.reset()
    network.APS['home'] = 'secret123'
    hal = __import__('boards.rp2_pico_w.hal', None, None, ['make_board'])
    b = hal.make_board(meters=False)
    net = make_net({'id': 'CP-1', 'wifi_ssid': 'home', 'wifi_password': 'secret123', 'ntp': 'x',
                    'setup_password': 'my-own-secret'}, b.port)
    w = net.wifi
    w.start()
    out['sta_calls'] = network.WLAN(0).calls
    out['cfg_ap'] = network.WLAN(1).on
    t0 = time.ticks_ms()
    net.setup_ap(60000)
    out['held'] = [network.WLAN(1).on, network.WLAN(1).cfg.get('key')]
    w.step(time.ticks_add(t0, 59000)); out['at59'] = network.WLAN(1).on
    w.step(time.ticks_add(t0, 60100)); out['at60'] = network.WLAN(1).on
    out['hostname'] = network.HOSTNAME[0]


def sntp_parse(out, packets_path):
    import binascii
    nonce = bytes(range(1, 9))
    buf = bytearray(48)
    sntp.request(buf, nonce)
    out['req'] = binascii.hexlify(buf).decode()
    with open(packets_path) as f:
        packets = json.load(f)
    for k, h in packets.items():
        try:
            out[k] = list(sntp.parse(binascii.unhexlify(h), nonce))
        except sntp.SntpError as e:
            out[k] = [e.kind, e.detail]
    out['wrap'] = [sntp.ntp_to_unix(0xFFFFFFFF), sntp.ntp_to_unix(0), sntp.ntp_to_unix(0x80000000)]


def sntp_query(out, ok, spoof, drop2, silent, kod, delay):
    async def q(port, **kw):
        t0 = time.ticks_ms()
        try:
            r = await sntp.query('127.0.0.1', port, **kw)
        except sntp.SntpError as e:
            r = [e.kind, e.detail]
        return [r, time.ticks_diff(time.ticks_ms(), t0)]
    async def main():
        out['ok'] = await q(int(ok), timeout_ms=500)
        out['spoof'] = await q(int(spoof), timeout_ms=500)
        out['drop2'] = await q(int(drop2), timeout_ms=200, tries=3)
        out['silent'] = await q(int(silent), timeout_ms=200, tries=3)
        out['kod'] = await q(int(kod), timeout_ms=200, tries=3)
        out['delay'] = await q(int(delay), timeout_ms=1000)
    asyncio.run(main())


def timesync_epochs(out, epoch, good, old):
    rtc = machine.RTC()
    epoch_s = 946684800 if epoch == '2000' else 0
    def make(port):
        return sntp.TimeSync(rtc, '127.0.0.1', lambda: True, port=port, epoch_s=epoch_s,
                             seconds=lambda: rtc.seconds(int(epoch)))
    ts = make(int(good))
    out['before'] = [ts.time_ok, ts.ok.is_set(), ts.unix_now()]
    bad = make(int(old))
    out['old'] = asyncio.run(bad.sync())
    out['old_err'] = [bad.last_error.kind, len(rtc.sets), bad.time_ok, bad.retry_ms()]
    out['ok'] = asyncio.run(ts.sync())
    out['after'] = [ts.time_ok, ts.ok.is_set(), ts.unix_now(), list(rtc.sets[-1]), ts.syncs]


def timesync_back_off(out):
    rtc = machine.RTC()
    ts = sntp.TimeSync(rtc, '127.0.0.1', lambda: False, port=9, epoch_s=0,
                       seconds=lambda: rtc.seconds(1970))
    seq = []
    for n in range(1, 12):
        ts.fails = n
        seq.append(ts.retry_ms())
    out['seq'] = seq
    ts.last_error = sntp.SntpError('kod', 'RATE')
    out['kod'] = ts.retry_ms()
    out['floor'] = sntp.TIME_FLOOR


def no_tls_early(out, port):
    import tls, ws
    from firmware.ocpp.security import _tls_kind
    rtc = machine.RTC()
    ts = sntp.TimeSync(rtc, '127.0.0.1', lambda: True, port=9, epoch_s=0,
                       seconds=lambda: rtc.seconds(1970))
    ctx = tls.SSLContext(tls.PROTOCOL_TLS_CLIENT)
    ctx.verify_mode = tls.CERT_REQUIRED
    g = ts.guard(ctx)
    out['none'] = ts.guard(None)
    async def attempt():
        try:
            await ws.connect('wss://127.0.0.1:%s/ocpp/CP-1' % port, ssl=g, timeout_ms=1500)
            return ['connected']
        except ws.WSError as e:
            c = getattr(e, 'cause', None)
            return [str(e), repr(c), _tls_kind(c or e, 2)]
    out['before'] = asyncio.run(attempt())
    out['refused'] = g.refused
    time.sleep_ms(300)
    ts.set(1795000000)
    out['time_ok'] = ts.time_ok
    out['after'] = asyncio.run(attempt())


def led_patterns(out):
    from boards.common import ui
    from firmware.evse import evse as evse_kernel
    from firmware.evse.pilot import CP_A, CP_B, CP_C
    class E:
        def __init__(self, state=evse_kernel.IDLE, cp=CP_A, relay=False, errors=0, err_t=0):
            self.state, self.cp, self.relay_on, self.errors, self.err_t = state, cp, relay, errors, err_t
            self.blocking = 0x3FF & ~evse_kernel.ERR_METER
        def in_session(self):
            return self.state in (evse_kernel.WAIT_AUTH, evse_kernel.PREPARE, evse_kernel.CHARGING, evse_kernel.PAUSED_EV, evse_kernel.PAUSED_EVSE,
                                  evse_kernel.STOPPING, evse_kernel.FINISHED)
    names = ui.NAMES
    cases = {
      'ready': ([E()], True, True, False),
      'offline_wifi': ([E()], False, False, False),
      'offline_csms': ([E()], False, True, False),
      'charging': ([E(evse_kernel.CHARGING, CP_C, True)], True, True, False),
      'charging_offline': ([E(evse_kernel.CHARGING, CP_C, True)], False, False, False),
      'waiting': ([E(evse_kernel.WAIT_AUTH, CP_B)], True, True, False),
      'fault': ([E(evse_kernel.CHARGING, CP_C, True, errors=evse_kernel.ERR_RCD)], True, True, True),
      'fault_tick': ([E(evse_kernel.IDLE, err_t=evse_kernel.ERR_DIODE)], True, True, False),
      'meter_only': ([E(errors=evse_kernel.ERR_METER)], True, True, False),
      'setup': ([E()], False, False, True),
      'disabled': ([E(evse_kernel.DISABLED)], True, True, False),
    }
    out['states'] = {k: names[ui.led_state(*v)] for k, v in cases.items()}
    out['tick_failed'] = names[ui.led_state([E()], True, True, False, True)]
    # the pin over one 2 s period, per state; writes only on change
    res = {}
    for st in range(len(ui.PATTERNS)):
        pin = machine.Pin('LED', machine.Pin.OUT, value=0)
        led = ui.Led(pin)
        led.show(st)
        bits = [led.step() for _ in range(20)]
        res[names[st]] = [''.join(str(b) for b in bits), pin.writes, led.step()]
    out['pins'] = res


def button_debounce(out):
    from boards.common import ui
    pin = machine.Pin(22, machine.Pin.IN, machine.Pin.PULL_UP, value=1)
    def play(levels, t0=0):
        # levels: [(ms, level)] held from that time on; polled every 5 ms until the last + 4 s
        b = ui.Button(pin)
        evs = []
        end = levels[-1][0] + 4000
        i = 0
        for t in range(t0, end, 5):
            while i < len(levels) and levels[i][0] <= t:
                pin.level = levels[i][1]; i += 1
            e = b.poll(t)
            if e:
                evs.append([t, 'short' if e == ui.SHORT else 'long'])
        return evs
    bounce = [(100, 0), (103, 1), (107, 0), (111, 1), (115, 0)]
    out['short'] = play(bounce + [(400, 1), (402, 0), (405, 1)])
    out['glitch'] = play([(100, 0), (120, 1)])                 # 20 ms: below the debounce
    out['long'] = play(bounce + [(3700, 1)])
    out['two'] = play([(100, 0), (300, 1), (600, 0), (800, 1)])
    out['release_bounce'] = play([(100, 0), (500, 1), (510, 0), (530, 1)])
    pin.level = 0                                              # held (stuck) since boot
    b = ui.Button(pin)
    evs = []
    for t in range(0, 6000, 5):
        if t == 5000:
            pin.level = 1
        evs.append(b.poll(t))
    pin.level = 0
    for t in range(6000, 6200, 5):
        evs.append(b.poll(t))
    pin.level = 1
    for t in range(6200, 6400, 5):
        evs.append(b.poll(t))
    out['stuck'] = [e for e in evs if e]


def ui_tasks(out):
    """The Ui's tasks under asyncio, on a simulated clock for the button (the press
    lengths are clock values, not sleeps) and conditions for the LED: every step waits
    until the task has acted, so a busy machine changes nothing but how long it takes."""
    from boards.common import ui
    led = machine.Pin('LED', machine.Pin.OUT, value=0)
    btn = machine.Pin(22, machine.Pin.IN, value=1)
    st = [ui.READY]
    acts = []
    now = [0]
    polls = [0]
    def clock():                    # the button task reads it once a poll
        polls[0] += 1
        return now[0]
    u = ui.Ui(led, btn, lambda: st[0], lambda: acts.append('short'), lambda: acts.append('long'),
              clock=clock)
    u.button.long_ms = 300
    async def until(cond, what):
        for _ in range(3000):       # a bound for a hung task only (30 s), never reached
            if cond():
                return
            await asyncio.sleep_ms(10)
        raise AssertionError('no ' + what)
    async def at(t, level=None):
        # the button level from t on, then one poll seen at t
        if level is not None:
            btn.level = level
        now[0] = t
        n = polls[0]
        await until(lambda: polls[0] > n, 'button poll')
    async def main():
        u.start()
        await until(lambda: led.level == 1, 'READY on the LED')
        out['ready'] = led.level
        await at(1000, 0); await at(1040)                   # pressed (debounced)
        await at(1120, 1); await at(1160)                   # released: short
        await at(2000, 0); await at(2040); await at(2300)   # held long_ms: long
        await at(2400, 1); await at(2440)                   # released: nothing more
        st[0] = ui.OFF
        await until(lambda: u.led.state == ui.OFF and led.level == 0, 'OFF on the LED')
        out['off'] = led.level
        u.deinit()
    asyncio.run(main())
    out['acts'] = acts


def config_wifi(out):
    from firmware.persist import config
    def errs(**kw):
        return config.validate(kw)[1]
    out['ok'] = errs(wifi_ssid='home', wifi_password='secret123', ntp='10.0.0.1:123',
                     setup_password='')
    out['open'] = errs(wifi_ssid='cafe', wifi_password='')
    out['hex'] = errs(wifi_password='a' * 64)
    out['bad'] = [errs(wifi_ssid='x' * 33), errs(wifi_ssid='\u00e9' * 17), errs(wifi_password='short'),
                  errs(wifi_password='x' * 64), errs(ntp=''), errs(ntp='a b'),
                  errs(setup_password='1234567'), errs(wifi_ssid=5)]
    d = config.validate({})[0]
    out['defaults'] = [d['wifi_ssid'], d['wifi_password'], d['ntp'], d['setup_password']]


def wifi_radio_errors(out):
    network.APS['home'] = 'secret123'
    w = make_wifi()
    w.poll_ms = 10
    w.error_ms = 30
    sta = network.WLAN(0)
    real = sta.active
    n = [0]
    def flaky(on=None):
        if on is not None and n[0] < 2:
            n[0] += 1
            raise OSError(5)
        return real(on)
    sta.active = flaky
    async def main():
        t = w.start_task()
        for _ in range(100):
            if w.up:
                break
            await asyncio.sleep_ms(10)
        out['up'] = w.up
        out['errors'] = n[0]
        out['task_alive'] = not t.done()
        w.deinit()
    asyncio.run(main())


CASES = {"wifi_back_off": wifi_back_off, "wifi_jitter": wifi_jitter, "wifi_asyncio": wifi_asyncio,
         "setup_ap": setup_ap, "sntp_parse": sntp_parse, "civil": civil, "sntp_query": sntp_query,
         "timesync_epochs": timesync_epochs, "timesync_back_off": timesync_back_off,
         "no_tls_early": no_tls_early, "led_patterns": led_patterns,
         "button_debounce": button_debounce, "ui_tasks": ui_tasks, "config_wifi": config_wifi,
         "wifi_radio_errors": wifi_radio_errors}
result = {}
CASES[sys.argv[1]](result, *sys.argv[2:])
report(result)
