"""Modbus errors. All are OSError, so code that treats a lost device as an I/O error
(the firmware's meter-loss handling) needs no Modbus knowledge; `errno` says which."""
from micropython import const

_EIO = const(5)
_EPROTO = const(71)
_ETIMEDOUT = const(110)
_EREMOTEIO = const(121)


class ModbusError(OSError):
    def __init__(self, errno, msg):
        super().__init__(errno, msg)

    def __str__(self):
        return self.args[1]


class Timeout(ModbusError):
    """No answer within the response timeout (every retry spent)."""

    def __init__(self, msg="no answer"):
        super().__init__(_ETIMEDOUT, msg)


class CRCError(ModbusError):
    """A frame of the expected shape whose CRC-16 does not match."""

    def __init__(self, msg="bad CRC"):
        super().__init__(_EIO, msg)


class FrameError(ModbusError):
    """An answer that is no valid frame for the request: too short, wrong unit id,
    function code or byte count, line noise."""

    def __init__(self, msg="bad frame"):
        super().__init__(_EPROTO, msg)


class ExceptionResponse(ModbusError):
    """The device answered with an exception (application protocol 7): `code` 1 illegal
    function, 2 illegal data address, 3 illegal data value, 4 device failure, 6 busy."""

    def __init__(self, code):
        super().__init__(_EREMOTEIO, "exception %d" % code)
        self.code = code
