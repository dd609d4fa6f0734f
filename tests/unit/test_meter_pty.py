"""boards.common.modbusmeter.ModbusMeter under MicroPython against a real Modbus peer over a
pseudo-terminal: a pymodbus RTU server (serial framer) emulating an Eastron SDM630, with a
proxy that can break its answers (tools/harness/modbuspeer.py)."""
import json
import os
import subprocess

import pytest

from tests import mp
from tools.harness.modbuspeer import AMPS, POWER_W, VOLTS, Peer
from tools.harness.simctl import SimStation, free_port

ENERGY_WH = 1234567                 # f32(1234.567) * 1000 = 1234567.02 -> 1234567
ERR_METER = 8                       # firmware/evse/evse.py: PowerMeterFailure bit


@pytest.fixture
def peer():
    p = Peer()
    yield p
    p.close()


# One MicroPython process (tests/mp/meter_reader.py) reads the meter each time a line
# comes on stdin.


@pytest.mark.slow
def test_modbus_meter_against_pymodbus_over_pty(peer):
    # the master's answer timeout: 1500 ms, not the 500 ms default: the peer is pymodbus
    # behind a CPython proxy, which a CPU-starved machine slows past 500 ms (a late CRC
    # error then reads as a timeout)
    p = mp.popen([os.path.join(mp.MP_DIR, "meter_reader.py"), "1500", peer.path],
                 stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                 stderr=subprocess.PIPE, text=True)

    def ask(cmd):
        p.stdin.write(cmd + "\n")
        p.stdin.flush()
        line = p.stdout.readline()
        if not line:
            raise AssertionError("reader died: %s" % p.stderr.read())
        return json.loads(line)

    try:
        r = ask("read")
        assert r[0] == "ok", r
        assert r[1] == ENERGY_WH and isinstance(r[1], int)
        assert abs(r[2] - POWER_W) < 0.01
        assert [round(v, 3) for v in r[3]] == list(VOLTS)
        assert [round(a, 3) for a in r[4]] == list(AMPS)
        assert r[-1] == 3                                   # V/I, power, energy: 3 requests

        r = ask("exc")                                      # unmapped: pymodbus says 2
        assert r[:2] == ["ExceptionResponse", 121] and "exception 2" in r[2]

        # every broken peer: the right OSError, retries bounded (3 attempts), no hang (each
        # attempt ends at the master's timeout)
        for mode, cls, errno in (("crc", "CRCError", 5), ("silent", "Timeout", 110),
                                 ("short", "FrameError", 71), ("garbage", "FrameError", 71)):
            peer.mode = mode
            n0 = peer.requests
            r = ask("read")
            assert r[:2] == [cls, errno], (mode, r)
            assert peer.requests - n0 == 3, (mode, peer.requests - n0)
            peer.mode = "ok"                                # the reader recovers at once
            r = ask("read")
            assert r[0] == "ok" and r[1] == ENERGY_WH, (mode, r)

        us, alloc = ask("bench 10")
        print("\nSDM630 read over pty + pymodbus: %.1f ms, %d bytes allocated" % (us / 1000, alloc))
        assert alloc < 4096                             # 64-bit unix; ~half on 32-bit ports
    finally:
        p.stdin.close()
        p.wait(5)


@pytest.mark.slow
def test_station_reads_energy_from_modbus_peer(peer, tmp_path):
    st = SimStation("ws://127.0.0.1:%d/ocpp" % free_port(), "CSMB", "2.0.1", tmp_path,
                    extra=("--meter-pty", peer.path))
    try:
        st.start()
        e = st.wait(lambda s: s["evses"][0].get("energy_wh") == ENERGY_WH, timeout=10,
                    what="energy_wh from the Modbus peer")["evses"][0]
        assert e["meter"] == "SDM630" and abs(e["power_w"] - POWER_W) < 0.01
        assert e["world_energy_wh"] == 0                    # the world's own meter is bypassed
        # the peer goes quiet: Timeouts, and after 3 in a row the kernel's meter failure
        peer.mode = "silent"
        st.wait(lambda s: s["evses"][0]["errors"] & ERR_METER, timeout=15,
                what="PowerMeterFailure")
        e = st.evse()
        assert e["meter_errors"] >= 3 and e["meter_error"].startswith("Timeout")
        peer.mode = "ok"                                    # back: read again, error cleared
        n = e["meter_reads"]
        st.wait(lambda s: s["evses"][0]["meter_reads"] > n and not s["evses"][0]["errors"] & ERR_METER,
                timeout=10, what="recovery")
    finally:
        st.stop()
