"""The simulated board's meter on a real Modbus peer (SimBoard(meter_port=PATH), tools/harness/sim
--meter-pty PATH): boards.common.modbusmeter.ModbusMeter over a pseudo-terminal that
someone else (a test, a Modbus slave simulator) holds the other side of. The world's
meter stays the default; this one replaces EVSE 1's."""
from micropython import const
import termios

_VTIME = const(5)           # Linux c_cc indices (the unix port's termios has no names)
_VMIN = const(6)


def open_pty(path):
    """The tty at path as a binary file whose reads never block: VMIN = VTIME = 0, so a
    read returns what is waiting, maybe nothing. select.poll works on it (unix port)."""
    f = open(path, "r+b")
    fd = f.fileno()
    attr = termios.tcgetattr(fd)
    attr[6][_VMIN] = 0
    attr[6][_VTIME] = 0
    termios.tcsetattr(fd, termios.TCSANOW, attr)
    return f


class BusMeter:
    """A ModbusMeter plus what the control channel shows: the last good reading and the
    failures (one writer, the firmware's asyncio thread; the world thread reads)."""

    def __init__(self, path, profile=None, unit=1, baud=9600):
        import modbus
        from modbus.profiles import SDM630
        from boards.common.modbusmeter import ModbusMeter
        self.port = open_pty(path)
        self.meter = ModbusMeter(modbus.Master(self.port, baud), profile or SDM630, unit)
        self.wh = None
        self.w = None
        self.reads = 0
        self.errors = 0
        self.error = None

    async def read(self):
        try:
            r = await self.meter.read()
        except OSError as e:
            self.errors += 1
            self.error = "%s: %s" % (type(e).__name__, e)
            raise
        self.wh = r[0]
        self.w = r[1]
        self.reads += 1
        return r

    def status(self, e):
        """Overrides the world's meter fields in an EVSE's status dict."""
        e["world_energy_wh"] = e["energy_wh"]
        e["energy_wh"] = self.wh
        e["power_w"] = self.w
        e["meter"] = self.meter.name
        e["meter_reads"] = self.reads
        e["meter_errors"] = self.errors
        e["meter_error"] = self.error

    def close(self):
        self.port.close()
