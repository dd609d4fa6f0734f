"""A connected WebSocket client: recv/send/close, pings, limits (RFC 6455 5, 7).

Also here (one module: each module costs the heap its names and a module object):
- frames (RFC 6455 5.2): masking and the client frame header;
- _Writer: masked client frames onto the stream, one reusable buffer, one write() each;
- Reader: buffered reads from an asyncio stream, one small reusable buffer, bounded
  lines (the handshake reads the response head with it, then hands it to the Client)."""
from micropython import const
import asyncio
from time import ticks_ms, ticks_diff

# ---- errors: WSError (connect/handshake) and WSClosed (link gone) --------------------

class WSError(Exception):
    """The connection could not be opened (RFC 6455 4.1 "fail the connection").

    `code` is the HTTP status when the server answered with one (401, 404, ...), else 0;
    `cause` the OSError / ValueError (TLS) that failed the connection, else None.
    """

    def __init__(self, msg, code=0, cause=None):
        super().__init__(msg)
        self.code = code
        self.cause = cause          # the socket/TLS exception behind it, if any

    def __str__(self):
        return "%s (code %d)" % (self.args[0], self.code)


class WSClosed(Exception):
    """The link is closed: `code` is the close status (RFC 6455 7.4.1), `reason` a str.

    1006 is never sent on the wire: it stands for EOF, a socket error or a timeout.
    """

    def __init__(self, code=1006, reason=""):
        super().__init__(code, reason)
        self.code = code
        self.reason = reason


# ---- frames ---------------------------------------------------------------------------

_FIN = const(0x80)
_MASKED = const(0x80)
_LEN16 = const(126)
_LEN64 = const(127)
# Masking runs in 256-byte chunks: one big-int XOR per chunk instead of a Python loop per
# byte (about 20x faster on the unix port), with short-lived objects of chunk size only.
# A @micropython.viper path is left out on purpose: plain mpy-cross (no -march) rejects
# it ("invalid arch"), and so does the unix port used for the tests.
_CHUNK = const(256)
_REASON_MAX = const(123)  # 125-byte control payload minus the status code
_HEAD_MAX = const(14)  # 2 + 8 (64-bit length) + 4 (mask key)


def _mask(mv, key):
    """XOR `mv` (a writable memoryview) in place with the 4-byte `key` (RFC 6455 5.3).

    Chunks start at multiples of 4, so the key lines up with the payload offset.
    """
    n = len(mv)
    if not n:
        return
    ch = _CHUNK if n >= _CHUNK else (n + 3) & ~3
    m = int.from_bytes(key * (ch // 4), "little")
    off = 0
    while off < n:
        k = n - off
        if k >= ch:
            k = ch
        else:
            m &= (1 << (k * 8)) - 1  # last, short chunk: drop the key bytes past its end
        seg = mv[off : off + k]
        seg[:] = (int.from_bytes(seg, "little") ^ m).to_bytes(k, "little")
        off += k


def _head(buf, op, n, key, fin=True):
    """Write a masked client frame header for an `n`-byte payload into `buf`.

    Returns the header length (6, 8 or 14); the payload goes right after it.
    """
    buf[0] = (_FIN if fin else 0) | op
    if n < _LEN16:
        buf[1] = _MASKED | n
        i = 2
    elif n < 0x10000:
        buf[1] = _MASKED | _LEN16
        buf[2] = n >> 8
        buf[3] = n & 0xFF
        i = 4
    else:
        buf[1] = _MASKED | _LEN64
        buf[2:10] = n.to_bytes(8, "big")
        i = 10
    buf[i : i + 4] = key
    return i + 4


def _close_payload(code, reason):
    """The body of a close frame: 2-byte status + UTF-8 reason, cut to fit 125 bytes."""
    if not code:
        return b""
    r = reason.encode() if isinstance(reason, str) else bytes(reason)
    if len(r) > _REASON_MAX:
        i = _REASON_MAX
        while i and r[i] & 0xC0 == 0x80:  # do not cut a UTF-8 sequence in two
            i -= 1
        r = r[:i]
    return code.to_bytes(2, "big") + r


# ---- writer ---------------------------------------------------------------------------

_WBUF = const(256)  # kept between frames (control frames, small messages), grown up to:
_WKEEP = const(1024)  # bigger frames get a buffer of their own, dropped after the write


class _Writer:
    """Frames from concurrent senders never interleave, and the stream's drain() never
    runs twice at once: each frame is written and drained under one lock. The caller
    bounds the wait (asyncio.wait_for_ms)."""

    def __init__(self, stream, rand):
        self._s = stream
        self._rand = rand  # rand(4) -> the mask key of each frame (RFC 6455 5.3)
        self._lock = asyncio.Lock()
        self._buf = bytearray(_WBUF)

    async def frame(self, op, payload):
        async with self._lock:
            n = len(payload)
            need = n + _HEAD_MAX
            buf = self._buf
            if len(buf) < need:
                buf = bytearray(need)
                if need <= _WKEEP:
                    self._buf = buf
            mv = memoryview(buf)
            key = self._rand(4)
            h = _head(buf, op, n, key)
            mv[h : h + n] = payload
            _mask(mv[h : h + n], key)
            # write() sends what the socket takes now and copies the rest, so the
            # buffer is free again once drain() returns.
            self._s.write(mv[: h + n])
            await self._s.drain()


# ---- reader ---------------------------------------------------------------------------

class Reader:
    """Bytes already read sit in buf[pos:end]; payloads are read straight into the
    caller's buffer after these are used up, so the buffer only needs to hold headers.

    Every wait for the stream is bounded by `timeout_ms` (a stalled peer in mid-frame or
    mid-handshake), except `fill(None)`, the caller's idle wait.
    """

    def __init__(self, stream, size, timeout_ms):
        self.s = stream
        self.buf = bytearray(size)
        self.mv = memoryview(self.buf)
        self.pos = 0
        self.end = 0
        self.timeout_ms = timeout_ms

    async def _read1(self, mv):
        while True:
            n = await self.s.readinto(mv)
            if n is None:  # woken without data (TLS: the record is not complete yet)
                continue
            if not n:
                raise EOFError
            return n

    async def _fill(self):
        # Callers only come here with room to spare (need(n) has n <= buffer size).
        # Cancel-safe: readinto() only takes bytes after its last suspension point, and
        # `end` moves in the same step, so a timeout never loses data.
        if self.pos == self.end:
            self.pos = self.end = 0
        elif self.end == len(self.buf):
            n = self.end - self.pos
            self.buf[:n] = bytes(self.mv[self.pos : self.end])
            self.pos, self.end = 0, n
        self.end += await self._read1(self.mv[self.end :])

    async def fill(self, timeout_ms=-1):
        """Read what the stream has (at least one byte) into the buffer.

        timeout_ms: -1 = the reader's own timeout, None = wait without one.
        Raises EOFError, OSError, asyncio.TimeoutError.
        """
        if timeout_ms == -1:
            timeout_ms = self.timeout_ms
        if timeout_ms is None:
            await self._fill()
        else:
            await asyncio.wait_for_ms(self._fill(), timeout_ms)

    async def need(self, n):
        """Make sure `n` bytes (n <= buffer size) are buffered."""
        while self.end - self.pos < n:
            await self.fill()

    async def readinto(self, mv):
        """Fill `mv` completely: buffered bytes first, then straight from the stream."""
        got = self.end - self.pos
        if got > len(mv):
            got = len(mv)
        mv[:got] = self.mv[self.pos : self.pos + got]
        self.pos += got
        while got < len(mv):
            got += await asyncio.wait_for_ms(self._read1(mv[got:]), self.timeout_ms)

    async def line(self, budget):
        """One line without its CR LF, as bytes. A line longer than the buffer comes back
        cut to the buffer size (the rest is skipped), so the memory used stays bounded.
        Returns (line, n), n = bytes it took on the wire; ValueError past `budget` bytes.
        """
        taken = 0
        cut = None
        while True:
            i = self.buf.find(b"\n", self.pos, self.end)
            if i >= 0:
                n = i + 1 - self.pos
                if cut is None:
                    cut = bytes(self.mv[self.pos : i])
                self.pos = i + 1
                taken += n
                if taken > budget:
                    raise ValueError
                if cut and cut[-1] == 13:
                    cut = cut[:-1]
                return cut, taken
            if self.end - self.pos == len(self.buf):
                if cut is None:  # overlong: keep its start, drop the rest
                    cut = bytes(self.mv[self.pos : self.end])
                taken += self.end - self.pos
                self.pos = self.end
            if taken > budget:
                raise ValueError
            await self.fill()


# ---- client ---------------------------------------------------------------------------

_OPEN = const(0)
_CLOSING = const(1)  # our close frame is out, waiting for the server's
_CLOSED = const(2)

_RSV = const(0x70)
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


# str(b, "utf-8") checks the structure of the sequences only; RFC 6455 8.1 wants valid
# UTF-8 (RFC 3629 4): never these bytes, and after E0, ED, F0, F4 the next byte within
# [lo, hi] (no overlong forms, no surrogates, nothing past U+10FFFF).
_NEVER = const(b"\xc0\xc1\xf5\xf6\xf7")  # (str() already refuses F8-FF)
_LEADS = const(b"\xe0\xa0\xbf\xed\x80\x9f\xf0\x90\xbf\xf4\x80\x8f")


def _utf8_rest(b, n):
    """b[:n], already through str(), is valid UTF-8: a few bytes.find, for text that is
    not ASCII only."""
    for j in range(len(_NEVER)):
        if b.find(_NEVER[j : j + 1], 0, n) >= 0:
            return False
    for j in range(0, len(_LEADS), 3):
        lead = _LEADS[j : j + 1]
        k = b.find(lead, 0, n)
        while k >= 0:
            if k + 1 >= n or not _LEADS[j + 1] <= b[k + 1] <= _LEADS[j + 2]:
                return False
            k = b.find(lead, k + 1, n)
    return True


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
        self._w = _Writer(stream, rand)
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
                    self._w.frame(_OP_CLOSE, _close_payload(code, reason)), self.timeout_ms
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
                msg = None
            if msg is None or (len(msg) != size and not _utf8_rest(self._mbuf, size)):
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
                    self._w.frame(_OP_CLOSE, _close_payload(code, reason)), self.timeout_ms
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
