"""Masked client frames onto the stream: one reusable buffer, one write() per frame."""
from micropython import const
import asyncio
from . import frame

_WBUF = const(256)  # kept between frames (control frames, small messages), grown up to:
_WKEEP = const(1024)  # bigger frames get a buffer of their own, dropped after the write


class Writer:
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
            need = n + frame.HEAD_MAX
            buf = self._buf
            if len(buf) < need:
                buf = bytearray(need)
                if need <= _WKEEP:
                    self._buf = buf
            mv = memoryview(buf)
            key = self._rand(4)
            h = frame.head(buf, op, n, key)
            mv[h : h + n] = payload
            frame.mask(mv[h : h + n], key)
            # write() sends what the socket takes now and copies the rest, so the
            # buffer is free again once drain() returns.
            self._s.write(mv[: h + n])
            await self._s.drain()
