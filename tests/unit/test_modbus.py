"""lib/modbus under MicroPython: exact request frames, the CRC table against a bitwise
reference computed here, the decoders, the block planner, and every error path on a fake
serial port (an io.IOBase emulating one slave that can misbehave per request), with the
retries counted and every wait returning; boards/common/modbusmeter.py on the same fake
(tests/mp/modbus_fake.py)."""
import random
import struct

import pytest

from tests import mp


def crc_bitwise(data):
    """CRC-16/MODBUS, one bit at a time (the reference the table must match)."""
    c = 0xFFFF
    for b in data:
        c ^= b
        for _ in range(8):
            c = (c >> 1) ^ 0xA001 if c & 1 else c >> 1
    return c


def frame(body):
    c = crc_bitwise(body)
    return bytes(body) + bytes([c & 0xFF, c >> 8])


def f32_regs(*vals):
    return list(struct.unpack(">%dH" % (2 * len(vals)), struct.pack(">%df" % len(vals), *vals)))


# A slave on a fake serial line. `modes` says how the next requests are answered:
#   ok | crc (last byte flipped) | silent | short (frame cut in half) | garbage (noise only)
#   pre (noise, then the frame) | unit (answer from unit+1) | count (wrong byte count)
#   fc (wrong function) | exc2 (exception 2) | late (after timeout + 50 ms) | flood (noise
#   without end)
# The slave on a fake serial line and attempt(): tests/mp/modbus_fake.py; the programs:
# tests/mp/modbus_cases.py.
def mprun(case, data=None, timeout=30):
    """tests/mp/modbus_cases.py CASE, its inputs in a JSON file. -> what the case returned."""
    return mp.run_case("modbus_cases", case, data, timeout=timeout)["r"]


def test_request_frames_exact_bytes():
    out = mprun("frames")
    data, sent, bad, n = out
    assert data == "4366199a"
    assert sent[0] == "010400000002" + "71cb"           # the well-known vector
    assert sent[1] == "01030000000a" + "c5cd"
    assert sent[2] == "1103006b0003" + "7687"           # Modbus spec example, unit 0x11
    for s in sent:
        raw = bytes.fromhex(s)
        assert raw == frame(raw[:6])
    assert sent[3] == frame(bytes.fromhex("01035b000016")).hex()
    assert sent[4] == frame(bytes.fromhex("f704ff00007d")).hex()
    assert bad == ["ValueError"] * 6 and n == 5           # nothing sent for a bad request


def test_crc_table_matches_bitwise_reference():
    rnd = random.Random(1)
    blobs = [bytes(rnd.randrange(256) for _ in range(rnd.randrange(0, 300))) for _ in range(20)]
    out = mprun("crc_table", [b.hex() for b in blobs])
    lo, hi, crcs, part = out
    table = [crc_bitwise_byte(i) for i in range(256)]
    assert bytes.fromhex(lo) == bytes(t & 0xFF for t in table)
    assert bytes.fromhex(hi) == bytes(t >> 8 for t in table)
    assert crcs == [crc_bitwise(b) for b in blobs]
    assert part == 0x4B37 == crc_bitwise(b"123456789")    # CRC-16/MODBUS check value


def crc_bitwise_byte(i):
    c = i
    for _ in range(8):
        c = (c >> 1) ^ 0xA001 if c & 1 else c >> 1
    return c


def test_decoders():
    buf = struct.pack(">f", 230.1) + struct.pack(">H", 0xFFFE) + struct.pack(">I", 0xFFFFFFF6) \
        + struct.pack(">Q", 123456789012) + struct.pack(">HH", 0x4366, 0x199A)[::-1]
    out = mprun("decoders", buf.hex())
    f, fsw, u16, s16, u32, s32, w32, w32s, s32s, u64, q, qs, wh, s16s, s32sc, u64s, fsw2, w32s2, u16v, words = out
    assert abs(f - 230.1) < 1e-4 and abs(fsw - 230.1) < 1e-4 and abs(fsw2 - 230.1) < 1e-4
    assert (u16, s16, u32, s32) == (0xFFFE, -2, 0xFFFFFFF6, -10)
    assert (w32, w32s, s32s) == (0x00010002, 0x00020001, -65537)
    assert u64 == 123456789012
    assert q == 0x0001000200030004 and qs == 0x0004000300020001
    assert abs(wh - 230100) < 0.1 and abs(s16s + 0.2) < 1e-9 and abs(s32sc + 0.1) < 1e-9
    assert u64s == 1234567890120 and isinstance(u64s, int)
    assert w32s2 == 0x00020001 and u16v == 0xFFFE
    assert words == [1, 1, 2, 2, 2, 4, 2]


def test_profiles_plan_few_requests():
    out = mprun("plans")
    sdm630, sdm120, abb, abb8 = out
    # (fc, start, count, [(slot, byte offset, type, scale)])
    assert [r[:3] for r in sdm630] == [[4, 0x0000, 12], [4, 0x0034, 2], [4, 0x0048, 2]]
    assert sdm630[0][3] == [[2, 0, 6, 0], [3, 4, 6, 0], [4, 8, 6, 0], [5, 12, 6, 0], [6, 16, 6, 0],
                            [7, 20, 6, 0]]
    assert [r[:3] for r in sdm120] == [[4, 0, 2], [4, 6, 2], [4, 0x0C, 2], [4, 0x48, 2]]
    assert [r[:3] for r in abb] == [[3, 0x5000, 4], [3, 0x5B00, 22]]
    assert abb[1][3][0] == [2, 0, 3, 1] and abb[1][3][-1] == [1, 40, 4, 2]
    assert [r[:3] for r in abb8] == [[3, 0x5000, 4], [3, 0x5B00, 6], [3, 0x5B0C, 6],
                                      [3, 0x5B14, 2]]


def test_error_paths_bounded_retries():
    out = mprun("errors", timeout=40)
    ok = ["ok", "4366199a"]
    assert out["ok"][:2] == ok and out["ok"][4:6] == [1, 0]
    # [class, errno, message, code, requests sent, failed attempts, ms]
    assert out["timeout"][:2] == ["Timeout", 110] and out["timeout"][4:6] == [3, 3]
    assert out["timeout"][6] >= 300                     # three timeouts waited out
    assert out["crc"][:2] == ["CRCError", 5] and out["crc"][4:6] == [3, 3]
    assert out["short"][0] == "FrameError" and "short" in out["short"][2] and out["short"][4] == 3
    assert out["exc"][:4] == ["ExceptionResponse", 121, "exception 2", 2]
    assert out["exc"][4:6] == [1, 0]                     # an answer: not retried
    assert out["pre"][:2] == ok and out["pre"][4:6] == [1, 0]   # noise before a frame skipped
    assert out["garbage"][0] == "FrameError" and out["garbage"][4] == 3
    assert out["unit"][0] == "FrameError" and "unit 2" in out["unit"][2] and out["unit"][4] == 3
    assert out["count"][0] == "FrameError" and "byte count" in out["count"][2]
    assert out["fc"][0] == "FrameError" and "function" in out["fc"][2]
    assert out["flood"][0] == "FrameError" and out["flood"][5] == 3
    assert out["recover"][:2] == ok and out["recover"][4:6] == [3, 2]
    # a late answer to the same request is taken by the retry (RTU has no transaction id:
    # the data is the same); the retry's own answer is then stale, dropped before `after`
    assert out["late"][:2] == ok and out["late"][4:6] == [2, 1]
    assert out["after"][:2] == ok and out["after"][4:6] == [1, 0]
    assert out["retries0"][0] == "Timeout" and out["retries0"][4:6] == [1, 1]
    assert out["stale"][:2] == ok and out["stale"][4] == 1
    assert out["shared"] == ["ok", "ok", 2]
    assert out["lost_holder"][:2] == ok and out["lost_holder"][6] >= 300
    assert out["defaults"] == [500, 2, 100, 3645, 1750]
    assert out["default_timeout"][0] == "Timeout" and out["default_timeout"][6] >= 1500
    assert out["isoserror"] == [True] * 5
    # no hang anywhere: every attempt returned (the run's own timeout bounds them all);
    # how long each took under a given load is not a pass/fail figure


def test_rs485_direction():
    out = mprun("rs485")
    for key, frame_ms in (("TxPort", 9), ("Port", 67)):
        ev = out[key]
        assert [e[0] for e in ev] == [1, 0]
        assert ev[0][1] == 0 and ev[1][1] == 1           # high before the write, low after
        assert ev[1][2] >= -1                            # ... once the frame has left


def test_meter_reads_profiles_and_fails_with_oserror():
    sdm = {}
    for reg, val in ((0x0000, 230.1), (0x0002, 231.2), (0x0004, 229.8), (0x0006, 6.25),
                     (0x0008, 6.5), (0x000A, 0.0), (0x0034, 2930.5), (0x0048, 1234.567)):
        hi, lo = f32_regs(val)
        sdm[reg], sdm[reg + 1] = hi, lo
    abb = {0x5000: 0, 0x5001: 0, 0x5002: 0x0001, 0x5003: 0xE240,      # 123456 * 0.01 kWh
           0x5B00: 0, 0x5B01: 2301, 0x5B0C: 0, 0x5B0D: 1600, 0x5B14: 0xFFFF, 0x5B15: 0xFF9C}
    out = mprun("meter", {"sdm": sdm, "abb": abb})
    (wh, w, v, a), n = out["sdm630"]
    assert wh == 1234567 and isinstance(wh, int) and n == 3
    assert [round(x, 3) for x in v] == [230.1, 231.2, 229.8]
    assert [round(x, 3) for x in a] == [6.25, 6.5, 0.0] and round(w, 1) == 2930.5
    (wh, w, v, a), n = out["sdm120"]
    assert wh == 1234567 and n == 3 + 4 and v[1:] == [0, 0] and a[1:] == [0, 0]
    assert round(v[0], 3) == 230.1 and round(w, 3) == 0.0      # 0x000C: a phase power, 0 here
    (wh, w, v, a), n = out["abb"]
    assert wh == 1234560 and n == 2 and abs(v[0] - 230.1) < 1e-9 and a[0] == 16.0
    assert abs(w + 1.0) < 1e-9                           # s32 -100 * 0.01 W
    assert out["fail"] == ["Timeout", 110]
