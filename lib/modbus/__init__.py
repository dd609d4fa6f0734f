"""Modbus RTU master: read holding / input registers (FC 03 / 04) over a serial stream.
Portable (machine.UART on boards, a pty or a fake stream on the unix port); it knows
nothing of chargers.

    import modbus
    m = modbus.Master(uart, baud=9600)            # timeout_ms=500, retries=2, de=pin
    regs = await m.read_input(1, 0x0000, 12)      # memoryview, 24 bytes, valid until the
    v1 = modbus.decode.f32(regs, 0)               # next request on this master

Errors, all OSError: Timeout, CRCError, FrameError, ExceptionResponse (.code)."""
from .errors import ModbusError, Timeout, CRCError, FrameError, ExceptionResponse
from .crc import crc16
from .rtu import Master
from . import decode
