"""tools/csms: the development CSMS, driven by a CPython websockets client as station."""
import asyncio
import base64
import functools
import json
import os
import signal
import subprocess
import sys

import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidMessage, InvalidStatus

from tests import certs
from tools.csms import (NO_REPLY, CallError, CallErrorReply, Csms, CsmsThread,
                        SchemaViolation, utc_now)

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BOOT = {"1.6": {"chargePointVendor": "MicroEVSE", "chargePointModel": "Sim"},
        "2.0.1": {"reason": "PowerUp",
                  "chargingStation": {"vendorName": "MicroEVSE", "model": "Sim"}}}
VERSIONS = ("1.6", "2.0.1")


def run(fn):
    """Run an async test body on a fresh loop (no pytest-asyncio here)."""
    @functools.wraps(fn)
    def wrapper(*a, **kw):
        asyncio.run(asyncio.wait_for(fn(*a, **kw), 15))
    return wrapper


class Station:
    """Minimal OCPP-J station: sends CALLs, answers the CSMS's CALLs from `answers`."""

    def __init__(self, ws):
        self.ws = ws
        self.answers = {}       # action -> payload, or a raw frame-list builder
        self.incoming = []      # CALLs from the CSMS
        self.other = asyncio.Queue()    # replies to us, and unsolicited frames
        self._n = 0
        self._task = asyncio.ensure_future(self._read())

    @classmethod
    async def open(cls, url, version="1.6", **kw):
        kw.setdefault("subprotocols", ["ocpp" + version])
        return cls(await connect(url, **kw))

    async def _read(self):
        try:
            async for text in self.ws:
                try:
                    msg = json.loads(text)
                except ValueError:      # as a 2.0.1 station would (P4 §4.2.3)
                    await self.ws.send('[4,"-1","RpcFrameworkError","bad JSON",{}]')
                    continue
                if msg[0] == 2:
                    self.incoming.append(msg)
                    ans = self.answers.get(msg[2], {})
                    if ans is not NO_REPLY:
                        frame = ans(msg) if callable(ans) else [3, msg[1], ans]
                        await self.ws.send(json.dumps(frame))
                else:
                    await self.other.put(msg)
        except ConnectionClosed:
            pass

    async def send(self, action, payload):
        self._n += 1
        await self.ws.send(json.dumps([2, "m%d" % self._n, action, payload]))
        return "m%d" % self._n

    async def call(self, action, payload, timeout=5):
        uid = await self.send(action, payload)
        msg = await asyncio.wait_for(self.other.get(), timeout)
        assert msg[1] == uid, msg
        return msg

    async def close(self):
        await self.ws.close()
        await self._task


async def booted(csms, version, sid="CS1", **kw):
    st = await Station.open(csms.url + sid, version, **kw)
    reply = await st.call("BootNotification", BOOT[version])
    return st, reply, await csms.wait_station(sid)


# --- boot and default answers ---------------------------------------------------

@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize("status", ["Accepted", "Pending", "Rejected"])
@run
async def test_boot_status_and_interval(version, status):
    csms = Csms(boot_status=status, boot_interval=42)
    await csms.start()
    try:
        st, reply, link = await booted(csms, version)
        assert reply[0] == 3
        assert reply[2]["status"] == status and reply[2]["interval"] == 42
        assert reply[2]["currentTime"].endswith("Z") and "T" in reply[2]["currentTime"]
        assert link.version == version and csms.connections == 1
        assert link.received == [("BootNotification", BOOT[version])]
        assert link.violations == []
        csms.boot_status, csms.boot_interval = "Accepted", 7      # next boot sees it
        reply = await st.call("BootNotification", BOOT[version])
        assert (reply[2]["status"], reply[2]["interval"]) == ("Accepted", 7)
        await st.close()
    finally:
        await csms.stop()


@run
async def test_v16_defaults():
    csms = Csms()
    await csms.start()
    try:
        st, _, link = await booted(csms, "1.6")
        now = utc_now()
        assert (await st.call("Heartbeat", {}))[2]["currentTime"].endswith("Z")
        assert (await st.call("Authorize", {"idTag": "T1"}))[2] == {
            "idTagInfo": {"status": "Accepted"}}
        start = {"connectorId": 1, "idTag": "T1", "meterStart": 0, "timestamp": now}
        a = (await st.call("StartTransaction", start))[2]
        b = (await st.call("StartTransaction", start))[2]
        assert (a["transactionId"], b["transactionId"]) == (1, 2)
        assert a["idTagInfo"] == {"status": "Accepted"}
        stop = {"transactionId": 1, "meterStop": 10, "timestamp": now}
        assert (await st.call("StopTransaction", stop))[2]["idTagInfo"]["status"] == "Accepted"
        status = {"connectorId": 1, "errorCode": "NoError", "status": "Available"}
        assert (await st.call("StatusNotification", status))[2] == {}
        mv = {"connectorId": 1, "meterValue": [{"timestamp": now,
                                                "sampledValue": [{"value": "1"}]}]}
        assert (await st.call("MeterValues", mv))[2] == {}
        assert (await st.call("DataTransfer", {"vendorId": "X"}))[2] == {"status": "Accepted"}
        assert (await st.call("SecurityEventNotification",
                              {"type": "StartupOfTheDevice", "timestamp": now}))[2] == {}
        assert (await st.call("SignCertificate", {"csr": "x"}))[2] == {"status": "Accepted"}
        # not a CSMS-side action: the package's answer, no violation
        assert (await st.call("Reset", {"type": "Soft"}))[0] == 4
        assert link.violations == []
        assert [a for a, _ in link.received][-1] == "Reset"
        await st.close()
    finally:
        await csms.stop()


@run
async def test_v201_defaults():
    csms = Csms()
    await csms.start()
    try:
        st, _, link = await booted(csms, "2.0.1")
        now = utc_now()
        tok = {"idToken": "T1", "type": "ISO14443"}
        assert (await st.call("Authorize", {"idToken": tok}))[2] == {
            "idTokenInfo": {"status": "Accepted"}}
        ev = {"eventType": "Started", "timestamp": now, "triggerReason": "Authorized",
              "seqNo": 0, "transactionInfo": {"transactionId": "tx1"}}
        assert (await st.call("TransactionEvent", ev))[2] == {}
        assert (await st.call("TransactionEvent", dict(ev, idToken=tok)))[2] == {
            "idTokenInfo": {"status": "Accepted"}}
        status = {"timestamp": now, "connectorStatus": "Available", "evseId": 1,
                  "connectorId": 1}
        assert (await st.call("StatusNotification", status))[2] == {}
        report = {"requestId": 1, "generatedAt": now, "seqNo": 0, "reportData": [
            {"component": {"name": "OCPPCommCtrlr"}, "variable": {"name": "HeartbeatInterval"},
             "variableAttribute": [{"value": "300"}]}]}
        assert (await st.call("NotifyReport", report))[2] == {}
        assert (await st.call("NotifyEvent", {"generatedAt": now, "seqNo": 0, "eventData": [
            {"eventId": 1, "timestamp": now, "trigger": "Delta", "actualValue": "x",
             "eventNotificationType": "HardWiredNotification",
             "component": {"name": "C"}, "variable": {"name": "V"}}]}))[2] == {}
        assert (await st.call("SecurityEventNotification",
                              {"type": "StartupOfTheDevice", "timestamp": now}))[2] == {}
        assert (await st.call("SignCertificate", {"csr": "x"}))[2] == {"status": "Accepted"}
        assert (await st.call("DataTransfer", {"vendorId": "X"}))[2] == {"status": "Accepted"}
        assert (await st.call("Heartbeat", {}))[2]["currentTime"].endswith("Z")
        assert link.violations == []
        await st.close()
    finally:
        await csms.stop()


# --- validation -----------------------------------------------------------------

@pytest.mark.parametrize("version", VERSIONS)
@run
async def test_schema_violation_recorded(version):
    csms = Csms()
    await csms.start()
    try:
        st, _, link = await booted(csms, version)
        bad = {"1.6": {"connectorId": "one", "errorCode": "NoError", "status": "Available"},
               "2.0.1": {"timestamp": utc_now(), "connectorStatus": "Available"}}[version]
        reply = await st.call("StatusNotification", bad)
        assert reply[0] == 4 and reply[2] in ("TypeConstraintViolation", "ProtocolError")
        [v] = link.violations
        assert (v.kind, v.action, v.code, v.payload) == ("call", "StatusNotification",
                                                         reply[2], bad)
        assert link.received[-1] == ("StatusNotification", bad)
        await st.ws.send("{not json")
        await st.ws.send(b"\x01binary")
        await st.call("Heartbeat", {})      # orders the check after both frames
        assert [v.kind for v in link.violations] == ["call", "frame", "frame"]
        assert "binary" in link.violations[2].description
        await st.close()
    finally:
        await csms.stop()


# --- scripted replies -------------------------------------------------------------

@run
async def test_set_reply_variants():
    csms = Csms()
    csms.set_reply("Authorize", {"idTagInfo": {"status": "Blocked"}}, version="1.6")
    await csms.start()
    try:
        st, _, link = await booted(csms, "1.6")
        # csms-wide reply set before the station connected
        assert (await st.call("Authorize", {"idTag": "A"}))[2]["idTagInfo"]["status"] == "Blocked"
        # payload dict on the link wins
        link.set_reply("Authorize", {"idTagInfo": {"status": "Invalid"}})
        assert (await st.call("Authorize", {"idTag": "A"}))[2]["idTagInfo"]["status"] == "Invalid"
        # callable, sees the wire payload
        link.set_reply("Authorize", lambda p: {"idTagInfo": {
            "status": "Accepted" if p["idTag"] == "GOOD" else "Invalid"}})
        assert (await st.call("Authorize", {"idTag": "GOOD"}))[2]["idTagInfo"]["status"] == "Accepted"
        assert (await st.call("Authorize", {"idTag": "BAD"}))[2]["idTagInfo"]["status"] == "Invalid"
        # a callable returning None leaves that message to the default
        link.set_reply("StartTransaction", lambda p: None if p["connectorId"] == 1 else
                       CallErrorReply("GenericError", "connector 2 broken"))
        start = {"idTag": "A", "meterStart": 0, "timestamp": utc_now()}
        assert (await st.call("StartTransaction", dict(start, connectorId=1)))[2][
            "transactionId"] == 1
        assert (await st.call("StartTransaction", dict(start, connectorId=2)))[2] == "GenericError"
        # a callable that raises: an ocpp OCPPError gives its code, anything else InternalError
        link.set_reply("StopTransaction", lambda p: 1 / 0)
        stop = {"transactionId": 1, "meterStop": 1, "timestamp": utc_now()}
        assert (await st.call("StopTransaction", stop))[2] == "InternalError"

        async def later(p):
            return CallErrorReply("SecurityError", "not yet")
        link.set_reply("Heartbeat", later)
        assert (await st.call("Heartbeat", {}))[2:4] == ["SecurityError", "not yet"]
        # CallErrorReply
        link.set_reply("DataTransfer", CallErrorReply("InternalError", "boom", {"x": 1}))
        assert (await st.call("DataTransfer", {"vendorId": "V"}))[2:] == [
            "InternalError", "boom", {"x": 1}]
        # NO_REPLY: nothing comes back
        link.set_reply("StatusNotification", NO_REPLY)
        await st.send("StatusNotification", {"connectorId": 0, "errorCode": "NoError",
                                             "status": "Available"})
        with pytest.raises(asyncio.TimeoutError):
            await asyncio.wait_for(st.other.get(), 0.3)
        # None restores the default; a bad fixed reply is refused at once
        link.set_reply("DataTransfer", None)
        assert (await st.call("DataTransfer", {"vendorId": "V"}))[2] == {"status": "Accepted"}
        with pytest.raises(ValueError):
            link.set_reply("Heartbeat", {"currentTime": 5})
        link.set_reply("Heartbeat", {"currentTime": 5}, validate=False)
        assert (await st.call("Heartbeat", {}))[2] == {"currentTime": 5}
        # an action without default answers once it has a reply
        link.set_reply("Reset", {"status": "Accepted"})
        assert (await st.call("Reset", {"type": "Hard"}))[2] == {"status": "Accepted"}
        assert link.violations == []
        await st.close()
    finally:
        await csms.stop()


# --- CSMS -> station calls --------------------------------------------------------

@pytest.mark.parametrize("version", VERSIONS)
@run
async def test_call_to_station(version):
    lines = []
    csms = Csms(log=lines.append)
    await csms.start()
    try:
        st, _, link = await booted(csms, version)
        action, req, res = {
            "1.6": ("ChangeConfiguration", {"key": "HeartbeatInterval", "value": "60"},
                    {"status": "Accepted"}),
            "2.0.1": ("GetVariables", {"getVariableData": [
                {"component": {"name": "OCPPCommCtrlr"}, "variable": {"name": "HeartbeatInterval"}}]},
                {"getVariableResult": [{"attributeStatus": "Accepted", "attributeValue": "60",
                                        "component": {"name": "OCPPCommCtrlr"},
                                        "variable": {"name": "HeartbeatInterval"}}]}),
        }[version]
        st.answers[action] = res
        assert await link.call(action, req) == res
        assert st.incoming[-1][2:] == [action, req]
        # CALLERROR -> CallError
        st.answers[action] = lambda m: [4, m[1], "NotSupported", "nope", {}]
        with pytest.raises(CallError) as e:
            await link.call(action, req)
        assert (e.value.code, e.value.description) == ("NotSupported", "nope")
        # a CALLRESULT failing its schema -> SchemaViolation, recorded
        st.answers[action] = {"status": 7}
        with pytest.raises(SchemaViolation):
            await link.call(action, req)
        assert link.violations[-1].kind == "result"
        # silence -> TimeoutError; an invalid CALL is not sent unless validate=False
        st.answers[action] = NO_REPLY
        with pytest.raises(TimeoutError):
            await link.call(action, req, timeout=0.3)
        with pytest.raises(Exception):
            await link.call(action, {"bogus": 1})
        st.answers[action] = lambda m: [4, m[1], "FormatViolation", "", {}]
        with pytest.raises(CallError):
            await link.call(action, {"bogus": 1}, validate=False)
        # frames and log lines, both directions
        dirs = {d for d, _ in link.frames}
        assert dirs == {"<-", "->"}
        assert any(" CS1 -> [2," in line for line in lines)
        assert any(" CS1 <- " in line for line in lines)
        # raw frames go out as is; the station's reaction lands in frames
        n = len(link.frames)
        await link.send_raw('[2,"raw1","Reset",{"type":"Soft"}')     # truncated JSON
        await asyncio.sleep(0.1)
        assert link.frames[n:] == [("->", '[2,"raw1","Reset",{"type":"Soft"}'),
                                   ("<-", '[4,"-1","RpcFrameworkError","bad JSON",{}]')]
        # server-side close
        await link.close(4000)
        assert await link.wait_closed() == 4000
        with pytest.raises(ConnectionError):
            await link.call(action, req)
        await st._task
    finally:
        await csms.stop()


@run
async def test_wait_for_and_reconnect():
    csms = Csms()
    await csms.start()
    try:
        st, _, link = await booted(csms, "2.0.1")
        now = utc_now()
        for c in (1, 2):
            await st.send("StatusNotification", {"timestamp": now, "connectorStatus":
                                                 "Occupied", "evseId": c, "connectorId": 1})
        p = await link.wait_for("StatusNotification", lambda p: p["evseId"] == 2)
        assert p["evseId"] == 2
        after = len(link.received)
        waiter = asyncio.ensure_future(link.wait_for("Heartbeat", after=after, timeout=3))
        await asyncio.sleep(0.05)
        await st.send("Heartbeat", {})
        assert await waiter == {}
        with pytest.raises(TimeoutError):
            await link.wait_for("Heartbeat", after=len(link.received), timeout=0.2)
        # a reconnect is a new link; the old one is closed
        st2, _, _ = await booted(csms, "2.0.1")
        link2 = await csms.wait_station("CS1", newer_than=link)
        assert link2 is not link and csms.connections == 2
        await link.wait_closed()
        assert csms.links("CS1") == [link, link2]
        await st2.close()
        await st._task
    finally:
        await csms.stop()


# --- HTTP layer: auth, subprotocol, path -------------------------------------------

def _basic(user, pw):
    raw = user.encode() + b":" + (pw if isinstance(pw, bytes) else pw.encode())
    return {"Authorization": "Basic " + base64.b64encode(raw).decode()}


@run
async def test_basic_auth():
    key = "0011223344556677889900112233445566778899"     # 1.6 AuthorizationKey, hex
    csms = Csms(passwords={"CS1": "s3cret-password!", "CS2": key})
    await csms.start()
    try:
        for headers in ({}, _basic("CS1", "wrong"), _basic("CS2", "s3cret-password!"),
                        {"Authorization": "Bearer x"}):
            with pytest.raises(InvalidStatus) as e:
                await connect(csms.url + "CS1", subprotocols=["ocpp1.6"],
                              additional_headers=headers)
            assert e.value.response.status_code == 401
        with pytest.raises(InvalidStatus) as e:
            await connect(csms.url + "CS9", subprotocols=["ocpp1.6"],
                          additional_headers=_basic("CS9", "x"))
        assert e.value.response.status_code == 401
        assert csms.connections == 0
        st, reply, _ = await booted(csms, "2.0.1", additional_headers=_basic(
            "CS1", "s3cret-password!"))
        assert reply[2]["status"] == "Accepted"
        await st.close()
        for pw in (key, bytes.fromhex(key)):        # hex text or the raw 20 bytes
            st, reply, _ = await booted(csms, "1.6", "CS2", additional_headers=_basic("CS2", pw))
            await st.close()
        assert csms.connections == 3
    finally:
        await csms.stop()


@run
async def test_subprotocol_choice_and_refusal():
    csms = Csms(versions=("1.6",))
    await csms.start()
    try:
        ws = await connect(csms.url + "CS1", subprotocols=["ocpp2.0.1", "ocpp1.6"])
        assert ws.subprotocol == "ocpp1.6"
        await ws.close()
        for offered in (["ocpp2.0.1"], ["ocpp9"], None):
            ws = await connect(csms.url + "CS1", subprotocols=offered)
            assert ws.subprotocol is None
            with pytest.raises(ConnectionClosed):
                await asyncio.wait_for(ws.recv(), 2)
            assert ws.close_code == 1002
        assert csms.connections == 1
        # the station id is the percent-decoded last path segment
        st = await Station.open(csms.url + "ocpp/RDAM%20123", "1.6")
        link = await csms.wait_station("RDAM 123")
        assert link.station_id == "RDAM 123" and csms.station("RDAM 123") is link
        await st.close()
        with pytest.raises(InvalidStatus):
            await connect(csms.url, subprotocols=["ocpp1.6"])       # no id: 404
    finally:
        await csms.stop()


# --- TLS ----------------------------------------------------------------------------

@run
async def test_wss_server_and_client_certs():
    ca, server, client = certs.make_pki()
    assert server.cert_der[0] == 0x30 and b"BEGIN CERTIFICATE" in server.cert_pem
    csms = Csms(ssl_context=certs.server_ssl_context(server))
    await csms.start()
    try:
        assert csms.url.startswith("wss://127.0.0.1:")
        st, reply, link = await booted(csms, "2.0.1", ssl=certs.client_ssl_context(ca))
        assert reply[2]["status"] == "Accepted" and link.peer_cert is None
        await st.close()
        with pytest.raises(OSError):            # a CA the station does not trust
            await connect(csms.url + "CS1", subprotocols=["ocpp1.6"],
                          ssl=certs.client_ssl_context(certs.make_ca()))
        localhost = csms.url.replace("127.0.0.1", "localhost")
        st = await Station.open(localhost + "CS1", "1.6", ssl=certs.client_ssl_context(ca))
        await st.close()
    finally:
        await csms.stop()
    # security profile 3: client certificate required
    csms = Csms(ssl_context=certs.server_ssl_context(server, client_ca=ca))
    await csms.start()
    try:
        st, _, link = await booted(csms, "1.6", ssl=certs.client_ssl_context(ca, client))
        assert dict(x[0] for x in link.peer_cert["subject"])["commonName"] == "CS1"
        await st.close()
        with pytest.raises((OSError, ConnectionClosed, InvalidMessage)):
            ws = await connect(csms.url + "CS1", subprotocols=["ocpp1.6"],
                               ssl=certs.client_ssl_context(ca))
            await ws.recv()     # TLS 1.3 reports the missing cert after the handshake
    finally:
        await csms.stop()


def _has_ipv6_loopback():
    import socket
    try:
        with socket.socket(socket.AF_INET6) as s:
            s.bind(("::1", 0))
        return True
    except OSError:
        return False


@run
async def test_listens_on_every_address_of_its_name(monkeypatch):
    """A name with more than one address (a minimal Debian's /etc/hosts: localhost is ::1
    and 127.0.0.1): the CSMS listens on each, on one port, so a station reaches it at
    whichever address it dials (issue 19)."""
    import socket
    from tools.csms import server
    names = ["127.0.0.1"] + (["::1"] if _has_ipv6_loopback() else [])
    real = socket.getaddrinfo

    def resolve(host, port, *a, **kw):
        if host != "csms.test":
            return real(host, port, *a, **kw)
        return [ai for n in reversed(names) for ai in real(n, port, *a, **kw)]
    monkeypatch.setattr(server.socket, "getaddrinfo", resolve)
    csms = Csms(host="csms.test")
    await csms.start()
    try:
        assert csms.url == "ws://csms.test:%d/" % csms.port
        for n in names:
            url = "ws://%s:%d/" % ("[%s]" % n if ":" in n else n, csms.port)
            st = await Station.open(url + "CS" + str(len(n)), "1.6")
            await st.close()
        assert csms.connections == len(names)
    finally:
        await csms.stop()
    csms = Csms(host="::1" if len(names) > 1 else "127.0.0.1")
    await csms.start()
    try:
        st = await Station.open(csms.url + "CS9", "1.6")
        await st.close()
    finally:
        await csms.stop()


# --- sync wrapper and CLI ------------------------------------------------------------

def test_csms_thread():
    with CsmsThread(boot_interval=11) as t:
        t.set_reply("Authorize", {"idTokenInfo": {"status": "Unknown"}}, version="2.0.1")

        async def station():
            st, reply, _ = await booted(t.csms, "2.0.1")
            st.answers["Reset"] = {"status": "Scheduled"}
            await st.call("Authorize", {"idToken": {"idToken": "A", "type": "Local"}})
            await asyncio.sleep(1.0)        # the test thread calls Reset meanwhile
            await st.close()
            return reply

        # the station runs on this thread's own loop, the CSMS on its thread
        import threading
        out = {}
        th = threading.Thread(target=lambda: out.setdefault("r", asyncio.run(station())))
        th.start()
        s = t.station("CS1")
        assert s.version == "2.0.1" and t.connections == 1
        assert t.wait_for("CS1", "Authorize")["idToken"]["idToken"] == "A"
        assert t.call("CS1", "Reset", {"type": "OnIdle"}) == {"status": "Scheduled"}
        t.boot_status = "Pending"
        assert t.csms.boot_status == "Pending"
        th.join(5)
        assert out["r"][2]["interval"] == 11
        assert s.violations == [] and len(s.frames) == 6
        assert s.wait_closed() == 1000
    assert t._loop.is_closed()


def test_cli_runs_and_stops_cleanly():
    p = subprocess.Popen([sys.executable, "-m", "tools.csms", "--port", "0",
                          "--boot", "Pending", "--interval", "9"], cwd=ROOT,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        first = p.stdout.readline()
        assert first.startswith("CSMS listening: ws://127.0.0.1:"), first
        url = first.split()[2].replace("<station-id>", "CLI1")

        async def station():
            st = await Station.open(url, "1.6")
            reply = await st.call("BootNotification", BOOT["1.6"])
            await st.ws.send("not json")        # the package's traceback stays quiet
            await st.close()
            return reply
        reply = asyncio.run(station())
        assert (reply[2]["status"], reply[2]["interval"]) == ("Pending", 9)
        p.send_signal(signal.SIGINT)
        out, err = p.communicate(timeout=10)
    finally:
        if p.poll() is None:
            p.kill()
    assert p.returncode == 0, err
    assert err == ""
    assert " CLI1 <- [2," in out and " CLI1 -> [3," in out and "CSMS stopped" in out


class _NoWire:
    close_code = None


@pytest.mark.parametrize("version", VERSIONS)
@run
async def test_every_default_reply_passes_its_schema(version):
    from ocpp.messages import CallResult, _validate_payload
    from tools.csms.link import LINKS
    link = LINKS[version]("X", _NoWire(), Csms())
    assert {"BootNotification", "Heartbeat", "Authorize", "StatusNotification",
            "MeterValues", "DataTransfer", "SecurityEventNotification",
            "SignCertificate"} <= set(link.route_map)
    for action, route in link.route_map.items():
        for payload in ({}, {"idToken": {"idToken": "A", "type": "Local"}}):
            reply = route["_on_action"](payload)
            _validate_payload(CallResult("1", reply, action), version)
