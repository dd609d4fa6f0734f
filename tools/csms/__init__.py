"""Development CSMS for OCPP 1.6J and 2.0.1 on one port (ws or wss), on CPython.

Built on mobilityhouse `ocpp` (ChargePoint classes, routing, JSON-schema validation
kept ON for every station message) and `websockets`. Two users: humans
(`python -m tools.csms`, every frame printed) and pytest (this API, in-process).

Async API::

    csms = Csms(host="127.0.0.1", port=0, ssl_context=None, passwords=None,
                boot_status="Accepted", boot_interval=300, log=None,
                versions=("2.0.1", "1.6"), ping_interval=None)
    await csms.start(); csms.port; csms.url      # "ws://127.0.0.1:PORT/" (+ station id)
    await csms.stop()                            # open links closed with 1001
    csms.boot_status, csms.boot_interval         # read on every BootNotification
    csms.connections                             # accepted connections so far
    csms.set_reply(action, reply, validate=True, version=None)   # for all links
    csms.station(id) -> Link | None; csms.links(id) -> [Link, ...] oldest first
    link = await csms.wait_station("CS1", timeout=10, newer_than=None)

  passwords: None, or {station_id: password (str or bytes)}: HTTP Basic required,
    user = station id, else HTTP 401. A 32-40 hex-digit password also matches its
    raw bytes (1.6 AuthorizationKey, SW16 §7.2). No station id in the path: 404.
  versions: the OCPP versions accepted; among them the station's first offer wins.
    None in common: handshake without subprotocol, then close 1002.
  log: callable(line) per frame, "HH:MM:SS.mmm <id> <- <json>" (station -> CSMS)
    or "->" (CSMS -> station); connection events use "**".
  ping_interval: seconds between server WebSocket pings (None: no pings).
  signer: None, or tools.csms.ca.SigningCA(ca_cert_pem, ca_key_pem): SignCertificate
    is answered Accepted, then CertificateSigned follows with a certificate for the
    CSR signed by that CA (a CSR that does not verify: Rejected); signer.issued lists
    what was sent. CLI: --sign-ca CERT --sign-key KEY.

  A second connection of a station id closes the older one (1000). `Link`
  (one connection; a reconnect is a new Link)::

    link.station_id, link.version ("1.6" | "2.0.1"), link.closed, link.close_code,
    link.peer_cert (TLS client cert dict or None)
    link.received    [(action, payload)] every CALL the station sent, in order,
                     wire camelCase, including ones that failed validation
    link.frames      [(direction, text)] every frame both ways: "<-" received, "->" sent
    link.violations  [Violation(kind, action, code, description, payload)], kind
                     "call" (station CALL failed its schema; the station got the
                     package's CALLERROR), "result" (its CALLRESULT to our CALL failed),
                     "frame" (not OCPP-J: bad JSON, not a list, binary frame)
    await link.call(action, payload, timeout=30, validate=True) -> result payload
        raises CallError(.code, .description, .details) on CALLERROR,
        SchemaViolation on a bad CALLRESULT, TimeoutError, ConnectionError;
        validate=False: no schema checks either way
    await link.wait_for(action, pred=None, timeout=10, after=0) -> payload
        (first CALL `action` at index >= after with pred(payload); else TimeoutError)
    link.set_reply(action, reply, validate=True)   # None restores the default
        reply: dict | callable(payload) -> dict / CallErrorReply / NO_REPLY / None
        (= the default answer; may be async; may raise an ocpp OCPPError -> that
        CALLERROR, anything else -> InternalError) | CallErrorReply(code,
        description="", details={}) | NO_REPLY. A dict failing the response schema
        raises ValueError at once unless validate=False (then sent as is).
    await link.send_raw(text); await link.close(code=1000, reason="")
    await link.wait_closed(timeout=10) -> close code

  Reply precedence: link.set_reply, then csms.set_reply (version, then None), then
  the default; no default and no override: the package's NotImplemented/NotSupported.

Defaults: BootNotification -> boot_status, currentTime (UTC, Z), interval
boot_interval; Heartbeat -> currentTime; Authorize -> Accepted; StartTransaction ->
transactionId 1, 2, ... (per Csms), Accepted; StopTransaction -> Accepted;
TransactionEvent -> {} (idTokenInfo Accepted when an idToken is present);
DataTransfer, SignCertificate, NotifyEVChargingNeeds/Schedule -> Accepted; status,
meter, report, event, security, firmware and log notifications -> {}.

Sync API (plain pytest)::

    with CsmsThread(**same kwargs) as t:          # or t = CsmsThread(...); t.stop()
        t.port, t.url, t.connections, t.boot_status = "Pending", t.boot_interval
        t.set_reply(action, reply, validate=True, version=None)
        s = t.station("CS1", timeout=10, newer_than=None)   # StationLink proxy
        s.version, s.received, s.frames, s.violations (snapshots), s.closed
        s.call(...), s.wait_for(...), s.set_reply(...), s.send_raw(...), s.close(...)
        t.call("CS1", action, payload, timeout=30); t.wait_for("CS1", action, ...)
        t.links("CS1")
"""
from .link import Link
from .replies import (NO_REPLY, CallError, CallErrorReply, SchemaViolation, Violation,
                      utc_now)
from .server import Csms
from .thread import CsmsThread, StationLink

__all__ = ["Csms", "CsmsThread", "StationLink", "Link", "CallErrorReply", "NO_REPLY",
           "CallError", "SchemaViolation", "Violation", "utc_now"]
