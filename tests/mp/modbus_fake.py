"""A Modbus RTU slave on a fake serial port (tests/unit/test_modbus.py): an io.IOBase
that answers each request as `modes` says, and attempt(), which runs one read and reports
[error class or 'ok', errno or data, message, exception code, requests sent, failed
attempts, ms]. The tests' bodies start with `from modbus_fake import *`.

modes: ok | crc (last byte flipped) | silent | short (frame cut in half) | garbage
(noise only) | pre (noise, then the frame) | unit (answer from unit+1) | count (wrong
byte count) | fc (wrong function) | exc2 (exception 2) | late (after timeout + 50 ms) |
flood (noise without end)."""
import asyncio
import gc
import io
import json
import struct
import time

import modbus
from modbus import crc16, decode
from modbus.profiles import SDM630, SDM120, ABB_B23, plan
from boards.common.modbusmeter import ModbusMeter


def fr(body):
    c = crc16(body)
    return bytes(body) + bytes([c & 255, c >> 8])


class Port(io.IOBase):

    def __init__(self, regs=None, baud=9600, late_ms=600):
        self.regs = regs or {}
        self.rx = b''
        self.due = 0
        self.sent = []
        self.modes = []
        self.flood = False
        self.late_ms = late_ms
        self.tx_end = 0
        self.frame_ms = 8 * 10 * 1000 // baud + 1
        self.seed = 7

    def noise(self, n):
        out = bytearray(n)
        for i in range(n):
            self.seed = (self.seed * 1103515245 + 12345) & 0x7FFFFFFF
            out[i] = (self.seed >> 16) & 255
        return bytes(out)

    def write(self, b):
        req = bytes(b)
        self.sent.append(req)
        self.tx_end = time.ticks_add(time.ticks_ms(), self.frame_ms)
        mode = self.modes.pop(0) if self.modes else 'ok'
        unit, fc, addr, count = struct.unpack('>BBHH', req)
        data = b''.join(struct.pack('>H', self.regs.get(addr + i, 0)) for i in range(count))
        good = fr(bytes([unit, fc, len(data)]) + data)
        delay = 0
        if mode == 'ok':
            out = good
        elif mode == 'crc':
            out = good[:-1] + bytes([good[-1] ^ 0xFF])
        elif mode == 'silent':
            out = b''
        elif mode == 'short':
            out = good[:len(good) // 2]
        elif mode == 'garbage':
            out = self.noise(len(good))
            if out[0] == unit:
                out = bytes([unit ^ 0x55]) + out[1:]
        elif mode == 'pre':
            out = b'\x00\xff\x13' + good
        elif mode == 'unit':
            out = fr(bytes([unit + 1, fc, len(data)]) + data)
        elif mode == 'count':
            out = fr(bytes([unit, fc, len(data) - 2]) + data[:-2])
        elif mode == 'fc':
            out = fr(bytes([unit, 3 if fc == 4 else 4, len(data)]) + data)
        elif mode == 'exc2':
            out = fr(bytes([unit, fc | 0x80, 2]))
        elif mode == 'late':
            out, delay = good, self.late_ms
        elif mode == 'flood':
            out, self.flood = b'', True
        self.rx += out
        self.due = time.ticks_add(time.ticks_ms(), delay)
        return len(b)

    def ready(self):
        return self.flood or (self.rx and time.ticks_diff(time.ticks_ms(), self.due) >= 0)

    def ioctl(self, req, arg):
        if req == 3:                        # MP_STREAM_POLL
            return (arg & 1 if self.ready() else 0) | (arg & 4)
        return -1                           # no file descriptor: poll() calls us instead

    def readinto(self, buf):
        if self.flood:
            n = min(len(buf), 16)
            buf[:n] = self.noise(n)
            return n
        if not self.ready():
            return None
        n = min(len(buf), len(self.rx))
        buf[:n] = self.rx[:n]
        self.rx = self.rx[n:]
        return n


class TxPort(Port):

    def txdone(self):
        return time.ticks_diff(time.ticks_ms(), self.tx_end) >= 0


def name(e):
    return type(e).__name__


async def attempt(m, port, modes, unit=1, fc=4, addr=0, count=2):
    port.modes = list(modes)
    port.flood = False
    n0, f0 = len(port.sent), m.failures
    t0 = time.ticks_ms()
    try:
        r = bytes(await m.read(unit, fc, addr, count))
        res = ['ok', r.hex(), None, None]
    except OSError as e:
        res = [name(e), e.errno, str(e), getattr(e, 'code', None)]
    return res + [len(port.sent) - n0, m.failures - f0, time.ticks_diff(time.ticks_ms(), t0)]
