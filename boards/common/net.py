"""Network bring-up of the real boards: Wi-Fi (boards.common.wifi) and time
(boards.common.sntp) from the configuration, and the rule between them and the OCPP
connection.

    net = make_net(cfg, board.port)   network.WLAN, machine.RTC, the port's Wi-Fi quirks
    net.start()                       tasks (inside the event loop); net.deinit() ends them
    await net.ready()                 link up and clock plausible, or False after 20 s
    ctx = net.guard(ctx)              the TLS context the adapter gets: no handshake
                                      before the clock is plausible (net.time_ok)

Configuration keys (firmware/persist/config.py): wifi_ssid (empty: no network, the setup access
point runs instead), wifi_password, ntp (server name or address, optionally :port),
setup_password.

Setup access point: SSID "MicroEVSE-XXXXXX", XXXXXX = the last three bytes of
machine.unique_id() in hex (capitals); WPA2 key = setup_password from the
configuration when set, else the first ten hex digits of SHA-256("MicroEVSE setup:" +
unique_id). The derived key is logged at boot on the serial console (print it on the
station's label); it keeps casual neighbours out but is no secret from someone who knows
this scheme and the chip id (on the ESP32 the unique id is the Wi-Fi MAC, which the AP
broadcasts): set setup_password for a real secret. The AP runs while no SSID is
configured, in safe mode, and for 10 minutes after a long button press."""
from micropython import const
import asyncio
import binascii
import hashlib
import time
from firmware import log
from boards.common.wifi import Wifi
from boards.common.sntp import TimeSync, NTP_PORT

_READY_MS = const(20000)
_READY_POLL_MS = const(100)
AP_HOLD_MS = const(600000)      # long press: setup AP for 10 minutes
SETUP_PREFIX = "MicroEVSE-"


def setup_ssid(uid):
    return SETUP_PREFIX + binascii.hexlify(uid[-3:]).decode().upper()


def setup_key(uid, password=""):
    if password:
        return password
    return binascii.hexlify(hashlib.sha256(b"MicroEVSE setup:" + uid).digest()[:5]).decode()


def hostname(ident):
    """A DHCP host name from the station id: letters, digits and '-', at most 32."""
    h = "".join(c if c.isalpha() or c.isdigit() else "-" for c in ident)[:32].strip("-")
    return h or "microevse"


class Net:
    def __init__(self, wifi, timesync):
        self.wifi = wifi
        self.time = timesync

    @property
    def up(self):
        return self.wifi.up

    @property
    def time_ok(self):
        return self.time.time_ok

    @property
    def ap_on(self):
        return self.wifi.ap_active

    def start(self):
        self.wifi.start_task()
        self.time.start_task()

    def deinit(self):
        self.time.deinit()
        self.wifi.deinit()

    def setup_ap(self, hold_ms=AP_HOLD_MS):
        self.wifi.ap_on(hold_ms)

    async def ready(self, timeout_ms=_READY_MS):
        """Waits until the link is up and the clock plausible; -> True, or False after
        timeout_ms (the caller goes on: the adapter runs its offline work and its own
        reconnect back-off, and the TLS guard still holds back wss until time_ok)."""
        t0 = time.ticks_ms()
        while not (self.wifi.up and self.time.time_ok):
            if time.ticks_diff(time.ticks_ms(), t0) >= timeout_ms:
                log.warn("net", "not ready after %d ms (link %s, clock %s): going on",
                         timeout_ms, "up" if self.wifi.up else "down",
                         "set" if self.time.time_ok else "not set")
                return False
            await asyncio.sleep_ms(_READY_POLL_MS)
        return True

    def guard(self, ctx):
        return self.time.guard(ctx)

    def status(self):
        w, t = self.wifi, self.time
        return {"wifi": w.state, "ssid": w.ssid, "ip": w.ip, "attempts": w.attempts,
                "drops": w.drops, "ap": w.ap_ssid if w.ap_active else None,
                "time_ok": t.time_ok, "ntp_syncs": t.syncs,
                "ntp_error": None if t.last_error is None else t.last_error.kind}


def make_net(cfg, port):
    """The board's Net for a validated configuration; port: the board's port object
    (sta_tune, ap_up). Raises ImportError in a build without `network`."""
    import network
    import machine
    try:
        network.hostname(hostname(cfg["id"]))
    except (OSError, ValueError) as e:
        log.warn("net", "host name not set: %r", e)
    uid = machine.unique_id()
    fail = {network.STAT_WRONG_PASSWORD: "wrong password",
            network.STAT_NO_AP_FOUND: "no access point with that SSID",
            network.STAT_CONNECT_FAIL: "connection failed"}
    ssid = setup_ssid(uid)
    key = setup_key(uid, cfg.get("setup_password", ""))
    if not cfg.get("setup_password"):
        log.info("net", "setup access point %s, key %s", ssid, key)
    wifi = Wifi(network.WLAN(network.WLAN.IF_STA), network.WLAN(network.WLAN.IF_AP),
                cfg.get("wifi_ssid", ""), cfg.get("wifi_password", ""), ssid, key, port, fail)
    host, port_no = ntp_server(cfg.get("ntp", "pool.ntp.org"))
    ts = TimeSync(machine.RTC(), host, lambda: wifi.up, port_no)
    return Net(wifi, ts)


def ntp_server(text):
    """"host" or "host:port" (IPv4 or a name) -> (host, port)."""
    host, _, port = text.partition(":")
    try:
        return host, int(port) if port else NTP_PORT
    except ValueError:
        log.error("net", "ntp %r: bad port, using %d", text, NTP_PORT)
        return host, NTP_PORT
