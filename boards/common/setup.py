"""The setup page: a small HTTP server reachable only from the setup access point
(bound to the AP's own address, 192.168.4.1 on both ports), so only someone who has the
AP's WPA2 key can reconfigure the station.

    GET  /    a form: Wi-Fi network and password, CSMS URL, station id, OCPP version,
              security profile, Basic-auth password, EVSEs, maximum current, NTP server
              (current values filled in; passwords never shown)
    POST /    the form (application/x-www-form-urlencoded, at most 2 KiB): merged into
              config.json, validated by firmware.persist.config (errors -> 400 with the
              messages, nothing written), written atomically (store.save_json), 200,
              then on_saved() 3 s later (boot: the board resets and starts with it)

An empty password field keeps the stored password. Bounded: one request served at a
time (the others wait), at most 24 header lines of 256 bytes, 10 s per request."""
from micropython import const
import asyncio
import store
from firmware import log
from firmware.persist import config

_MAX_BODY = const(2048)
_MAX_LINE = const(256)
_MAX_HEADERS = const(24)
_TIMEOUT_MS = const(10000)
_RESET_MS = const(3000)
_STR = const(0)
_INT = const(1)
_SECRET = const(2)
# key, label, kind
FIELDS = (("wifi_ssid", "Wi-Fi network (SSID)", _STR),
          ("wifi_password", "Wi-Fi password", _SECRET),
          ("csms", "CSMS URL (ws:// or wss://)", _STR),
          ("id", "Station id", _STR),
          ("ocpp", "OCPP version (1.6 or 2.0.1)", _STR),
          ("profile", "Security profile (0-3)", _INT),
          ("password", "Basic auth password", _SECRET),
          ("evses", "EVSEs", _INT),
          ("max_current", "Maximum current (A)", _INT),
          ("ntp", "NTP server", _STR))


def unquote(s):
    """application/x-www-form-urlencoded value -> str ('+' is a space, %XX a byte)."""
    s = s.replace("+", " ")
    if "%" not in s:
        return s
    parts = s.split("%")
    out = bytearray(parts[0].encode())
    for p in parts[1:]:
        try:
            if len(p) < 2:
                raise ValueError(p)
            out.append(int(p[:2], 16))
            out.extend(p[2:].encode())
        except ValueError:
            out.extend(b"%" + p.encode())
    return out.decode()


def parse_form(body):
    form = {}
    for part in body.decode().split("&"):
        if part:
            k, _, v = part.partition("=")
            form[unquote(k)] = unquote(v)
    return form


def merge(old, form):
    """-> (new configuration dict, error strings). Keys of the old file that no longer
    validate are dropped (they are why the station may be in safe mode)."""
    new = dict(old) if isinstance(old, dict) else {}
    errors = []
    for key, label, kind in FIELDS:
        if key not in form:
            continue
        v = form[key]
        if kind == _SECRET:
            if v == "":
                continue
        else:
            v = v.strip()
        if kind == _INT:
            try:
                v = int(v)
            except ValueError:
                errors.append("%s: not a number" % key)
                continue
        new[key] = v
    _, errs = config.validate(new)
    for e in errs:
        k = e.split(":")[0]
        if k in form or k not in new:
            errors.append(e)
        else:
            log.warn("setup", "dropping invalid stored value: %s", e)
            new.pop(k, None)
    return new, errors


def _esc(s):
    return str(s).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;") \
        .replace('"', "&quot;")


def page(cfg, msg=""):
    rows = []
    for key, label, kind in FIELDS:
        value = "" if kind == _SECRET else _esc(cfg.get(key, ""))
        rows.append('<p><label>%s<br><input name="%s" value="%s"%s></label></p>' %
                    (label, key, value, ' type="password"' if kind == _SECRET else ""))
    return ('<!DOCTYPE html><html><head><meta name="viewport" content="width=device-width">'
            '<title>MicroEVSE setup</title></head><body><h1>MicroEVSE setup</h1>%s'
            '<form method="post" action="/">%s<p><button>Save and restart</button></p>'
            '</form></body></html>' % (("<p>%s</p>" % _esc(msg)) if msg else "", "".join(rows)))


class SetupServer:
    def __init__(self, path, on_saved=None, port=80):
        self.path = path
        self._on_saved = on_saved
        self.port = port
        self._srv = None
        self._lock = asyncio.Lock()
        self.saves = 0

    @property
    def running(self):
        return self._srv is not None

    async def start(self, host):
        if self._srv is None:
            self._srv = await asyncio.start_server(self._client, host, self.port)
            log.info("setup", "setup page on http://%s:%d/", host, self.port)

    async def stop(self):
        s = self._srv
        self._srv = None
        if s is not None:
            s.close()
            await s.wait_closed()
            log.info("setup", "setup page closed")

    async def follow(self, net, period_ms=1000):
        """Runs the page exactly while the setup AP is on (net: boards.common.net.Net)."""
        try:
            while True:
                if net.ap_on and self._srv is None:
                    ip = net.wifi.ap_ip()
                    try:
                        await self.start(ip)
                    except OSError as e:
                        log.error("setup", "setup page on %s: %r", ip, e)
                elif not net.ap_on and self._srv is not None:
                    await self.stop()
                await asyncio.sleep_ms(period_ms)
        finally:
            await self.stop()

    async def _client(self, r, w):
        try:
            await asyncio.wait_for_ms(self._one(r, w), _TIMEOUT_MS)
        except (asyncio.TimeoutError, OSError, ValueError, UnicodeError) as e:
            log.warn("setup", "request dropped: %r", e)
        finally:
            w.close()
            await w.wait_closed()

    async def _one(self, r, w):
        async with self._lock:          # one request at a time; the others wait their turn
            await self._serve(r, w)

    async def _serve(self, r, w):
        line = await r.readline()
        parts = line[:_MAX_LINE].decode().split()
        if len(parts) < 2:
            return
        method, target = parts[0], parts[1]
        length = 0
        for _ in range(_MAX_HEADERS + 1):
            h = await r.readline()
            if h in (b"\r\n", b"\n", b""):
                break
            if len(h) > _MAX_LINE:
                return await self._send(w, 431, "header too long")
            k, _, v = h.decode().partition(":")
            if k.strip().lower() == "content-length":
                length = int(v.strip())
        else:
            return await self._send(w, 431, "too many headers")
        if target != "/":
            return await self._send(w, 404, "not found")
        old, _ = store.load_json(self.path, None)
        cur = old if isinstance(old, dict) else {}
        if method == "GET":
            return await self._send(w, 200, page(cur), "text/html")
        if method != "POST":
            return await self._send(w, 405, "GET or POST")
        if not 0 < length <= _MAX_BODY:
            return await self._send(w, 413, "form of 1-%d bytes expected" % _MAX_BODY)
        body = await r.readexactly(length)
        new, errors = merge(cur, parse_form(body))
        if errors:
            return await self._send(w, 400, page(new, "Not saved: " + "; ".join(errors)),
                                    "text/html")
        store.save_json(self.path, new)
        self.saves += 1
        log.warn("setup", "configuration written from the setup page")
        await self._send(w, 200, "Saved. The station restarts in %d s." % (_RESET_MS // 1000))
        if self._on_saved is not None:
            asyncio.create_task(self._later(self._on_saved))

    async def _later(self, fn):
        await asyncio.sleep_ms(_RESET_MS)
        fn()

    async def _send(self, w, code, text, ctype="text/plain"):
        body = text.encode()
        w.write(("HTTP/1.0 %d %s\r\nContent-Type: %s; charset=utf-8\r\nContent-Length: %d\r\n"
                 "Connection: close\r\n\r\n" % (code, "OK" if code == 200 else "Error", ctype,
                                                 len(body))).encode())
        w.write(body)
        await w.drain()
