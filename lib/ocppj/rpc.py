"""OCPP-J RPC over one WebSocket link: framing, our one CALL in flight, serving the
CSMS's CALLs, CALLERROR codes (OCPP-J 1.6 section 4, OCPP 2.0.1 Part 4 section 4).

Incoming CALLs run each in a small task (at most _MAX_SERVING at once) so that a slow
handler never stops the reader: our own CALLRESULT is read while a handler works, and a
handler may itself await call(). A CALL beyond that bound is answered GenericError
"busy" (the CSMS SHALL keep only one CALL outstanding, so this is a misbehaving peer)."""
from micropython import const
import asyncio
import json
import random

from .payload import check, lookup
from . import scan

_CALL = const(2)
_RESULT = const(3)
_ERROR = const(4)
_MAX_ID = const(36)          # message id length (OCPP-J 4.1.4)
_MAX_DESC = const(255)       # CALLERROR description (2.0.1 Part 4 4.2.3)
_MAX_SERVING = const(2)      # incoming CALLs handled at once
_SEP = const((",", ":"))  # compact JSON on the wire
_MAX_NEST = const(20)        # frame array + the schema walk's 16 levels + room


# ---- exceptions and CALLERROR codes --------------------------------------------------
# OCPP-J RPC exceptions and the CALLERROR code spelled per protocol version.
#
# Error codes: OCPP-J 1.6 Table 7 (its misspellings "FormationViolation" and
# "OccurenceConstraintViolation" are the wire values, J16 errata 5.1/5.2) and
# OCPP 2.0.1 Part 4 Table 8.

class Error(Exception):
    """Base of the ocppj exceptions."""


class CallError(Error):
    """A CALLERROR: raised by a handler to answer with it, or by Rpc.call() when the CSMS
    answered one (or its CALLRESULT failed the schema)."""

    def __init__(self, code, description="", details=None):
        super().__init__(code, description)
        self.code = code
        self.description = description
        self.details = details


class Timeout(Error):
    """No answer to our CALL in time."""


class Disconnected(Error):
    """No link, or the link was lost while our CALL waited."""


# Index into the tables below: the payload-check kinds of payload.py come first.
TYPE = const(0)
OCCUR = const(1)
FORMAT = const(2)
PROP = const(3)
FRAME = const(4)          # malformed JSON, not a list, unreadable message id
MSGTYPE = const(5)        # unknown MessageTypeId (None: ignore, 1.6 J16 4.1.3)

_V16 = const(("TypeConstraintViolation", "OccurenceConstraintViolation", "FormationViolation",
              "PropertyConstraintViolation", "FormationViolation", None))
_V201 = const(("TypeConstraintViolation", "OccurrenceConstraintViolation", "FormatViolation",
               "PropertyConstraintViolation", "RpcFrameworkError", "MessageTypeNotSupported"))


def codes(version):
    """The code table for "1.6" or "2.0.1"; raises ValueError for anything else."""
    if version == "1.6":
        return _V16
    if version == "2.0.1":
        return _V201
    raise ValueError("OCPP version")


def _dumps(obj):
    return json.dumps(obj, separators=_SEP)


class Rpc:
    """One OCPP-J endpoint (the station side); serve() one link at a time."""

    def __init__(self, version, handler, requests=None, responses=None, log=None,
                 timeout_ms=30000, rand=None, redact=None, route_unknown=False):
        """requests / responses: generated tables (S, index), see payload.py.
        requests=None: every action goes to the handler unchecked; an action missing
        from `requests` is answered NotImplemented here, or with route_unknown given to
        the handler unchecked (which knows which are recognised: NotSupported, and
        which registration state answers nothing or SecurityError); an action missing
        from `responses` is not checked. log: an object with debug/info/warn/error
        (tag, fmt, *args), e.g. firmware.log. rand: () -> int, for message ids.
        redact: frame text -> text as it may be logged (secrets masked)."""
        self._redact = redact
        self._codes = codes(version)
        self._handler = handler
        self._requests = requests
        self._route_unknown = route_unknown
        self._responses = responses
        self._log = log
        self.timeout_ms = timeout_ms
        r = rand() if rand else random.getrandbits(32)
        self._prefix = "%08x." % (r & 0xFFFFFFFF)
        self._seq = 0
        self._cli = None
        self._lock = asyncio.Lock()          # one outgoing CALL at a time
        self._send_lock = asyncio.Lock()     # one frame at a time on the link
        self._done = asyncio.Event()
        self._wait_id = None                 # id of our CALL awaiting its answer
        self._wait_action = None
        self._wait_cli = None                # the link it was sent on
        self._answer = None                  # payload dict, or an exception to raise
        self._tasks = []                     # handler tasks running

    @property
    def connected(self):
        """True while serve() reads a link (call() raises Disconnected otherwise)."""
        return self._cli is not None

    # -- our CALLs ---------------------------------------------------------------

    def _new_id(self):
        self._seq = (self._seq + 1) % 1000000000
        return self._prefix + str(self._seq)

    async def call(self, action, payload, timeout_ms=None):
        """Send CALL [2, id, action, payload] and return the CALLRESULT payload."""
        async with self._lock:
            cli = self._cli
            if cli is None:
                raise Disconnected()
            mid = self._new_id()
            text = _dumps([_CALL, mid, action, {} if payload is None else payload])
            self._wait_id = mid
            self._wait_action = action
            self._wait_cli = cli
            self._answer = None
            self._done.clear()
            try:
                if not await self._send(cli, text):
                    raise Disconnected()
                t = self.timeout_ms if timeout_ms is None else timeout_ms
                try:
                    await asyncio.wait_for_ms(self._done.wait(), t)
                except asyncio.TimeoutError:
                    raise Timeout()
            finally:
                self._wait_id = None
                self._wait_action = None
                self._wait_cli = None
            ans = self._answer
            self._answer = None
            if isinstance(ans, Exception):
                raise ans
            return ans

    def _answered(self, ans):
        self._answer = ans
        self._wait_id = None
        self._done.set()

    # -- the reader ----------------------------------------------------------------

    async def serve(self, cli):
        """Read and dispatch frames until the link closes; then release a waiting call()
        with Disconnected. Any exception from cli.recv() means the link is lost."""
        self._cli = cli
        try:
            while True:
                try:
                    msg = await cli.recv()
                except Exception as e:    # ws.WSClosed, OSError, ...: link lost
                    self._warn("link lost: %r", e)
                    return
                try:
                    await self._frame(cli, msg)
                except Exception as e:    # never let one frame stop the reader
                    self._warn("frame failed: %r", e)
        finally:
            if self._cli is cli:
                self._cli = None
            if self._wait_id is not None and self._wait_cli is cli:
                self._answered(Disconnected())

    def deinit(self):
        """Cancel the handler tasks still running."""
        for t in self._tasks:
            t.cancel()
        self._tasks = []

    async def _frame(self, cli, msg):
        if self._log is not None:
            self._log.debug("ocppj", "< %s", self._redact(msg) if self._redact else msg)
        # Strict JSON, bounded nesting, valid UTF-8 before json.loads (lib/ocppj/scan.py).
        # A text frame's UTF-8 is lib/ws's check (RFC 6455 8.1); a binary one's is here.
        if isinstance(msg, str):
            b = msg.encode()
            ok = True
        else:
            b = msg
            ok = scan.utf8(b)
        r = scan.scan(b, _MAX_NEST) if ok else scan.BAD
        if r == scan.DEEP:
            return await self._deep(cli, b)
        m = None
        if r != scan.BAD:
            if r & scan.SURR:
                b = scan.fix(b)
            try:
                m = json.loads(b)
            except ValueError:
                m = None
        if type(m) is not list or not m or type(m[0]) is not int:
            return await self._reject(cli, "-1", FRAME, "malformed message")
        mid = m[1] if len(m) > 1 else None
        if type(mid) is not str or len(mid) > _MAX_ID:
            mid = None
        kind = m[0]
        if kind == _CALL:
            if mid is None:
                return await self._reject(cli, "-1", FRAME, "unreadable message id")
            return await self._call_in(cli, mid, m)
        if kind == _RESULT or kind == _ERROR:
            return self._answer_in(cli, mid, m)
        if self._codes[MSGTYPE] is None:
            self._warn("message type %d ignored", kind)
            return None
        return await self._reject(cli, mid or "-1", MSGTYPE, "message type not supported")

    async def _deep(self, cli, b):
        """A frame nested past _MAX_NEST, never parsed: a CALL whose id can be read is
        answered as a payload of the wrong form (as payload.py's own depth bound);
        an answer to our CALL fails that call; anything else is a malformed frame."""
        h = scan.head(b)
        mid = h[1] if h is not None and type(h[1]) is str and len(h[1]) <= _MAX_ID else None
        if mid is not None and h[0] == _CALL:
            return await self._reject(cli, mid, FORMAT, "nested too deep")
        if mid is not None and (h[0] == _RESULT or h[0] == _ERROR):
            if mid == self._wait_id and cli is self._wait_cli:
                return self._answered(CallError(self._codes[FORMAT], "nested too deep"))
            self._warn("answer to unknown id %r dropped", mid)
            return None
        return await self._reject(cli, "-1", FRAME, "nested too deep")

    async def _call_in(self, cli, mid, m):
        action = m[2] if len(m) > 2 else None
        if len(m) != 4 or type(action) is not str:
            return await self._reject(cli, mid, FRAME, "bad CALL")
        payload = m[3]
        schema = None
        if self._requests is not None:
            schema = lookup(self._requests, action)
            if schema is None and not (self._route_unknown and type(payload) is dict):
                return await self._error(cli, mid, "NotImplemented", "unknown action " + action)
        if type(payload) is not dict:
            return await self._reject(cli, mid, FORMAT, "payload is not an object")
        if schema is not None:
            bad = check(schema, payload)
            if bad:
                return await self._reject(cli, mid, bad[0], _describe(bad))
        if len(self._tasks) >= _MAX_SERVING:
            return await self._error(cli, mid, "GenericError", "busy")
        self._tasks.append(asyncio.create_task(self._serve_one(cli, mid, action, payload)))
        return None

    async def _serve_one(self, cli, mid, action, payload):
        try:
            try:
                res = await self._handler(action, payload)
            except CallError as e:
                return await self._error(cli, mid, e.code, e.description, e.details)
            except Exception as e:     # a handler bug must not reach the reader
                self._warn("handler %s failed: %r", action, e)
                return await self._error(cli, mid, "InternalError", "handler failed")
            if res is None:            # e.g. 1.6 boot Rejected: no reply at all
                return None
            try:
                text = _dumps([_RESULT, mid, res])
            except (TypeError, ValueError) as e:
                self._warn("handler %s result: %r", action, e)
                return await self._error(cli, mid, "InternalError", "bad result")
            await self._send(cli, text)
        finally:
            me = asyncio.current_task()
            if me in self._tasks:
                self._tasks.remove(me)

    def _answer_in(self, cli, mid, m):
        """A CALLRESULT or CALLERROR: for our waiting CALL, else logged and dropped;
        never answered (OCPP-J: no CALLERROR to a CALLRESULT or CALLERROR)."""
        if mid is None or mid != self._wait_id or cli is not self._wait_cli:
            self._warn("answer to unknown id %r dropped", mid)
            return None
        if m[0] == _ERROR:
            code = m[2] if len(m) > 2 else None
            desc = m[3] if len(m) > 3 else ""
            details = m[4] if len(m) > 4 else None
            if type(code) is not str:
                code = "GenericError"
            if type(desc) is not str:
                desc = ""
            return self._answered(CallError(code, desc, details))
        payload = m[2] if len(m) > 2 else None
        if len(m) != 3 or type(payload) is not dict:
            return self._answered(CallError(self._codes[FORMAT], "bad CALLRESULT"))
        schema = lookup(self._responses, self._wait_action) if self._responses else None
        if schema is not None:
            bad = check(schema, payload)
            if bad:
                return self._answered(CallError(self._codes[bad[0]], _describe(bad)))
        return self._answered(payload)

    # -- sending -----------------------------------------------------------------

    async def _reject(self, cli, mid, kind, desc):
        """A CALLERROR whose code depends on the version (the tables above)."""
        return await self._error(cli, mid, self._codes[kind], desc)

    async def _error(self, cli, mid, code, desc, details=None):
        if type(desc) is not str:
            desc = str(desc)
        if type(details) is not dict:
            details = {}
        try:
            text = _dumps([_ERROR, mid, str(code), desc[:_MAX_DESC], details])
        except (TypeError, ValueError):     # details a handler filled with odd values
            text = _dumps([_ERROR, mid, str(code), desc[:_MAX_DESC], {}])
        return await self._send(cli, text)

    async def _send(self, cli, text):
        """Send one frame; False (logged) if the link failed."""
        if self._log is not None:
            self._log.debug("ocppj", "> %s", self._redact(text) if self._redact else text)
        async with self._send_lock:
            try:
                await cli.send(text)
                return True
            except Exception as e:    # the reader sees the loss and ends serve()
                self._warn("send failed: %r", e)
                return False

    def _warn(self, fmt, *args):
        if self._log is not None:
            self._log.warn("ocppj", fmt, *args)


def _describe(bad):
    # (kind, path, what) from check() -> "path: what"
    return bad[1] + ": " + bad[2] if bad[1] else bad[2]
