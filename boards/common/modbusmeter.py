"""ModbusMeter: the board HAL meter (docs/architecture.md) over a Modbus RTU energy meter,
on the board side with the HAL that builds it (boards/common/meter.py, the simulator's
boards/sim/busmeter.py).

    m = ModbusMeter(modbus.Master(uart), modbus.profiles.SDM630, unit=1)
    wh, w, (v1, v2, v3), (a1, a2, a3) = await m.read()

Failures raise OSError subclasses (modbus.Timeout, CRCError, FrameError,
ExceptionResponse); the kernel counts them into PowerMeterFailure."""
from micropython import const
from modbus.errors import FrameError
from modbus.decode import value
from modbus.profiles import plan

_WH = const(0)


class ModbusMeter:
    def __init__(self, master, profile, unit=1):
        self.master = master
        self.unit = unit
        self.name = profile[0]
        self._reqs = plan(profile, master.max_regs)
        self._vals = [0] * len(profile[2])      # absent quantities stay 0

    async def read(self):
        """(wh, w, (v1, v2, v3), (a1, a2, a3)): wh an int, the rest numbers."""
        v = self._vals
        m, unit = self.master, self.unit
        for fc, start, count, parts in self._reqs:
            data = await m.read(unit, fc, start, count)
            for slot, off, kind, scale in parts:
                v[slot] = value(data, off, kind, scale)
        wh = v[_WH]
        if wh != wh or wh < 0 or wh > 1e15:     # NaN, a negative or absurd counter
            raise FrameError("energy register reads %r" % wh)
        return (int(round(wh)), v[1], (v[2], v[3], v[4]), (v[5], v[6], v[7]))
