"""Buffered reads from an asyncio stream: one small reusable buffer, bounded lines."""
import asyncio


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
