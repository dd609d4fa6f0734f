"""A real Modbus RTU peer on a pseudo-terminal for the simulator and the tests: a pymodbus
RTU server (serial framer) emulating an Eastron SDM630, reached by MicroPython through a
pty. Host side (CPython), used by tests/unit/test_meter_pty.py and tools/bench/heapreport.py
(the complete firmware's session: EVSE 1's energy from this meter).

pymodbus opens its serial port by path (pyserial), and the master side of a pty has none,
so the line is two ptys with a byte-level proxy between their master sides:
MicroPython -- pty A (slave | master) -- proxy -- (master | slave) pty B -- pymodbus.
The proxy forwards faithfully (`ok`) or breaks the answers: `crc` (last byte flipped),
`short` (cut in half), `silent` (the request is dropped) and `garbage` (noise instead of an
answer) - pymodbus itself only ever answers correctly.

    peer = Peer()                    # or Peer(sdm630(amps=(0, 0, 0), power_w=0))
    ... tools/harness/sim --meter-pty peer.path ...
    peer.close()
"""
import asyncio
import os
import random
import threading
import tty

from pymodbus.framer import FramerType
from pymodbus.server import ModbusSerialServer
from pymodbus.simulator import DataType, SimData, SimDevice

VOLTS = (230.1, 231.2, 229.8)
AMPS = (15.9, 16.1, 16.0)
POWER_W = 11052.5
ENERGY_KWH = 1234.567


def sdm630(volts=VOLTS, amps=AMPS, power_w=POWER_W, energy_kwh=ENERGY_KWH):
    """Input registers of an SDM630 (v2), f32 big-endian (fields outside: exception 2)."""
    return SimDevice(1, simdata=[
        SimData(0x0000, values=[*volts, *amps], datatype=DataType.FLOAT32),
        SimData(0x0034, values=power_w, datatype=DataType.FLOAT32),
        SimData(0x0048, values=energy_kwh, datatype=DataType.FLOAT32),
    ])


class Peer:
    """pymodbus on pty B and the proxy, on an asyncio loop in a thread of their own."""

    def __init__(self, device=None):
        self.device = device or sdm630()
        self.a_master, self.a_slave = os.openpty()
        tty.setraw(self.a_slave)
        self.path = os.ttyname(self.a_slave)        # MicroPython's end of the line
        self.b_master, self.b_slave = os.openpty()
        tty.setraw(self.b_slave)
        self.mode = "ok"
        self.requests = 0
        self.rnd = random.Random(5)
        self._resp = b""
        self._ready = threading.Event()
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()
        if not self._ready.wait(10):
            raise RuntimeError("pymodbus server did not start")

    def _run(self):
        asyncio.set_event_loop(self.loop)
        self.loop.run_until_complete(self._start())
        self._ready.set()
        self.loop.run_forever()

    async def _start(self):
        self.server = ModbusSerialServer(self.device, framer=FramerType.RTU,
                                         port=os.ttyname(self.b_slave), baudrate=9600)
        await self.server.listen()
        self.loop.add_reader(self.a_master, self._from_master)
        self.loop.add_reader(self.b_master, self._from_server)

    def _from_master(self):
        data = os.read(self.a_master, 1024)
        self.requests += max(1, len(data) // 8)
        if self.mode == "silent":
            return
        if self.mode == "garbage":
            noise = bytes(self.rnd.randrange(256) for _ in range(20))
            os.write(self.a_master, bytes([0x42]) + noise)      # never unit 1 first
            return
        os.write(self.b_master, data)

    def _from_server(self):
        self._resp += os.read(self.b_master, 1024)
        r = self._resp
        if len(r) < 5 or (not r[1] & 0x80 and len(r) < 5 + r[2]):
            return                                  # wait for the whole answer
        self._resp = b""
        if self.mode == "crc":
            r = r[:-1] + bytes([r[-1] ^ 0x5A])
        elif self.mode == "short":
            r = r[:len(r) // 2]
        os.write(self.a_master, r)

    def close(self):
        async def stop():
            self.loop.remove_reader(self.a_master)
            self.loop.remove_reader(self.b_master)
            await self.server.shutdown()
        asyncio.run_coroutine_threadsafe(stop(), self.loop).result(5)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)
        for fd in (self.a_master, self.a_slave, self.b_master, self.b_slave):
            os.close(fd)
