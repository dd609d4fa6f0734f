"""Modbus RTU master (Modbus over serial line V1.02; application protocol V1.1b3 6.3/6.4):
one request at a time on a serial port, FC 03 / 04, bounded retries.

`port` is a UART-like object: machine.UART (timeout=0), a pty opened as a file with
non-blocking reads, an io.IOBase fake with readinto/write/ioctl; or an asyncio Stream over
one (its `.s` is the port). The master polls the port every millisecond while it waits
instead of awaiting a stream read under wait_for: that costs no allocation per wait
(a wait_for task is ~1.2 KB on the unix port) and times the inter-character gap exactly.
The request and the answer live in two buffers made once here."""
from micropython import const
import asyncio
import select
import struct
import time
from .crc import crc16
from .errors import Timeout, CRCError, FrameError, ExceptionResponse

_MAX_REGS = const(125)      # application protocol 6.3: 1..125 registers per read
_REQ_LEN = const(8)         # unit, fc, address, count, CRC
_EXC_LEN = const(5)         # unit, fc | 0x80, code, CRC
_QUIET_TRIES = const(8)     # rounds of draining stale input before giving up on the line
_SPIN_US = const(3000)      # longest synchronous wait for txdone()


class Master:
    def __init__(self, port, baud=9600, timeout_ms=500, retries=2, de=None, gap_ms=100,
                 char_bits=10, max_regs=_MAX_REGS):
        """timeout_ms: first byte of the answer; gap_ms: longest silence inside an answer
        before it counts as ended (a frame of the expected length ends it at once);
        retries: further attempts after a timeout, CRC or frame error (an exception
        response is an answer: never retried); de: RS-485 driver enable, a Pin or any
        callable taking 1/0; char_bits: bits per character on the wire (8N1 = 10)."""
        if hasattr(port, "drain"):          # an asyncio Stream: use what it wraps
            port = port.s
        self._port = port
        self.timeout_ms = timeout_ms
        self.retries = retries
        self.gap_ms = gap_ms
        self.max_regs = min(max_regs, _MAX_REGS)
        self._de = de
        self._char_us = char_bits * 1000000 // baud
        # t3.5 (serial line 2.5.1.1): 3.5 characters, fixed at 1750 us above 19200 baud
        self._t35_us = 1750 if baud > 19200 else char_bits * 3500000 // baud
        self._req = bytearray(_REQ_LEN)
        self._reqmv = memoryview(self._req)
        self._rx = bytearray(5 + 2 * self.max_regs)
        self._mv = memoryview(self._rx)
        self._poll = select.poll()
        self._poll.register(port, select.POLLIN)
        self._busy = False                # one transaction at a time (an asyncio.Lock
                                          # costs ~400 bytes per acquire)
        self._t_rx = time.ticks_us()      # when the last byte came in
        self.requests = 0                 # frames sent
        self.failures = 0                 # attempts that failed (timeout, CRC, frame)

    async def read_holding(self, unit, addr, count):
        return await self.read(unit, 3, addr, count)

    async def read_input(self, unit, addr, count):
        return await self.read(unit, 4, addr, count)

    async def read(self, unit, fc, addr, count):
        """Reads `count` registers from `addr` with function 3 or 4. Returns a memoryview
        of the 2 * count data bytes, valid until the next request on this master."""
        if fc not in (3, 4) or not 1 <= count <= self.max_regs or not 0 <= addr <= 0x10000 - count \
                or not 1 <= unit <= 247:
            raise ValueError("bad request")
        # another task's transaction: wait at most as long as one can last (a holder lost
        # without its finally, e.g. an event loop dropped on reboot, must not block us)
        t0 = time.ticks_ms()
        most = (1 + self.retries) * (self.timeout_ms + self.gap_ms + 50
                                     + (len(self._rx) + _REQ_LEN) * self._char_us // 1000)
        while self._busy and time.ticks_diff(time.ticks_ms(), t0) < most:
            await asyncio.sleep_ms(1)
        self._busy = True
        try:
            req = self._req
            struct.pack_into(">BBHH", req, 0, unit, fc, addr, count)
            c = crc16(req, 0, 6)
            req[6] = c & 0xFF           # CRC low byte first
            req[7] = c >> 8
            left = self.retries
            while True:
                try:
                    await self._send()
                    off = await self._recv(unit, fc, count)
                    return self._mv[off + 3:off + 3 + 2 * count]
                except (Timeout, CRCError, FrameError):
                    self.failures += 1
                    if left <= 0:
                        raise
                    left -= 1
        finally:
            self._busy = False

    # ------------------------------------------------------------ sending
    async def _send(self):
        """Drops stale input (a late answer to an earlier request, noise), waits until the
        line has been silent for t3.5 so the device sees our frame start, then sends.
        One coroutine: each costs a frame allocation per request."""
        for _ in range(_QUIET_TRIES):
            got = self._take(0)
            dt = time.ticks_diff(time.ticks_us(), self._t_rx)   # < 0: wrapped, long ago
            left = self._t35_us - dt if 0 <= dt < self._t35_us else 0
            if not got and not left:
                break
            await asyncio.sleep_ms(left // 1000 + 1)
        else:
            raise FrameError("line busy")
        de = self._de
        if de is not None:
            de(1)
        try:
            port, off = self._port, 0
            t0 = time.ticks_us()
            while True:
                off += port.write(self._req if off == 0 else self._reqmv[off:]) or 0
                if off >= _REQ_LEN:
                    break
                if time.ticks_diff(time.ticks_us(), t0) > self.timeout_ms * 1000:
                    raise Timeout("cannot send")
                await asyncio.sleep_ms(1)
            if de is not None:
                await self._tx_done(t0)
        finally:
            if de is not None:
                de(0)
        self.requests += 1

    async def _tx_done(self, t0):
        """Returns once the request's last stop bit has left the driver (then DE drops):
        the port's txdone() or flush() when it has one, else the frame's time at baud."""
        port = self._port
        end = time.ticks_add(t0, _REQ_LEN * self._char_us)
        left = time.ticks_diff(end, time.ticks_us())
        if left > 2000:
            await asyncio.sleep_ms(left // 1000 - 1)
        if hasattr(port, "txdone"):
            t1 = time.ticks_us()
            while not port.txdone() and time.ticks_diff(time.ticks_us(), t1) < _SPIN_US:
                pass
        elif hasattr(port, "flush"):
            port.flush()
        else:
            left = time.ticks_diff(end, time.ticks_us())
            if left > 0:
                time.sleep_us(left)

    # ------------------------------------------------------------ receiving
    def _take(self, n):
        """Non-blocking read of what is waiting into rx[n:]; returns the count."""
        got = 0
        for _ in self._poll.ipoll(0):
            r = self._port.readinto(self._rx if n == 0 else self._mv[n:])
            if r:
                got = r
                self._t_rx = time.ticks_us()
        return got

    async def _recv(self, unit, fc, count):
        """Reads until a valid answer is in rx (returns its offset: noise before a frame
        is skipped), the line stays quiet (timeout_ms before the first byte, gap_ms
        after one), rx is full or the time is up; then raises."""
        want = 5 + 2 * count
        rx, size = self._rx, len(self._rx)
        n = 0
        t0 = t_last = time.ticks_ms()
        limit = self.timeout_ms + want * self._char_us // 1000 + self.gap_ms
        # no answer can be complete before request and answer have crossed the wire
        await asyncio.sleep_ms(min((_REQ_LEN + want) * self._char_us // 1000, self.timeout_ms))
        while n < size:
            got = self._take(n)
            now = time.ticks_ms()
            if got:
                n += got
                t_last = now
                off = _find(rx, n, unit, fc, want)
                if off >= 0:
                    if rx[off + 1] & 0x80:
                        raise ExceptionResponse(rx[off + 2])
                    return off
                continue                # more may be waiting already
            if time.ticks_diff(now, t0) >= limit:
                break
            if time.ticks_diff(now, t_last) >= (self.gap_ms if n else self.timeout_ms):
                break
            await asyncio.sleep_ms(1)
        raise _why(rx, n, unit, fc, want)


def _find(b, n, unit, fc, want):
    """Offset of the first CRC-valid answer (or exception answer) from unit to fc in
    b[:n], else -1."""
    k = 0
    while k + _EXC_LEN <= n:
        if b[k] == unit:
            f = b[k + 1]
            ln = want if f == fc and b[k + 2] == want - 5 else (_EXC_LEN if f == fc | 0x80 else 0)
            if ln and k + ln <= n and crc16(b, k, k + ln) == 0:
                return k
        k += 1
    return -1


def _why(b, n, unit, fc, want):
    """The error for an answer _find rejected (judged from its first bytes)."""
    if n == 0:
        return Timeout("no answer from unit %d" % unit)
    if b[0] != unit:
        return FrameError("unit %d answered, not %d" % (b[0], unit))
    if n < 3:
        return FrameError("short frame (%d bytes)" % n)
    f = b[1]
    if f == fc | 0x80:
        ln = _EXC_LEN
    elif f != fc:
        return FrameError("function %d, not %d" % (f, fc))
    elif b[2] != want - 5:
        return FrameError("byte count %d, not %d" % (b[2], want - 5))
    else:
        ln = want
    if n < ln:
        return FrameError("short frame (%d of %d bytes)" % (n, ln))
    return CRCError("bad CRC from unit %d" % unit)
