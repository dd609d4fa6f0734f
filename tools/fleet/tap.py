"""The tap: a WebSocket relay between the fleet's stations and the CSMS under test (any
URL, ws:// or wss://). Each station dials the tap; the tap dials the CSMS with the same
identity, subprotocol and Authorization header, and relays every frame both ways. On
the way it counts what the stations saw: CALLs per action, the CSMS's response times
(CALL to CALLRESULT/CALLERROR), CALLERRORs and Rejected answers, calls never answered,
connections per station (reconnects), transactions started and ended as the CSMS
acknowledged them, and schema violations (the ocpp package's JSON schemas, both ways).
It also plays CSMS outages: every link dropped, new ones refused with 503, for a while.

Security profiles 2 and 3: with `server_ssl` the tap also listens for wss:// (tls_url)
and terminates TLS there (tools/fleet/pki.py makes the run's CA and certificates). A
station of profile 2 or 3 is let in only over TLS, a profile 3 one only with a client
certificate that chains to the fleet CA and names the station (CN = its identity); the
tap counts TLS links and verified client certificates. Toward the CSMS it dials
`upstream` as given (ws:// or wss://), the same for every station.

Runs on its own asyncio loop in a thread (TapThread), like tools/csms's CsmsThread."""
import asyncio
import http
import json
import logging
import threading
import time
from urllib.parse import quote, unquote, urlsplit

from ocpp.exceptions import OCPPError
from ocpp.messages import Call, CallResult, _validate_payload
from websockets.asyncio.client import connect
from websockets.asyncio.server import serve
from websockets.exceptions import ConnectionClosed

_PROTO = {"1.6": "ocpp1.6", "2.0.1": "ocpp2.0.1"}
_QUIET = logging.getLogger("tools.fleet.tap")
_QUIET.addHandler(logging.NullHandler())
_QUIET.propagate = False
_MAX_KEPT = 50              # violations kept in full (all are counted)


class Stats:
    """What the tap saw; read from any thread through snapshot()."""

    def __init__(self):
        self.lock = threading.Lock()
        self.t0 = time.monotonic()
        self.calls = {}         # action -> count (station -> CSMS)
        self.csms_calls = {}    # action -> count (CSMS -> station)
        self.rtt = {}           # action -> [ms, ...]
        self.samples = []       # (t_s, ms) every answered call, for the plot
        self.errors = {}        # action -> CALLERRORs from the CSMS
        self.rejected = {}      # action -> answers with a Rejected-like status
        self.unanswered = 0     # calls lost with their link
        self.connects = {}      # station id -> connections
        self.registered = set()
        self.online = set()
        self.tx_started = set()     # (station, transaction id) the CSMS acknowledged
        self.tx_ended = set()
        self.violations = []
        self.n_violations = 0
        self.refused = 0        # connections refused (outage, CSMS down)
        self.tls_links = 0      # links that came in over TLS (profiles 2 and 3)
        self.client_certs = 0   # of those, with a verified station certificate (profile 3)
        self.denied = {}        # reason -> handshakes the tap itself refused (wrong port,
                                # no or wrong client certificate)

    def snapshot(self):
        with self.lock:
            return {"connected": len(self.online), "registered": len(self.registered),
                    "violations": self.n_violations,
                    "errors": sum(self.errors.values()) + self.unanswered,
                    "tx_started": len(self.tx_started), "tx_ended": len(self.tx_ended)}


def _rejected(payload):
    if not isinstance(payload, dict):
        return False
    st = payload.get("status")
    if st in ("Rejected", "NotSupported", "UnknownMessageId", "Failed"):
        return True
    for k in ("idTagInfo", "idTokenInfo"):
        info = payload.get(k)
        if isinstance(info, dict) and info.get("status") not in (None, "Accepted"):
            return True
    return False


class _Link:
    def __init__(self, tap, ident, version):
        self.tap, self.ident, self.version = tap, ident, version
        self.pending = {}       # (direction, uid) -> (action, t, payload)

    def _violation(self, who, action, e):
        st = self.tap.stats
        st.n_violations += 1
        if len(st.violations) < _MAX_KEPT:
            st.violations.append({"station": self.ident, "by": who, "action": action,
                                  "code": getattr(e, "code", type(e).__name__),
                                  "description": str(getattr(e, "description", e))[:300]})

    def frame(self, up, text):
        """One frame; up: station -> CSMS."""
        st = self.tap.stats
        who = "station" if up else "csms"
        try:
            msg = json.loads(text)
            kind, uid = msg[0], msg[1]
        except (ValueError, TypeError, IndexError, KeyError) as e:
            with st.lock:
                self._violation(who, None, e)
            return
        now = time.monotonic()
        with st.lock:
            if kind == 2 and len(msg) >= 4:
                action, payload = msg[2], msg[3]
                (st.calls if up else st.csms_calls)[action] = \
                    (st.calls if up else st.csms_calls).get(action, 0) + 1
                self.pending[(up, uid)] = (action, now, payload)
                try:
                    _validate_payload(Call(uid, action, payload), self.version)
                except OCPPError as e:
                    self._violation(who, action, e)
            elif kind in (3, 4):
                call = self.pending.pop((not up, uid), None)
                if call is None:
                    return
                action, t, req = call
                if kind == 4:
                    if not up:
                        st.errors[action] = st.errors.get(action, 0) + 1
                    return
                payload = msg[2] if len(msg) > 2 else None
                try:
                    _validate_payload(CallResult(uid, payload, action), self.version)
                except OCPPError as e:
                    self._violation(who, action, e)
                if up:
                    return          # the station answering the CSMS
                ms = (now - t) * 1000
                st.rtt.setdefault(action, []).append(ms)
                st.samples.append((now - st.t0, ms))
                if _rejected(payload):
                    st.rejected[action] = st.rejected.get(action, 0) + 1
                self._account(action, req, payload)

    def _account(self, action, req, res):
        st = self.tap.stats
        if action == "BootNotification" and res.get("status") == "Accepted":
            st.registered.add(self.ident)
        elif action == "StartTransaction" and "transactionId" in res:
            st.tx_started.add((self.ident, res["transactionId"]))
        elif action == "StopTransaction":
            st.tx_ended.add((self.ident, req.get("transactionId")))
        elif action == "TransactionEvent":
            tid = req.get("transactionInfo", {}).get("transactionId")
            if req.get("eventType") == "Started":
                st.tx_started.add((self.ident, tid))
            elif req.get("eventType") == "Ended":
                st.tx_ended.add((self.ident, tid))

    def lost(self):
        with self.tap.stats.lock:
            self.tap.stats.unanswered += sum(1 for k in self.pending if k[0])
            self.pending.clear()


def _peer_cn(connection):
    """The common name of the client certificate the TLS handshake verified, or None."""
    sslobj = connection.transport.get_extra_info("ssl_object")
    cert = sslobj.getpeercert() if sslobj is not None else None
    for rdn in (cert or {}).get("subject", ()):
        for k, v in rdn:
            if k == "commonName":
                return v
    return None


class Tap:
    def __init__(self, upstream, versions, ssl=None, profiles=None, server_ssl=None):
        """upstream: the CSMS base URL (the station id is appended); versions: station
        id -> "1.6" | "2.0.1" (the subprotocol the tap offers for it); ssl: the client
        context toward a wss:// CSMS; profiles: station id -> security profile (0 when
        missing); server_ssl: the TLS context of the stations' side (profiles 2 and 3)."""
        self.upstream = upstream if upstream.endswith("/") else upstream + "/"
        self.versions = versions
        self.profiles = profiles or {}
        self.ssl = ssl
        self.server_ssl = server_ssl
        self.stats = Stats()
        self.down_until = 0.0
        self._live = set()
        self._server = None
        self._tls_server = None
        self.port = None
        self.tls_port = None

    @property
    def url(self):
        return "ws://127.0.0.1:%d/fleet/" % self.port

    @property
    def tls_url(self):
        """wss:// for profiles 2 and 3 (localhost: a name the tap's certificate holds)."""
        return "wss://localhost:%d/fleet/" % self.tls_port if self.tls_port else None

    def online(self, ident):
        """The station has a link now and no outage is on (any thread)."""
        with self.stats.lock:
            up = ident in self.stats.online
        return up and time.monotonic() >= self.down_until

    async def start(self):
        self._server = await serve(self._handler, "127.0.0.1", 0, process_request=self._request,
                                   select_subprotocol=self._select, ping_interval=None,
                                   logger=_QUIET, max_size=2 ** 20)
        self.port = self._server.sockets[0].getsockname()[1]
        if self.server_ssl is not None:
            self._tls_server = await serve(self._handler, "127.0.0.1", 0, ssl=self.server_ssl,
                                           process_request=self._request,
                                           select_subprotocol=self._select, ping_interval=None,
                                           logger=_QUIET, max_size=2 ** 20)
            self.tls_port = self._tls_server.sockets[0].getsockname()[1]

    async def stop(self):
        for srv in (self._server, self._tls_server):
            if srv is not None:
                srv.close()
                await srv.wait_closed()

    def _deny(self, connection, why):
        with self.stats.lock:
            self.stats.denied[why] = self.stats.denied.get(why, 0) + 1
        return connection.respond(http.HTTPStatus.FORBIDDEN, "fleet tap: %s\n" % why)

    def _security(self, connection, ident):
        """None when the link fits the station's profile, else the refusal."""
        profile = self.profiles.get(ident, 0)
        tls = connection.transport.get_extra_info("ssl_object") is not None
        if profile >= 2 and not tls:
            return self._deny(connection, "profile %d needs TLS" % profile)
        if profile >= 3:
            cn = _peer_cn(connection)
            if cn is None:
                return self._deny(connection, "profile 3 without a client certificate")
            if cn != ident:
                return self._deny(connection, "client certificate of another station")
        connection.tls = tls
        connection.client_cert = tls and _peer_cn(connection) is not None
        return None

    def _select(self, connection, offered):
        want = _PROTO.get(self.versions.get(getattr(connection, "ident", None)))
        return want if want in offered else None

    async def _request(self, connection, request):
        ident = unquote(urlsplit(request.path).path.rsplit("/", 1)[-1])
        connection.ident = ident
        version = self.versions.get(ident)
        if version is None:
            return connection.respond(http.HTTPStatus.NOT_FOUND, "not a station of this fleet\n")
        refusal = self._security(connection, ident)
        if refusal is not None:
            return refusal
        if time.monotonic() < self.down_until:
            self.stats.refused += 1
            return connection.respond(http.HTTPStatus.SERVICE_UNAVAILABLE, "outage (fleet)\n")
        headers = {}
        if request.headers.get("Authorization"):
            headers["Authorization"] = request.headers["Authorization"]
        try:
            connection.up = await connect(self.upstream + quote(ident, safe=""),
                                          subprotocols=[_PROTO[version]],
                                          additional_headers=headers, ssl=self.ssl,
                                          open_timeout=15, ping_interval=None,
                                          logger=_QUIET, max_size=2 ** 20)
        except Exception as e:      # noqa: BLE001 - whatever the CSMS did: the station sees 502
            self.stats.refused += 1
            status = getattr(getattr(e, "response", None), "status_code", None)
            if status in (401, 403, 404):
                return connection.respond(http.HTTPStatus(status), "CSMS: %s\n" % status)
            return connection.respond(http.HTTPStatus.BAD_GATEWAY, "CSMS: %s\n" % e)
        return None

    async def _handler(self, ws):
        up = ws.up
        link = _Link(self, ws.ident, self.versions[ws.ident])
        st = self.stats
        with st.lock:
            st.connects[ws.ident] = st.connects.get(ws.ident, 0) + 1
            st.tls_links += ws.tls
            st.client_certs += ws.client_cert
            st.online.add(ws.ident)
        self._live.add((ws, up))

        async def pump(src, dst, is_up):
            try:
                async for text in src:
                    if isinstance(text, bytes):
                        text = text.decode("utf-8", "replace")
                    link.frame(is_up, text)
                    await dst.send(text)
            except ConnectionClosed:
                pass
            finally:
                await dst.close()

        try:
            await asyncio.gather(pump(ws, up, True), pump(up, ws, False))
        finally:
            self._live.discard((ws, up))
            with st.lock:
                st.online.discard(ws.ident)
            link.lost()

    async def outage(self, seconds):
        """The CSMS unreachable for `seconds`: links dropped now, new ones refused."""
        self.down_until = time.monotonic() + seconds
        for ws, up in list(self._live):
            await up.close(1001, "outage")
            await ws.close(1001, "outage")


class TapThread:
    """A Tap on its own asyncio loop in a daemon thread; stop() or `with`."""

    def __init__(self, upstream, versions, ssl=None, profiles=None, server_ssl=None):
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="tap", daemon=True)
        self._thread.start()
        self.tap = Tap(upstream, versions, ssl, profiles, server_ssl)
        self._run(self.tap.start(), 10)

    def _run(self, coro, timeout):
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(timeout)

    url = property(lambda self: self.tap.url)
    tls_url = property(lambda self: self.tap.tls_url)

    def online(self, ident):
        return self.tap.online(ident)
    stats = property(lambda self: self.tap.stats)

    def outage(self, seconds):
        self._run(self.tap.outage(seconds), 30)

    def stop(self):
        try:
            self._run(self.tap.stop(), 15)
        finally:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(5)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()
