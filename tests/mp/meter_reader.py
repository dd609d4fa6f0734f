"""boards.common.modbusmeter.ModbusMeter against a Modbus peer on a pty, driven line by line
on stdin (tests/unit/test_meter_pty.py): read -> ["ok", wh, w, [v], [a], ms, requests]
or [error class, errno, str, ms, requests]; exc -> a raw read of unmapped registers;
bench N -> [us per read, bytes allocated per read] over N good reads.

argv: TIMEOUT_MS PTY"""
import sys, json, time, gc, asyncio
import modbus
from modbus.profiles import SDM630
from boards.common.modbusmeter import ModbusMeter
from boards.sim.busmeter import open_pty
port = open_pty(sys.argv[-1])
master = modbus.Master(port, 9600, timeout_ms=int(sys.argv[-2]))
meter = ModbusMeter(master, SDM630)
async def one(coro):
    t = time.ticks_ms()
    try:
        r = await coro
        if isinstance(r, tuple):
            out = ['ok', r[0], r[1], list(r[2]), list(r[3])]
        else:
            out = ['ok', bytes(r).hex()]
    except OSError as e:
        out = [type(e).__name__, e.errno, str(e)]
    return out + [time.ticks_diff(time.ticks_ms(), t), master.requests]
async def bench(n):
    await meter.read()
    gc.collect()
    t = time.ticks_us()
    for _ in range(n):
        await meter.read()
    us = time.ticks_diff(time.ticks_us(), t) // n
    gc.collect()
    gc.disable()
    a = gc.mem_alloc()
    for _ in range(n):
        await meter.read()
    al = (gc.mem_alloc() - a) // n
    gc.enable()
    return [us, al]
while True:
    line = sys.stdin.readline().split()
    if not line:
        break
    if line[0] == 'read':
        res = asyncio.run(one(meter.read()))
    elif line[0] == 'exc':
        res = asyncio.run(one(master.read_input(1, 0x0100, 2)))
    else:
        res = asyncio.run(bench(int(line[1])))
    print(json.dumps(res))
