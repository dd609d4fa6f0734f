"""One station connection: the ocpp package's ChargePoint, recording and scriptable.

`Link` is mixed into `ocpp.v16.ChargePoint` / `ocpp.v201.ChargePoint`. It keeps the
package's reader loop (`start`), message routing (`route_message`, `route_map`),
schema validation (`validate_payload`), one-CALL-at-a-time lock and reply matching
(`_get_specific_response`), and changes three things:
  * `_handle_call` works on the wire (camelCase) payload and looks up a test's
    `set_reply` override before the default route; it records every CALL and every
    schema failure, and can answer nothing (NO_REPLY);
  * `call(action, payload)` sends any CALL from a dict (no dataclasses);
  * every frame both ways is recorded in `frames` and logged.
"""
import asyncio
import copy
import inspect
import logging
import uuid

import ocpp.v16
import ocpp.v201
from ocpp.charge_point import _raise_key_error
from ocpp.exceptions import OCPPError
from ocpp.messages import (Call, CallResult, MessageType, _validate_payload, unpack,
                           validate_payload)
from ocpp.messages import CallError as _CallErrorMsg

from .defaults import V16Defaults, V201Defaults
from .replies import NO_REPLY, CallError, CallErrorReply, SchemaViolation, Violation

RECV = "<-"     # station -> CSMS
SENT = "->"     # CSMS -> station

# The package logs tracebacks for every bad frame; we record those as violations instead.
_QUIET = logging.getLogger("tools.csms.ocpp")
_QUIET.addHandler(logging.NullHandler())
_QUIET.propagate = False


class Signal:
    """Wake every waiter when something was added (an Event swapped on each fire)."""

    def __init__(self):
        self._event = asyncio.Event()

    def fire(self):
        self._event.set()
        self._event = asyncio.Event()

    async def wait(self, timeout):
        """Wait for the next fire; False on timeout."""
        try:
            await asyncio.wait_for(self._event.wait(), timeout)
            return True
        except asyncio.TimeoutError:
            return False


def _violation(kind, action, err, payload):
    cause = err.details.get("cause") if isinstance(err.details, dict) else None
    desc = "%s: %s" % (err.description, cause) if cause else err.description
    return Violation(kind, action, err.code, desc, payload)


class _Wire:
    """The connection as ChargePoint sees it: recv/send, each frame recorded and logged."""

    def __init__(self, ws, link):
        self.ws = ws
        self._link = link
        self.binary = False     # was the last frame received binary?

    async def recv(self):
        data = await self.ws.recv()
        self.binary = isinstance(data, bytes)
        if self.binary:
            data = data.decode("utf-8", "replace")
        self._link._record_frame(RECV, data)
        return data

    async def send(self, text):
        self._link._record_frame(SENT, text)
        await self.ws.send(text)


class Link:
    """Mixin over an ocpp ChargePoint class; see the package docstring for the API."""

    def __init__(self, station_id, ws, csms):
        super().__init__(station_id, _Wire(ws, self), response_timeout=30, logger=_QUIET)
        self.station_id = station_id
        self.version = self._ocpp_version
        self.ws = ws
        self._csms = csms
        self.received = []      # (action, payload) of every CALL the station sent
        self.frames = []        # (direction, text): RECV "<-" or SENT "->"
        self.violations = []    # Violation
        self._replies = {}      # action -> (reply, validate)
        self._news = Signal()
        self._closed = asyncio.get_running_loop().create_future()

    def __repr__(self):
        return "<Link %s ocpp%s%s>" % (self.station_id, self.version,
                                       " closed" if self.closed else "")

    # --- recording -------------------------------------------------------------

    def _record_frame(self, direction, text):
        self.frames.append((direction, text))
        self._csms._log_line(self.station_id, direction, text)

    def _mark_closed(self):
        if not self._closed.done():
            self._closed.set_result(self.ws.close_code)
        self._news.fire()

    @property
    def closed(self):
        return self._closed.done()

    @property
    def close_code(self):
        return self.ws.close_code

    @property
    def peer_cert(self):
        """The station's TLS client certificate (ssl.getpeercert() dict), or None."""
        return self.ws.transport.get_extra_info("peercert")

    async def wait_closed(self, timeout=10):
        """Wait until the connection is gone; returns the close code."""
        return await asyncio.wait_for(asyncio.shield(self._closed), timeout)

    # --- the station's CALLs ---------------------------------------------------

    def set_reply(self, action, reply, validate=True):
        """Answer `action` with `reply` on this link (None restores the default).

        reply: a payload dict, a callable(payload) -> dict (may be async, may also
        return CallErrorReply or NO_REPLY, or None for the default answer, may
        raise an ocpp OCPPError to answer with that CALLERROR), a
        CallErrorReply, or NO_REPLY. validate=False sends a payload that fails the
        response schema (for robustness tests); a fixed dict is checked right here.
        """
        _check_reply(action, reply, validate, self.version)
        if reply is None:
            self._replies.pop(action, None)
        else:
            self._replies[action] = (reply, validate)

    async def route_message(self, raw_msg):
        try:
            unpack(raw_msg)
            if self._connection.binary:
                self.violations.append(Violation("frame", None, "FormatViolation",
                                                 "binary frame (OCPP-J is text)", raw_msg))
        except OCPPError as e:      # the package logs and drops it: no reply
            v = _violation("frame", None, e, raw_msg)
            if self._connection.binary:
                v = Violation("frame", None, v.code, "binary frame; " + v.description, raw_msg)
            self.violations.append(v)
        await super().route_message(raw_msg)

    async def _handle_call(self, msg):
        self.received.append((msg.action, msg.payload))
        self._news.fire()
        override = self._replies.get(msg.action) or self._csms._reply_for(self.version,
                                                                           msg.action)
        route = self.route_map.get(msg.action, {}).get("_on_action")
        if override is None and route is None:
            _raise_key_error(msg.action, self._ocpp_version)   # NotImplemented/NotSupported
        try:
            await validate_payload(Call(msg.unique_id, msg.action, msg.payload), self.version)
        except OCPPError as e:
            self.violations.append(_violation("call", msg.action, e, msg.payload))
            raise   # route_message answers with the package's CALLERROR
        reply, validate = override if override is not None else (route, True)
        try:
            if callable(reply):
                reply = reply(msg.payload)
                if inspect.isawaitable(reply):
                    reply = await reply
                if reply is None and route is not None:     # "no opinion": the default
                    reply = route(msg.payload)
            if isinstance(reply, dict):
                reply = copy.deepcopy(reply)    # a fixed reply stays fixed
        except Exception as e:  # noqa: BLE001 - a handler that raises becomes a CALLERROR
            self._csms._log_line(self.station_id, "**", "reply to %s raised %r" % (msg.action, e))
            await self._send(msg.create_call_error(e).to_json())
            return
        if reply is NO_REPLY:
            return
        if isinstance(reply, CallErrorReply):
            await self._send(_CallErrorMsg(msg.unique_id, reply.code, reply.description,
                                           reply.details).to_json())
            return
        result = msg.create_call_result(reply)
        text = result.to_json()     # before validation, which may turn floats into Decimal
        if validate:
            try:
                await validate_payload(result, self.version)
            except OCPPError as e:
                self._csms._log_line(self.station_id, "**", "our reply to %s fails its "
                                     "schema, sending CALLERROR: %s" % (msg.action, e))
                raise
        await self._send(text)

    # --- our CALLs to the station ----------------------------------------------

    async def call(self, action, payload, timeout=30, validate=True):
        """Send a CALL; return the CALLRESULT payload (camelCase dict).

        Raises CallError on CALLERROR, SchemaViolation when the result fails its
        schema (also recorded in violations), TimeoutError, ConnectionError when
        the link is or goes down. validate=False skips both schema checks (to send
        a CALL the station must reject). An invalid CALL raises the package's
        OCPPError before anything is sent.
        """
        msg = Call(str(uuid.uuid4()), action, copy.deepcopy(payload))
        text = msg.to_json()
        if validate:
            await validate_payload(msg, self.version)
        async with self._call_lock:
            if self.closed:
                raise ConnectionError("%s: link closed" % self.station_id)
            await self._send(text)
            get = asyncio.ensure_future(self._get_specific_response(msg.unique_id, timeout))
            done, _ = await asyncio.wait({get, self._closed}, timeout=timeout,
                                         return_when=asyncio.FIRST_COMPLETED)
            if get not in done:
                get.cancel()
                if self.closed:
                    raise ConnectionError("%s: link closed during %s" % (self.station_id, action))
                raise TimeoutError("%s: no answer to %s in %ss" % (self.station_id, action, timeout))
            response = get.result()   # raises asyncio.TimeoutError too
        if response.message_type_id == MessageType.CallError:
            raise CallError(response.error_code, response.error_description,
                            response.error_details)
        result = copy.deepcopy(response.payload)
        if validate:
            response.action = action
            try:
                await validate_payload(response, self.version)
            except OCPPError as e:
                v = _violation("result", action, e, result)
                self.violations.append(v)
                raise SchemaViolation(v) from None
        return result

    async def wait_for(self, action, pred=None, timeout=10, after=0):
        """Payload of the first CALL `action` (index >= after) with pred(payload) true."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        i = after
        while True:
            while i < len(self.received):
                a, p = self.received[i]
                i += 1
                if a == action and (pred is None or pred(p)):
                    return p
            left = deadline - loop.time()
            if left <= 0 or not await self._news.wait(left):
                raise TimeoutError("%s: no %s in %ss" % (self.station_id, action, timeout))

    async def send_raw(self, text):
        """Send one text frame as is (bad-input tests)."""
        await self._send(text)

    async def close(self, code=1000, reason=""):
        """Close from the CSMS side."""
        await self.ws.close(code, reason)


def _check_reply(action, reply, validate, version):
    if not validate or not isinstance(reply, dict):
        return
    try:
        _validate_payload(CallResult("check", copy.deepcopy(reply), action), version)
    except OCPPError as e:
        raise ValueError("reply for %s fails its schema (pass validate=False to send it "
                         "anyway): %s" % (action, e)) from None


class V16Link(Link, V16Defaults, ocpp.v16.ChargePoint):
    pass


class V201Link(Link, V201Defaults, ocpp.v201.ChargePoint):
    pass


LINKS = {"1.6": V16Link, "2.0.1": V201Link}
