"""Network bring-up of the real boards (boards/common: wifi, sntp, net, ui) on the unix
port with the fake `machine` and `network` (tests/fixtures): Wi-Fi connect, drop and
reconnect with back-off, the setup access point, SNTP against a real UDP server in
CPython on loopback (replies built here, independently of the client), the RTC and the
esp32 2000 epoch, no TLS before the clock is plausible, LED patterns, button debounce
and long press, and a provisioned board booting through all of it."""
import calendar
import hashlib
import json
import socket
import struct
import subprocess
import threading
import time

import pytest

from tests import mp

PRELUDE = r"""
import sys, json, time, asyncio
sys.path.insert(0, 'tests/fixtures')
import machine, network
from firmware import log
log.echo = False
from boards.common import wifi as W
from boards.common import sntp
FAIL = {network.STAT_WRONG_PASSWORD: 'wrong password',
        network.STAT_NO_AP_FOUND: 'no AP', network.STAT_CONNECT_FAIL: 'failed'}
def make_wifi(ssid='home', pw='secret123', **kw):
    w = W.Wifi(network.WLAN(0), network.WLAN(1), ssid, pw, 'MicroEVSE-TEST', 'setupkey1',
               fail_codes=FAIL, rand=lambda: 0, **kw)
    return w
out = {}
"""

NTP_1970 = 2208988800


def run(code, **kw):
    p = mp.run(PRELUDE + code + "\nprint('OUT' + json.dumps(out))\n", **kw)
    line = [ln for ln in p.stdout.splitlines() if ln.startswith("OUT")][-1]
    return json.loads(line[3:])


# ------------------------------------------------------------------ an SNTP server
def ntp_reply(req, unix, stratum=2, li=0, vn=4, mode=4, origin=None, kiss=b"GPS\0"):
    """An RFC 5905 server packet answering req (48 bytes) with transmit time `unix`."""
    secs = (int(unix) + NTP_1970) % (1 << 32)
    frac = int((unix % 1) * (1 << 32))
    b = bytearray(48)
    b[0] = li << 6 | vn << 3 | mode
    b[1] = stratum
    b[2] = 6
    b[3] = 0xEC
    b[12:16] = kiss
    struct.pack_into("!II", b, 16, secs, frac)          # reference
    b[24:32] = req[40:48] if origin is None else origin  # originate = the client's transmit
    struct.pack_into("!II", b, 32, secs, frac)          # receive
    struct.pack_into("!II", b, 40, secs, frac)          # transmit
    return bytes(b)


class NtpServer(threading.Thread):
    """UDP on 127.0.0.1: answers every request per `mode`:
    ok | silent | kod | drop2 (ignores the first two) | spoof (a reply with a wrong
    originate first, then the right one) | old (says 2001) | delay (answers after 150 ms)."""

    def __init__(self, unix, mode="ok"):
        super().__init__(daemon=True)
        self.unix = unix
        self.mode = mode
        self.requests = []
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.settimeout(0.1)
        self.port = self.sock.getsockname()[1]
        self.stop = False

    def run(self):
        while not self.stop:
            try:
                data, addr = self.sock.recvfrom(512)
            except socket.timeout:
                continue
            self.requests.append(data)
            m = self.mode
            if m == "silent" or (m == "drop2" and len(self.requests) <= 2):
                continue
            if m == "kod":
                self.sock.sendto(ntp_reply(data, 0, stratum=0, kiss=b"RATE"), addr)
                continue
            if m == "spoof":
                self.sock.sendto(ntp_reply(data, self.unix - 3600, origin=b"\1" * 8), addr)
            if m == "delay":
                time.sleep(0.15)
            self.sock.sendto(ntp_reply(data, 978307200 if m == "old" else self.unix), addr)

    def close(self):
        self.stop = True
        self.join(1)
        self.sock.close()


@pytest.fixture
def ntp():
    servers = []

    def start(unix=None, mode="ok"):
        s = NtpServer(time.time() if unix is None else unix, mode)
        s.start()
        servers.append(s)
        return s
    yield start
    for s in servers:
        s.close()


# ------------------------------------------------------------------ Wi-Fi
def test_wifi_connect_drop_and_back_off():
    """Driven by step(now) with a fake clock: connect, a drop, failed attempts spaced
    2, 4, 8 ... s up to the cap, reconnect (failures reset), wrong password, a connect
    that never completes, a driver that refuses."""
    out = run(r"""
network.APS['home'] = 'secret123'
w = make_wifi(clock=lambda: 0)
w.start()
sta = network.WLAN(0)
out['active'] = sta.on
w.step(0); out['s0'] = W.STATE_NAMES[w.state]
w.step(250); out['s1'] = [W.STATE_NAMES[w.state], w.ip]
w.step(500); out['steady'] = W.STATE_NAMES[w.state]
del network.APS['home']                           # the AP goes away
now = 1000
w.step(now); out['dropped'] = [W.STATE_NAMES[w.state], w.drops]
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
while w.state != W.UP:
    now += 250
    w.step(now)
out['back'] = [W.STATE_NAMES[w.state], w.fails]
# wrong password: at once, no waiting for the connect timeout
network.APS['home'] = 'other-password'
w.step(now + 250); out['wrong_drop'] = W.STATE_NAMES[w.state]
t = now + 250
while w.state != W.CONNECTING:
    t += 250; w.step(t)
w.step(t + 250); out['wrong'] = [W.STATE_NAMES[w.state], w.fails]
# a connect that never completes: timeout after connect_ms
network.APS['home'] = 'secret123'
network.STALL = True
while w.state != W.CONNECTING:
    t += 250; w.step(t)
t0 = t
while w.state == W.CONNECTING:
    t += 250; w.step(t)
out['stall_ms'] = t - t0
network.STALL = False
network.REFUSE = True
n0, f0 = w.attempts, w.fails
while w.attempts == n0:
    t += 250; w.step(t)
out['refused'] = [W.STATE_NAMES[w.state], w.fails - f0]
network.REFUSE = False
out['log'] = [l.split(' ', 2)[2] for l in log.tail(64) if 'wifi' in l][-8:]
""")
    assert out["active"] is True
    assert out["s0"] == "connecting" and out["s1"] == ["up", "10.0.0.23"]
    assert out["steady"] == "up"
    assert out["dropped"] == ["down", 1]
    assert out["first_retry"] == 2000                     # fails 0: the minimum back-off
    gaps = out["gaps"]
    # each failed attempt: 250 ms to learn "no AP", then 2 s << fails (rand = 0), capped
    want = [250 + min(2000 << n, 120000) for n in range(1, len(gaps) + 1)]
    assert gaps == want, gaps
    assert max(gaps) == 250 + 120000
    assert out["fails"] >= 8
    assert out["back"] == ["up", 0]
    assert out["wrong_drop"] == "down"
    assert out["wrong"][0] == "down" and out["wrong"][1] >= 1
    assert 20000 <= out["stall_ms"] <= 20250
    assert out["refused"] == ["down", 1]
    text = "\n".join(out["log"])
    assert "wrong password" in text and "refused" in text


def test_wifi_jitter_and_cap():
    out = run(r"""
w = make_wifi()
w._rand = lambda: 123456789
out['b'] = [w.backoff_ms(n) for n in (0, 1, 2, 6, 7, 40)]
""")
    b = out["b"]
    for got, base in zip(b, (2000, 4000, 8000, 120000, 120000, 120000)):
        assert base <= got <= base + base // 4, (got, base)


def test_wifi_runs_from_asyncio_and_reconnects(ntp):
    """The real task with shrunken bounds: the link comes up, drops, comes back after
    the back-off; the loop never stalls meanwhile; Net.ready() waits for link and clock,
    and gives up after its bound."""
    srv = ntp()
    out = run(r"""
from boards.common.net import Net
network.APS['home'] = 'secret123'
network.ASSOC_MS = 60
w = make_wifi()
w.poll_ms = 10
w.backoff_min_ms = 100
rtc = machine.RTC()
ts = sntp.TimeSync(rtc, '127.0.0.1', lambda: w.up, port=%d, epoch_s=0,
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
    out['down'] = W.STATE_NAMES[w.state]
    t1 = time.ticks_ms()
    network.APS['home'] = 'secret123'
    while not w.up:
        await asyncio.sleep_ms(5)
    out['reconnect_ms'] = time.ticks_diff(time.ticks_ms(), t1)
    out['status'] = net.status()
    net.deinit()
    out['after'] = [W.STATE_NAMES[w.state], network.WLAN(0).on]
    m.cancel()
asyncio.run(main())
out['stall'] = gaps[0]
""" % srv.port)
    assert out["ready_short"] is False and out["ready_short_ms"] >= 30     # waited its bound
    assert out["ready"] is True and out["time_ok"] is True
    assert out["down"] == "down"
    # measured from 50 ms after the drop: back-off 100 ms, association 60 ms, 10 ms polls
    assert out["reconnect_ms"] >= 60, out["reconnect_ms"]      # after an association
    st = out["status"]
    assert st["drops"] == 1 and st["ip"] == "10.0.0.23" and st["time_ok"] and st["ntp_syncs"] == 1
    assert out["after"] == ["none", False]
    print("longest loop stall %d ms (a measurement)" % out["stall"])


# ------------------------------------------------------------------ the setup access point
def _derived_key(uid):
    return hashlib.sha256(b"MicroEVSE setup:" + uid).hexdigest()[:10]


def test_setup_ap_when_unconfigured_per_port():
    uid = b"\x24\x6f\x28\xa1\xb2\xc3"
    out = run(r"""
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
""")
    ssid = "MicroEVSE-A1B2C3"
    key = _derived_key(uid)
    esp = out["esp32_generic"]
    # esp32: started first, then SSID + key + WPA2 explicitly (the IDF's AP is open otherwise)
    assert esp["ap_calls"] == [["active", True],
                               ["config", {"ssid": ssid, "key": key, "security": 3}]]
    rp2 = out["rp2_pico_w"]
    # rp2: SSID and key before the AP starts
    assert rp2["ap_calls"] == [["config", {"ssid": ssid, "key": key}], ["active", True]]
    for r in (esp, rp2):
        assert r["ap_on"] and not r["sta_on"] and r["state"] == 0 and r["still"]
        assert r["status"]["ap"] == ssid and r["status"]["wifi"] == 0
    assert out["sta_calls"][:2] == [["active", True], ["config", {"pm": 16}]]   # rp2 PM off
    assert out["cfg_ap"] is False
    assert out["held"] == [True, "my-own-secret"]
    assert out["at59"] is True and out["at60"] is False
    assert out["hostname"] == "CP-1"


# ------------------------------------------------------------------ SNTP
def _packets():
    req = bytes([0x23]) + bytes(39) + bytes(range(1, 9))
    t26 = calendar.timegm((2026, 11, 22, 12, 0, 0)) + 0.5
    t40 = calendar.timegm((2040, 1, 1, 0, 0, 0))          # NTP era 1 (after 2036-02-07)
    return req, {
        "era0": ntp_reply(req, t26),
        "era1": ntp_reply(req, t40),
        "v3": ntp_reply(req, t26, vn=3),
        "kod": ntp_reply(req, 0, stratum=0, kiss=b"DENY"),
        "mode3": ntp_reply(req, t26, mode=3),
        "bcast": ntp_reply(req, t26, mode=5),
        "li3": ntp_reply(req, t26, li=3),
        "stratum16": ntp_reply(req, t26, stratum=16),
        "nonce": ntp_reply(req, t26, origin=b"\0" * 8),
        "short": ntp_reply(req, t26)[:47],
        "zero": ntp_reply(req, t26)[:40] + bytes(8),
    }, int(t26), t40


def test_sntp_parse_and_eras():
    req, pk, t26, t40 = _packets()
    out = run(r"""
import binascii
nonce = bytes(range(1, 9))
buf = bytearray(48)
sntp.request(buf, nonce)
out['req'] = binascii.hexlify(buf).decode()
for k, h in %s.items():
    try:
        out[k] = list(sntp.parse(binascii.unhexlify(h), nonce))
    except sntp.SntpError as e:
        out[k] = [e.kind, e.detail]
out['wrap'] = [sntp.ntp_to_unix(0xFFFFFFFF), sntp.ntp_to_unix(0), sntp.ntp_to_unix(0x80000000)]
""" % json.dumps({k: v.hex() for k, v in pk.items()}))
    assert bytes.fromhex(out["req"]) == req
    assert out["era0"] == [t26, 500]
    assert out["era1"] == [t40, 0]
    assert out["v3"] == [t26, 500]
    assert out["kod"] == ["kod", "DENY"]
    assert out["mode3"][0] == "bad" and out["bcast"][0] == "bad"
    assert out["li3"] == ["bad", "server not synchronised"]
    assert out["stratum16"] == ["bad", "stratum 16"]
    assert out["nonce"] == ["bad", "originate timestamp mismatch"]
    assert out["short"][0] == "bad" and out["zero"][0] == "bad"
    # era 0 ends 2036-02-07T06:28:15Z; era 1 starts one second later
    assert out["wrap"][0] == calendar.timegm((2036, 2, 7, 6, 28, 15))
    assert out["wrap"][1] == calendar.timegm((2036, 2, 7, 6, 28, 16))
    assert out["wrap"][2] == 0x80000000 - NTP_1970


def test_civil_matches_gmtime():
    ts = [0, 951782400, 951868799, 4107542400, 1709164800, calendar.timegm((2099, 12, 31, 23, 59, 59)),
          calendar.timegm((2040, 1, 1, 0, 0, 0)), 1793491200]
    out = run("out['c'] = [list(sntp.civil(t)) for t in %r]" % ts)
    for t, c in zip(ts, out["c"]):
        g = time.gmtime(t)
        assert c == [g.tm_year, g.tm_mon, g.tm_mday, g.tm_wday, g.tm_hour, g.tm_min,
                     g.tm_sec, 0], (t, c)


def test_sntp_query_over_udp(ntp):
    """Against a CPython server on loopback: an answer, a forged answer ignored, retries
    after silence, a total timeout within its bound, a kiss-o'-death at once."""
    now = time.time()
    ok, spoof, drop2, silent, kod, delay = (ntp(now, m) for m in
                                             ("ok", "spoof", "drop2", "silent", "kod", "delay"))
    out = run(r"""
async def q(port, **kw):
    t0 = time.ticks_ms()
    try:
        r = await sntp.query('127.0.0.1', port, **kw)
    except sntp.SntpError as e:
        r = [e.kind, e.detail]
    return [r, time.ticks_diff(time.ticks_ms(), t0)]
async def main():
    out['ok'] = await q(%d, timeout_ms=500)
    out['spoof'] = await q(%d, timeout_ms=500)
    out['drop2'] = await q(%d, timeout_ms=200, tries=3)
    out['silent'] = await q(%d, timeout_ms=200, tries=3)
    out['kod'] = await q(%d, timeout_ms=200, tries=3)
    out['delay'] = await q(%d, timeout_ms=1000)
asyncio.run(main())
""" % (ok.port, spoof.port, drop2.port, silent.port, kod.port, delay.port))
    assert abs(out["ok"][0] - now) <= 2 and out["ok"][1] < 500
    assert abs(out["spoof"][0] - now) <= 2                  # the forged hour-old reply dropped
    assert abs(out["drop2"][0] - now) <= 2 and len(drop2.requests) == 3
    assert 400 <= out["drop2"][1] < 900
    assert out["silent"][0][0] == "timeout" and len(silent.requests) == 3
    assert 600 <= out["silent"][1] < 1200
    assert out["kod"][0] == ["kod", "RATE"] and len(kod.requests) == 1
    assert abs(out["delay"][0] - now) <= 2 and out["delay"][1] >= 150
    # every request a fresh nonce: a late answer to an earlier one cannot be taken
    nonces = [r[40:48] for r in silent.requests]
    assert len(set(nonces)) == 3 and all(r[0] == 0x23 and len(r) == 48 for r in silent.requests)


@pytest.mark.parametrize("epoch", [2000, 1970])
def test_timesync_sets_the_rtc_across_epochs(ntp, epoch):
    """The RTC gets calendar fields; read back through the port's epoch (esp32: 2000)
    it gives the server's Unix time. A server saying 2001 is refused."""
    unix = calendar.timegm((2027, 3, 14, 15, 9, 26))
    good, old = ntp(unix + 0.2), ntp(unix, "old")
    out = run(r"""
rtc = machine.RTC()
epoch_s = 946684800 if %d == 2000 else 0
def make(port):
    return sntp.TimeSync(rtc, '127.0.0.1', lambda: True, port=port, epoch_s=epoch_s,
                         seconds=lambda: rtc.seconds(%d))
ts = make(%d)
out['before'] = [ts.time_ok, ts.ok.is_set(), ts.unix_now()]
bad = make(%d)
out['old'] = asyncio.run(bad.sync())
out['old_err'] = [bad.last_error.kind, len(rtc.sets), bad.time_ok, bad.retry_ms()]
out['ok'] = asyncio.run(ts.sync())
out['after'] = [ts.time_ok, ts.ok.is_set(), ts.unix_now(), list(rtc.sets[-1]), ts.syncs]
""" % (epoch, epoch, good.port, old.port))
    assert out["before"][:2] == [False, False]
    assert out["before"][2] == 946684800                     # RTC power-on 2000-01-01
    assert out["old"] is False and out["old_err"] == ["implausible", 0, False, 5000]
    assert out["ok"] is True
    ok, is_set, now, dt, syncs = out["after"]
    assert ok and is_set and syncs == 1
    assert abs(now - unix) <= 1
    g = time.gmtime(unix)
    assert dt[:4] == [2027, 3, 14, g.tm_wday] and dt[4:6] == [15, 9] and dt[6] in (26, 27)
    assert dt[7] == 0


def test_timesync_back_off_and_floor():
    out = run(r"""
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
""")
    assert out["seq"][:4] == [5000, 10000, 20000, 40000]
    assert out["seq"][-1] == 600000 and max(out["seq"]) == 600000
    assert out["kod"] == 600000
    assert out["floor"] <= time.time()            # a floor in the future would block TLS
    assert out["floor"] >= calendar.timegm((2026, 1, 1, 0, 0, 0))


# ------------------------------------------------------------------ no TLS before time
def test_no_tls_before_the_clock_is_plausible():
    """ws.connect with the guarded context: while time_ok is false the TCP connection
    is closed without a byte (no ClientHello) and the failure is no certificate matter
    (no security event); once the clock is set, the handshake starts."""
    got = []
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(4)
    srv.settimeout(0.2)
    port = srv.getsockname()[1]
    stop = threading.Event()

    def serve():
        while not stop.is_set():
            try:
                c, _ = srv.accept()
            except socket.timeout:
                continue
            c.settimeout(1.0)
            data = b""
            try:
                data = c.recv(16)
            except OSError:
                pass
            got.append(data)
            c.close()
    th = threading.Thread(target=serve, daemon=True)
    th.start()
    try:
        out = run(r"""
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
        await ws.connect('wss://127.0.0.1:%d/ocpp/CP-1', ssl=g, timeout_ms=1500)
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
""" % port, timeout=30)
    finally:
        stop.set()
        th.join(2)
        srv.close()
    assert out["none"] is None
    assert "clock not set" in out["before"][0] and out["before"][2] is None
    assert out["refused"] == 1
    assert out["time_ok"] is True
    assert out["after"][0] != "connected"
    assert len(got) == 2
    assert got[0] == b""                            # before: TCP only, never a TLS byte
    assert got[1][:1] == b"\x16"                    # after: a TLS handshake record


# ------------------------------------------------------------------ LED and button
def test_led_pattern_per_state():
    out = run(r"""
from boards.common import ui
from firmware.evse import evse as K
from firmware.evse.pilot import CP_A, CP_B, CP_C
class E:
    def __init__(self, state=K.IDLE, cp=CP_A, relay=False, errors=0, err_t=0):
        self.state, self.cp, self.relay_on, self.errors, self.err_t = state, cp, relay, errors, err_t
        self.blocking = 0x3FF & ~K.ERR_METER
    def in_session(self):
        return self.state in (K.WAIT_AUTH, K.PREPARE, K.CHARGING, K.PAUSED_EV, K.PAUSED_EVSE,
                              K.STOPPING, K.FINISHED)
S = ui.NAMES
cases = {
  'ready': ([E()], True, True, False),
  'offline_wifi': ([E()], False, False, False),
  'offline_csms': ([E()], False, True, False),
  'charging': ([E(K.CHARGING, CP_C, True)], True, True, False),
  'charging_offline': ([E(K.CHARGING, CP_C, True)], False, False, False),
  'waiting': ([E(K.WAIT_AUTH, CP_B)], True, True, False),
  'fault': ([E(K.CHARGING, CP_C, True, errors=K.ERR_RCD)], True, True, True),
  'fault_tick': ([E(K.IDLE, err_t=K.ERR_DIODE)], True, True, False),
  'meter_only': ([E(errors=K.ERR_METER)], True, True, False),
  'setup': ([E()], False, False, True),
  'disabled': ([E(K.DISABLED)], True, True, False),
}
out['states'] = {k: S[ui.led_state(*v)] for k, v in cases.items()}
out['tick_failed'] = S[ui.led_state([E()], True, True, False, True)]
# the pin over one 2 s period, per state; writes only on change
res = {}
for st in range(len(ui.PATTERNS)):
    pin = machine.Pin('LED', machine.Pin.OUT, value=0)
    led = ui.Led(pin)
    led.show(st)
    bits = [led.step() for _ in range(20)]
    res[S[st]] = [''.join(str(b) for b in bits), pin.writes, led.step()]
out['pins'] = res
""")
    assert out["states"] == {
        "ready": "ready", "offline_wifi": "offline", "offline_csms": "offline",
        "charging": "charging", "charging_offline": "charging", "waiting": "waiting",
        "fault": "fault", "fault_tick": "fault", "meter_only": "ready", "setup": "setup",
        "disabled": "off"}
    assert out["tick_failed"] == "fault"
    p = out["pins"]
    assert p["ready"][0] == "1" * 20 and p["ready"][1] == 1
    assert p["off"][0] == "0" * 20 and p["off"][1] == 1
    assert p["charging"][0] == "1" * 10 + "0" * 10 and p["charging"][1] == 2
    assert p["waiting"][0] == "1" * 15 + "0" * 5
    assert p["offline"][0] == "1" + "0" * 19
    assert p["setup"][0] == "101" + "0" * 17 and p["setup"][1] == 4
    assert p["fault"][0] == "10" * 10 and p["fault"][1] == 20
    for name, (bits, _, nxt) in p.items():
        assert nxt == int(bits[0])                      # the pattern repeats


def test_button_debounce_short_and_long():
    out = run(r"""
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
""")
    # polled every 5 ms: the press is stable from the 110 ms sample, the release from 400
    assert out["short"] == [[440, "short"]]     # 40 ms debounce after the release
    assert out["glitch"] == []
    assert out["long"] == [[3110, "long"]]      # 3 s after the press, none on release
    assert [e[1] for e in out["two"]] == ["short", "short"]
    assert out["release_bounce"] == [[570, "short"]]
    assert out["stuck"] == [1]                  # nothing until released, then a short press


def test_button_and_led_tasks_drive_actions():
    out = run(r"""
from boards.common import ui
led = machine.Pin('LED', machine.Pin.OUT, value=0)
btn = machine.Pin(22, machine.Pin.IN, value=1)
st = [ui.READY]
acts = []
u = ui.Ui(led, btn, lambda: st[0], lambda: acts.append('short'), lambda: acts.append('long'))
u.button.long_ms = 300
async def main():
    u.start()
    await asyncio.sleep_ms(250)
    out['ready'] = led.level
    btn.level = 0; await asyncio.sleep_ms(120); btn.level = 1
    await asyncio.sleep_ms(100)
    btn.level = 0; await asyncio.sleep_ms(450); btn.level = 1
    await asyncio.sleep_ms(100)
    st[0] = ui.OFF
    await asyncio.sleep_ms(700)
    out['off'] = led.level
    u.deinit()
asyncio.run(main())
out['acts'] = acts
""")
    assert out["ready"] == 1 and out["off"] == 0
    assert out["acts"] == ["short", "long"]


# ------------------------------------------------------------------ a provisioned board boots
def test_provisioned_board_boots_with_wifi_and_ntp(tmp_path, ntp):
    """boot.boot on the rp2 board with Wi-Fi configured and an SNTP server on loopback:
    the link comes up, the RTC is set, the adapter's first connect comes after both, the
    LED shows offline (no CSMS there) and a short press of the button is handled."""
    srv = ntp()
    flash = tmp_path / "flash"
    flash.mkdir()
    (flash / "config.json").write_text(json.dumps(
        {"csms": "ws://127.0.0.1:9/ocpp", "id": "CP-1", "ocpp": "1.6", "evses": 1,
         "max_current": 32, "wifi_ssid": "home", "wifi_password": "secret123",
         "ntp": "127.0.0.1:%d" % srv.port}))
    code = r"""
import sys, json, time, _thread
sys.path.insert(0, 'tests/fixtures')
import machine, network
network.APS['home'] = 'secret123'
network.ASSOC_MS = 300
machine.start_threads()
from boards.common import boot
from boards.rp2_pico_w import hal
def spy():
    time.sleep_ms(2500)
    b = B[0]
    print('OUT' + json.dumps({'net': b.net.status(), 'rtc': len(machine.RTCS[0].sets),
          'led': machine.PINS['LED'].writes, 'feeds': len(machine.WDTS[0].feeds)}))
B = []
def make():
    b = hal.make_board()
    B.append(b)
    return b
_thread.start_new_thread(spy, ())
boot.boot(make, flash='%s')
""" % flash
    p = subprocess.Popen([mp.MICROPYTHON, "-c", code], stdout=subprocess.PIPE,
                         stderr=subprocess.STDOUT, text=True, env=mp.env(), cwd=mp.ROOT)
    time.sleep(3.5)
    p.kill()
    text = p.communicate()[0]
    lines = [ln for ln in text.splitlines() if ln.startswith("OUT")]
    assert lines, text
    out = json.loads(lines[-1][3:])
    st = out["net"]
    assert st["wifi"] == 2 and st["ip"] == "10.0.0.23" and st["time_ok"], (st, text)
    assert st["ntp_syncs"] == 1 and out["rtc"] == 1
    assert out["led"] >= 2 and out["feeds"] >= 1
    log = text.splitlines()
    i_up = next(i for i, ln in enumerate(log) if "wifi: connected to home" in ln)
    i_ocpp = next(i for i, ln in enumerate(log) if "ocpp: connect" in ln)
    assert i_up < i_ocpp, text                      # the adapter waited for the link
    assert "not ready after" not in text


def test_config_wifi_fields():
    out = run(r"""
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
""")
    assert out["ok"] == [] and out["open"] == [] and out["hex"] == []
    assert all(len(e) == 1 for e in out["bad"]), out["bad"]
    assert out["bad"][1] == ["wifi_ssid: at most 32 bytes"]
    assert out["defaults"] == ["", "", "pool.ntp.org", ""]


# ------------------------------------------------------------------ the setup page
def _free_port():
    from tools.harness.simctl import free_port      # outside the ephemeral range, one block a worker
    return free_port()


def _http(port, method, path="/", body=None, headers=None):
    import http.client
    for _ in range(50):
        try:
            c = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
            c.request(method, path, body=body, headers=headers or {})
            r = c.getresponse()
            return r.status, r.getheader("Content-Type"), r.read().decode()
        except ConnectionRefusedError:
            time.sleep(0.1)
    raise AssertionError("no server on %d" % port)


@pytest.mark.slow
def test_setup_page_writes_a_validated_configuration(tmp_path):
    """The page on loopback (on a board: the AP's address): GET shows the form with the
    stored values and no password; a bad POST is refused with the messages and changes
    nothing; a good one is written atomically, keeps the stored password when the field
    is empty, and asks for a reset; limits answered with 4xx; follow() serves exactly
    while the AP is on."""
    cfg_path = tmp_path / "config.json"
    cfg_path.write_text(json.dumps({"id": "CP-<1>", "password": "basic-secret-1",
                                    "wifi_password": "oldwifipass", "max_current": "x"}))
    port, port2 = _free_port(), _free_port()
    code = PRELUDE + r"""
from boards.common.setup import SetupServer, unquote, merge
out['unquote'] = [unquote('My+Net%%21%%C3%%A9'), unquote('100%%'), unquote('%%zz')]
saved = []
srv = SetupServer('%s', lambda: saved.append(time.ticks_ms()), port=%d)
class FakeWifi:
    def ap_ip(self):
        return '127.0.0.1'
class FakeNet:
    ap_on = False
    wifi = FakeWifi()
net = FakeNet()
srv2 = SetupServer('%s', None, port=%d)
async def main():
    await srv.start('127.0.0.1')
    f = asyncio.create_task(srv2.follow(net, 50))
    await asyncio.sleep_ms(200)
    out['follow_off'] = srv2.running
    net.ap_on = True
    await asyncio.sleep_ms(200)
    out['follow_on'] = srv2.running
    await asyncio.sleep_ms(3000)
    net.ap_on = False
    await asyncio.sleep_ms(200)
    out['follow_after'] = srv2.running
    f.cancel()
    await asyncio.sleep_ms(2000)
    out['saves'] = srv.saves
    out['saved'] = len(saved)
    await srv.stop()
asyncio.run(main())
""" % (cfg_path, port, cfg_path, port2)
    code += "\nprint('OUT' + json.dumps(out))\n"
    p = subprocess.Popen([mp.MICROPYTHON, "-c", code], stdout=subprocess.PIPE,
                         stderr=subprocess.STDOUT, text=True, env=mp.env(), cwd=mp.ROOT)
    try:
        st, ctype, page = _http(port, "GET")
        assert st == 200 and ctype.startswith("text/html")
        assert 'name="id" value="CP-&lt;1&gt;"' in page
        assert "basic-secret-1" not in page and "oldwifipass" not in page
        form = "Content-Type: application/x-www-form-urlencoded"
        hdr = {"Content-Type": form.split(": ")[1]}
        st, _, txt = _http(port, "POST", body="csms=http%3A%2F%2Fx&id=CP-2&max_current=16",
                           headers=hdr)
        assert st == 400 and "csms: must start with ws:// or wss://" in txt
        assert json.loads(cfg_path.read_text())["id"] == "CP-<1>"       # nothing written
        st, _, txt = _http(port, "POST", body="max_current=abc", headers=hdr)
        assert st == 400 and "max_current: not a number" in txt
        good = ("wifi_ssid=My+Net%21&wifi_password=&csms=wss%3A%2F%2Fcsms.example%2Focpp"
                "&id=CP-2&ocpp=2.0.1&profile=2&password=&evses=1&max_current=16"
                "&ntp=10.0.0.1")
        st, _, txt = _http(port, "POST", body=good, headers=hdr)
        assert st == 200 and "restarts" in txt, txt
        saved = json.loads(cfg_path.read_text())
        assert saved == {"wifi_ssid": "My Net!", "wifi_password": "oldwifipass",
                         "csms": "wss://csms.example/ocpp", "id": "CP-2", "ocpp": "2.0.1",
                         "profile": 2, "password": "basic-secret-1", "evses": 1,
                         "max_current": 16, "ntp": "10.0.0.1"}, saved
        assert _http(port, "GET", "/config.json")[0] == 404
        assert _http(port, "POST", body="x" * 3000, headers=hdr)[0] == 413
        assert _http(port, "PUT", body="a=1", headers=hdr)[0] == 405
        assert _http(port2, "GET")[0] == 200                    # follow(): AP on
        text = p.communicate(timeout=20)[0]
    finally:
        p.kill()
    out = json.loads([ln for ln in text.splitlines() if ln.startswith("OUT")][-1][3:])
    assert out["unquote"] == ["My Net!\u00e9", "100%", "%zz"]
    assert out["follow_off"] is False and out["follow_on"] is True
    assert out["follow_after"] is False
    assert out["saves"] == 1 and out["saved"] == 1


def test_wifi_task_survives_radio_errors():
    """A driver error (OSError from active()) is logged and retried, never the end of
    the task."""
    out = run(r"""
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
out['log'] = [l for l in log.tail(20) if 'radio' in l]
""")
    assert out["up"] is True and out["errors"] == 2 and out["task_alive"] is True
    assert len(out["log"]) == 2
