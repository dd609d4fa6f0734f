"""A connected WebSocket client: recv/send/close, pings, limits (RFC 6455 5, 7)."""
from micropython import const
import asyncio
from time import ticks_ms, ticks_diff
from .errors import WSClosed
from .frame import close_payload
from .writer import Writer

_OPEN = const(0)
_CLOSING = const(1)  # our close frame is out, waiting for the server's
_CLOSED = const(2)

_FIN = const(0x80)
_RSV = const(0x70)
_MASKED = const(0x80)
_OP_CONT = const(0x0)
_OP_TEXT = const(0x1)
_OP_BINARY = const(0x2)
_OP_CLOSE = const(0x8)
_OP_PING = const(0x9)
_OP_PONG = const(0xA)
_CTRL_MAX = const(125)
_LINGER_MS = const(1000)  # after failing the link: how long to wait for the server's FIN

_C_PROTOCOL = const(1002)
_C_NO_STATUS = const(1005)
_C_ABNORMAL = const(1006)
_C_BAD_DATA = const(1007)
_C_TOO_BIG = const(1009)

_MBUF = const(512)  # receive buffer kept between messages
_MKEEP = const(2048)  # a bigger one is dropped after its message


def _valid_code(c):
    # RFC 6455 7.4.1/7.4.2 and the IANA registry: codes a peer may put on the wire.
    return 1000 <= c <= 1003 or 1007 <= c <= 1014 or 3000 <= c <= 4999


class Client:
    """Made by ws.connect(). One task calls recv() (the reader); any task may send()."""

    def __init__(self, stream, reader, protocol, max_size, timeout_ms, ping_interval_s,
                 pong_timeout_s, rand):
        self.protocol = protocol
        self.max_size = max_size
        self.timeout_ms = timeout_ms
        self.ping_interval_s = ping_interval_s
        self.pong_timeout_s = pong_timeout_s
        self._s = stream
        self._rd = reader
        self._w = Writer(stream, rand)
        self._ctrl = memoryview(bytearray(_CTRL_MAX))
        self._base = bytearray(_MBUF)
        self._mbuf = self._base
        self._mmv = memoryview(self._base)
        self._state = _OPEN
        self._exc = None  # the WSClosed every call raises once _CLOSED
        self._done = asyncio.Event()
        self._reading = False
        self._rx_ms = ticks_ms()  # last frame from the server
        self._ping_ms = None  # when our unanswered ping went out

    async def recv(self):
        """One whole message: str (text) or bytes (binary). Raises WSClosed."""
        if self._state == _CLOSED:
            raise self._exc
        if self._reading:
            if self._state != _CLOSING:
                raise RuntimeError("recv() already running")
            await self._wait_done()  # close() is reading the server's close
            await self._abort(_C_ABNORMAL, "closed")  # no-op once closed
            raise self._exc
        self._reading = True
        try:
            return await self._recv()
        finally:
            self._reading = False

    async def send(self, data):
        """str -> one text frame, bytes-like -> one binary frame. Raises WSClosed."""
        if isinstance(data, str):
            op = _OP_TEXT
            try:
                data = memoryview(data)     # MicroPython: the UTF-8 bytes, no copy (a
            except TypeError:               # 5 KB report page needs no second 5 KB)
                data = data.encode()        # CPython
        else:
            op = _OP_BINARY
        if self._state != _OPEN:
            raise self._exc or WSClosed(_C_ABNORMAL, "closing")
        await self._send(op, data)

    async def close(self, code=1000, reason=""):
        """Close handshake (RFC 6455 7.1.2): send our close, wait at most timeout_ms for
        the server's, then drop the link. Returns quietly if the link is already gone."""
        if self._state == _OPEN:
            self._state = _CLOSING
            try:
                await asyncio.wait_for_ms(
                    self._w.frame(_OP_CLOSE, close_payload(code, reason)), self.timeout_ms
                )
            except (OSError, asyncio.TimeoutError):
                await self._abort(_C_ABNORMAL, "close not sent")
        if self._state == _CLOSING:
            try:
                if self._reading:  # the reader task will meet the server's close frame
                    await self._wait_done()
                else:
                    await asyncio.wait_for_ms(self._drain(), self.timeout_ms)
            except asyncio.TimeoutError:
                pass
        await self._abort(code, reason)

    async def _recv(self):
        rd = self._rd
        size = 0  # bytes of the message so far
        mop = 0  # its opcode while fragments are still due
        while True:
            try:
                await self._idle()
                await rd.need(2)
                b0 = rd.buf[rd.pos]
                b1 = rd.buf[rd.pos + 1]
                op = b0 & 0x0F
                if b0 & _RSV:  # no extension was negotiated (RFC 6455 5.2)
                    await self._fail(_C_PROTOCOL, "reserved bits set")
                if b1 & _MASKED:  # RFC 6455 5.1: servers must not mask
                    await self._fail(_C_PROTOCOL, "masked frame from server")
                n = b1 & 0x7F
                h = 2 if n < 126 else (4 if n == 126 else 10)
                if h > 2:
                    await rd.need(h)
                    n = int.from_bytes(rd.mv[rd.pos + 2 : rd.pos + h], "big")
                    if n >> 63:
                        await self._fail(_C_PROTOCOL, "bad length")
                rd.pos += h
                if op >= _OP_CLOSE:
                    if op > _OP_PONG:
                        await self._fail(_C_PROTOCOL, "unknown opcode %d" % op)
                    if not b0 & _FIN or n > _CTRL_MAX:  # RFC 6455 5.5
                        await self._fail(_C_PROTOCOL, "bad control frame")
                    mv = self._ctrl[:n]
                    await rd.readinto(mv)
                    self._rx_ms = ticks_ms()
                    await self._control(op, mv)
                    continue
                if op > _OP_BINARY:
                    await self._fail(_C_PROTOCOL, "unknown opcode %d" % op)
                if (op == _OP_CONT) != (mop != 0):  # RFC 6455 5.4
                    await self._fail(_C_PROTOCOL, "bad continuation")
                if op:
                    mop = op
                total = size + n
                if total > self.max_size:  # judged from the header, before any allocation
                    await self._fail(_C_TOO_BIG, "message over %d bytes" % self.max_size)
                self._room(total, size)
                await rd.readinto(self._mmv[size:total])
                size = total
                self._rx_ms = ticks_ms()
                if b0 & _FIN:
                    return await self._message(mop, size)
            except MemoryError:
                await self._fail(_C_TOO_BIG, "out of memory")
            except (EOFError, OSError, asyncio.TimeoutError) as e:
                await self._abort(_C_ABNORMAL, "EOF" if isinstance(e, EOFError) else repr(e))
                raise self._exc

    def _room(self, total, size):
        b = self._mbuf
        if len(b) >= total:
            return
        cap = 2 * len(b)  # fragments: grow by doubling, bounded by max_size
        if cap < total:
            cap = total
        if cap > self.max_size:
            cap = self.max_size
        nb = bytearray(cap)
        if size:
            nb[:size] = self._mmv[:size]
        self._mbuf = nb
        self._mmv = memoryview(nb)

    async def _message(self, op, size):
        mv = self._mmv[:size]
        if op == _OP_TEXT:
            # str() checks UTF-8 where the port enables MICROPY_PY_BUILTINS_STR_UNICODE_CHECK
            # (unix, esp32, rp2 defaults); on a port without it bad text passes unchecked.
            try:
                msg = str(mv, "utf-8")
            except UnicodeError:
                await self._fail(_C_BAD_DATA, "invalid UTF-8")
        else:
            msg = bytes(mv)
        if len(self._mbuf) > _MKEEP:
            self._mbuf = self._base
            self._mmv = memoryview(self._base)
        return msg

    async def _control(self, op, mv):
        if op == _OP_PING:
            if self._state == _OPEN:  # RFC 6455 5.5.2: pong with the same payload
                await self._send(_OP_PONG, mv)
        elif op == _OP_PONG:
            self._ping_ms = None
        else:
            n = len(mv)
            if n == 1:
                await self._fail(_C_PROTOCOL, "bad close frame")
            code = int.from_bytes(mv[:2], "big") if n else _C_NO_STATUS
            if n and not _valid_code(code):
                await self._fail(_C_PROTOCOL, "bad close code %d" % code)
            try:
                reason = str(mv[2:], "utf-8")
            except UnicodeError:
                await self._fail(_C_BAD_DATA, "invalid UTF-8 in close reason")
            if self._state == _OPEN:  # RFC 6455 5.5.1: answer with the same status code
                self._state = _CLOSING
                try:
                    await asyncio.wait_for_ms(self._w.frame(_OP_CLOSE, mv[:2]), self.timeout_ms)
                except (OSError, asyncio.TimeoutError):
                    pass  # the link is going anyway
            await self._abort(code, reason)
            raise self._exc

    async def _idle(self):
        # Wait for the next frame to start. Idle for ping_interval_s: send a ping
        # (RFC 6455 5.5.2); no pong within pong_timeout_s: drop the link.
        rd = self._rd
        while True:
            if self._state == _CLOSED:
                raise self._exc
            now = ticks_ms()
            if self._ping_ms is not None:
                left = int(self.pong_timeout_s * 1000) - ticks_diff(now, self._ping_ms)
                if left <= 0:
                    await self._abort(_C_ABNORMAL, "no pong in %s s" % self.pong_timeout_s)
                    raise self._exc
            elif self.ping_interval_s and self._state == _OPEN:
                left = int(self.ping_interval_s * 1000) - ticks_diff(now, self._rx_ms)
                if left <= 0:
                    await self._send(_OP_PING, b"")
                    self._ping_ms = ticks_ms()
                    continue
            else:
                left = self.timeout_ms  # wake now and then to see a local close
            if rd.pos < rd.end:
                return
            try:
                await rd.fill(left)
            except asyncio.TimeoutError:
                pass

    async def _drain(self):
        # close() without a reader task: read (and drop) until the server's close.
        self._reading = True
        try:
            while True:
                await self._recv()
        except WSClosed:
            pass
        finally:
            self._reading = False

    async def _wait_done(self):
        try:
            await asyncio.wait_for_ms(self._done.wait(), self.timeout_ms)
        except asyncio.TimeoutError:
            pass

    async def _send(self, op, payload):
        try:
            await asyncio.wait_for_ms(self._w.frame(op, payload), self.timeout_ms)
        except (OSError, asyncio.TimeoutError) as e:
            await self._abort(_C_ABNORMAL, "send: %r" % e)
            raise self._exc

    async def _fail(self, code, reason):
        # RFC 6455 7.1.7 "Fail the WebSocket Connection": close frame, then drop the link.
        if self._state == _OPEN:
            self._state = _CLOSING
            try:
                await asyncio.wait_for_ms(
                    self._w.frame(_OP_CLOSE, close_payload(code, reason)), self.timeout_ms
                )
                await asyncio.wait_for_ms(self._linger(), _LINGER_MS)
            except (OSError, asyncio.TimeoutError):
                pass
        await self._abort(code, reason)
        raise self._exc

    async def _linger(self):
        # RFC 6455 7.1.1: the server closes TCP first. Wait for that, dropping what comes:
        # a socket closed with unread bytes sends RST, which can destroy our close frame
        # before the server has read it. Only the reader task gets here.
        rd = self._rd
        try:
            while True:
                rd.pos = rd.end
                await rd.fill()
        except EOFError:
            pass

    async def _abort(self, code, reason):
        if self._state == _CLOSED:
            return
        self._state = _CLOSED
        self._exc = WSClosed(code, reason)
        self._done.set()
        try:
            self._s.close()
            await self._s.wait_closed()
        except OSError:
            pass
