"""Network bring-up of the real boards (boards/common: wifi, sntp, net, ui) on the unix
port with the fake `machine` and `network` (tests/fixtures): Wi-Fi connect, drop and
reconnect with back-off, the setup access point, SNTP against a real UDP server in
CPython on loopback (replies built here, independently of the client), the RTC and the
esp32 2000 epoch, no TLS before the clock is plausible, LED patterns, button debounce
and long press, and a provisioned board booting through all of it. The programs: tests/mp/net_boards.py,
net_boot.py, net_setup_page.py."""
import calendar
import hashlib
import json
import os
import socket
import struct
import subprocess
import threading
import time

import pytest

from tests import mp

NTP_1970 = 2208988800


def run(case, *args, timeout=30):
    """tests/mp/net_boards.py CASE ARGS -> what it reported."""
    return mp.run_file("net_boards", case, *args, timeout=timeout)


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
    out = run("wifi_back_off")
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
    assert out["wrong"][0] == "down" and out["wrong"][1] >= 1 and out["wrong"][2] == "wrong password"
    assert 20000 <= out["stall_ms"] <= 20250
    assert out["refused"] == ["down", 1, "refused"]


def test_wifi_jitter_and_cap():
    out = run("wifi_jitter")
    b = out["b"]
    for got, base in zip(b, (2000, 4000, 8000, 120000, 120000, 120000)):
        assert base <= got <= base + base // 4, (got, base)


def test_wifi_runs_from_asyncio_and_reconnects(ntp):
    """The real task with shrunken bounds: the link comes up, drops, comes back after
    the back-off; the loop never stalls meanwhile; Net.ready() waits for link and clock,
    and gives up after its bound."""
    srv = ntp()
    out = run("wifi_asyncio", srv.port)
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
    out = run("setup_ap")
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


def test_sntp_parse_and_eras(tmp_path):
    req, pk, t26, t40 = _packets()
    packets = tmp_path / "packets.json"
    packets.write_text(json.dumps({k: v.hex() for k, v in pk.items()}))
    out = run("sntp_parse", packets)
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
    out = run("civil", *ts)
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
    out = run("sntp_query", ok.port, spoof.port, drop2.port, silent.port, kod.port, delay.port)
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
    out = run("timesync_epochs", epoch, good.port, old.port)
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
    out = run("timesync_back_off")
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
        out = run("no_tls_early", port)
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
    out = run("led_patterns")
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
    out = run("button_debounce")
    # polled every 5 ms: the press is stable from the 110 ms sample, the release from 400
    assert out["short"] == [[440, "short"]]     # 40 ms debounce after the release
    assert out["glitch"] == []
    assert out["long"] == [[3110, "long"]]      # 3 s after the press, none on release
    assert [e[1] for e in out["two"]] == ["short", "short"]
    assert out["release_bounce"] == [[570, "short"]]
    assert out["stuck"] == [1]                  # nothing until released, then a short press


def test_button_and_led_tasks_drive_actions():
    out = run("ui_tasks")
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
    p = mp.popen([os.path.join(mp.MP_DIR, "net_boot.py"), str(flash)],
                 stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    lines = []
    try:
        for line in p.stdout:               # until its report: link, clock, LED, connect
            lines.append(line.rstrip("\n"))
            if line.startswith("OUT"):
                break
    finally:
        p.kill()
        p.communicate()
    text = "\n".join(lines)
    out = mp.reported(subprocess.CompletedProcess([], 0, text, ""))
    assert out, text
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
    out = run("config_wifi")
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
    p = mp.popen([os.path.join(mp.MP_DIR, "net_setup_page.py"), str(cfg_path), str(port),
                  str(port2)], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
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
    out = mp.reported(subprocess.CompletedProcess([], 0, text, ""))
    assert out["unquote"] == ["My Net!\u00e9", "100%", "%zz"]
    assert out["follow_off"] is False and out["follow_on"] is True
    assert out["follow_after"] is False
    assert out["saves"] == 1 and out["saved"] == 1


def test_wifi_task_survives_radio_errors():
    """A driver error (OSError from active()) is retried, never the end of the task."""
    out = run("wifi_radio_errors")
    assert out["up"] is True and out["errors"] == 2 and out["task_alive"] is True
