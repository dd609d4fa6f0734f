"""lib/modbus and boards/common/modbusmeter.py on the fake serial line of
tests/mp/modbus_fake.py (tests/unit/test_modbus.py): request frames, the CRC table, the
decoders, the block planner, every error path with its retries, RS-485 direction, the
meter profiles.

argv: CASE [DATA] — CASE one of the functions in CASES; DATA a JSON file with its inputs.
Reports {"r": what the case returned}."""
import json
import sys

from modbus_fake import *  # noqa: F401,F403  (Port, TxPort, attempt, name, modbus, ...)
from out import report


def frames(data):
    async def main():
        port = Port({0: 0x4366, 1: 0x199A})
        m = modbus.Master(port)
        r = [bytes(await m.read_input(1, 0x0000, 2)).hex()]
        await m.read_holding(1, 0x0000, 10)
        await m.read_holding(0x11, 0x006B, 3)
        await m.read_holding(1, 0x5B00, 22)
        await m.read(247, 4, 0xFF00, 125)
        r.append([s.hex() for s in port.sent])
        bad = []
        for args in ((1, 6, 0, 1), (1, 4, 0, 0), (1, 4, 0, 126), (0, 4, 0, 1), (248, 4, 0, 1), (1, 4, 0xFFFF, 2)):
            try:
                await m.read(*args)
                bad.append('accepted')
            except ValueError:
                bad.append('ValueError')
        r.append(bad)
        r.append(len(port.sent))
        return r
    return asyncio.run(main())


def crc_table(data):
    from modbus.crc import TABLE_LO, TABLE_HI
    BLOBS = [bytes.fromhex(x) for x in data]
    return [bytes(TABLE_LO).hex(), bytes(TABLE_HI).hex(),
                      [crc16(b) for b in BLOBS], crc16(b'xx123456789yy', 2, 11)]


def decoders(data):
    b = bytes.fromhex(data)
    sw = bytes([b[2], b[3], b[0], b[1]])                  # f32 230.1, word-swapped
    w = bytes.fromhex('00010002')
    q = bytes.fromhex('0001000200030004')
    return [
        decode.f32(b, 0), decode.f32(sw, 0, True), decode.u16(b, 4), decode.s16(b, 4), decode.u32(b, 6), decode.s32(b, 6),
        decode.u32(w), decode.u32(w, 0, True), decode.s32(bytes.fromhex('fffffffe'), 0, True) ,
        decode.u64(b, 10), decode.u64(q), decode.u64(q, 0, True),
        decode.value(b, 0, decode.F32, -3), decode.value(b, 4, decode.S16, 1), decode.value(b, 6, decode.S32, 2),
        decode.value(b, 10, decode.U64, -1), decode.value(sw, 0, decode.F32 | decode.SWAP, 0), decode.value(w, 0, decode.U32 | decode.SWAP),
        decode.value(b, 4, decode.U16, 0), [decode.words(k) for k in (decode.U16, decode.S16, decode.U32, decode.S32, decode.F32, decode.U64, decode.U32 | decode.SWAP)],
    ]


def plans(data):
    return [plan(p) for p in (SDM630, SDM120, ABB_B23)] + [plan(ABB_B23, 8)]


def errors(data):
    async def main():
        port = Port({0: 0x4366, 1: 0x199A}, late_ms=150)
        m = modbus.Master(port, timeout_ms=100, gap_ms=20)
        r = {}
        for case, modes in (('ok', ['ok']), ('timeout', ['silent'] * 3), ('crc', ['crc'] * 3),
                            ('short', ['short'] * 3), ('exc', ['exc2']), ('pre', ['pre']),
                            ('garbage', ['garbage'] * 3), ('unit', ['unit'] * 3),
                            ('count', ['count'] * 3), ('fc', ['fc'] * 3), ('flood', ['flood'] * 3),
                            ('recover', ['crc', 'silent', 'ok']), ('late', ['late', 'ok']),
                            ('after', ['ok'])):
            r[case] = await attempt(m, port, modes)
        m0 = modbus.Master(port, timeout_ms=100, gap_ms=20, retries=0)
        r['retries0'] = await attempt(m0, port, ['silent'])
        port.rx = b'\x01\x04\x04stale'                      # left over on the line: dropped
        port.due = 0
        r['stale'] = await attempt(m, port, ['ok'])
        # two tasks on one bus: one transaction at a time; a holder lost without its finally
        # (an event loop dropped on reboot) blocks the bus for one transaction's time at most
        # a byte of noise on the line: the first transaction waits for silence before it
        # sends (a yield), so the second one's count starts before either request went out,
        # however long ago the last answer was (a slow machine made the line quiet already)
        port.rx = b'\x00'
        port.due = 0
        both = await asyncio.gather(attempt(m, port, []), attempt(m, port, []))
        r['shared'] = [b[0] for b in both] + [max(b[4] for b in both)]
        m0._busy = True
        r['lost_holder'] = await attempt(m0, port, ['ok'])
        d = modbus.Master(Port())
        r['defaults'] = [d.timeout_ms, d.retries, d.gap_ms, d._t35_us, modbus.Master(Port(), 38400)._t35_us]
        r['default_timeout'] = await attempt(d, d._port, ['silent'] * 3)
        r['isoserror'] = [issubclass(c, OSError) for c in (modbus.Timeout, modbus.CRCError,
                          modbus.FrameError, modbus.ExceptionResponse, modbus.ModbusError)]
        return r
    return asyncio.run(main())


def rs485(data):
    async def main():
        r = {}
        for cls, baud in ((TxPort, 9600), (Port, 1200)):
            port = cls({0: 1, 1: 2}, baud=baud)
            ev = []
            def de(v):
                ev.append([v, len(port.sent), time.ticks_diff(time.ticks_ms(), port.tx_end)])
            m = modbus.Master(port, baud=baud, de=de)
            await m.read_input(1, 0, 2)
            r[cls.__name__] = ev
        return r
    return asyncio.run(main())


def meter(data):
    async def main():
        r = {}
        port = Port({int(k): v for k, v in data['sdm'].items()})
        m = ModbusMeter(modbus.Master(port), SDM630)
        r['sdm630'] = [await m.read(), len(port.sent)]
        m1 = ModbusMeter(modbus.Master(port), SDM120)
        r['sdm120'] = [await m1.read(), len(port.sent)]
        pa = Port({int(k): v for k, v in data['abb'].items()})
        ma = ModbusMeter(modbus.Master(pa), ABB_B23, unit=1)
        r['abb'] = [await ma.read(), len(pa.sent)]
        mt = ModbusMeter(modbus.Master(port, timeout_ms=50, gap_ms=10, retries=1), SDM630)
        port.modes = ['ok', 'silent', 'silent']
        try:
            await mt.read()
        except OSError as e:
            r['fail'] = [name(e), e.errno]
        return r
    return asyncio.run(main())


CASES = {"frames": frames, "crc_table": crc_table, "decoders": decoders, "plans": plans,
         "errors": errors, "rs485": rs485, "meter": meter}
data = None
if len(sys.argv) > 2:
    with open(sys.argv[2]) as f:
        data = json.load(f)
report({"r": CASES[sys.argv[1]](data)})
