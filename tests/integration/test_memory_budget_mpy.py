"""The memory budget of issue 6, with the firmware loaded as .mpy files (what `make
deploy` copies to a board: the bytecode, constants and names land in the heap), on a
32-bit MicroPython unix port (`make mp32`: 4-byte words, as on ESP32 and RP2040; mbedTLS
allocating from the MicroPython heap, as the rp2 port builds it).

The complete firmware's session of tools/bench/heapreport.py (class Complete): two EVSEs (boot,
plug both, charge with 1 s meter values, unplug both; the dev CSMS validating every
message) over security profile 2 (wss://, the CSMS root on flash, HTTP Basic), with EVSE
1's energy from a Modbus RTU meter (pymodbus over a pty):

- completes the session with the firmware as .mpy files at a heap far above what it
  needs (ROOMY, twice the 227-237 KiB `make bench` measured as the smallest on
  2026-12-07): a behaviour test of the .mpy path, not a heap threshold. How small a heap
  the .mpy session fits is a measurement that moves with the machine's load (the heap
  the TLS session and the garbage collector's timing leave), so it is `make bench`'s
  (BENCHMARKS.md), not a pass/fail margin here; the memory budget that counts is the
  frozen image's (test_memory_budget.py);
- the budget that counts is the firmware frozen into the board image (issue 15): a Pico W
  or an ESP32 without PSRAM runs it frozen, which passes this session from about 96 KiB
  (test_memory_budget.py); the .mpy path is for boards with PSRAM, and `make deploy`
  warns below 240 KiB. The old 160 KiB strict xfail for .mpy is gone with that decision;
  docs/memory.md has the figures."""
import os

import pytest

from tests import mp
from tools.bench import heapreport as H

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
ROOMY = "512k"
pytestmark = [pytest.mark.slow, pytest.mark.mp32]


@pytest.fixture(scope="module")
def mp32():
    p = mp.make("mp32")
    assert p.returncode == 0, p.stdout[-2000:] + p.stderr[-2000:]
    return os.path.join(ROOT, "build", "mp32", "micropython")


@pytest.fixture(scope="module")
def mpy(tmp_path_factory):
    return H.compile_mpy(H.modules(), str(tmp_path_factory.mktemp("mpy")))


@pytest.fixture(scope="module")
def csms(tmp_path_factory):
    with H.Complete(str(tmp_path_factory.mktemp("complete"))) as c:
        yield c


def _session(csms, mp32, mpy, version, heap, tmp_path):
    r = H.scenario(csms, mp32, mpy, version, heap, str(tmp_path))
    assert r["ok"], "OCPP %s at -X heapsize=%s: %r" % (version, heap, r)
    return r


@pytest.mark.parametrize("version", ["1.6", "2.0.1"])
def test_two_evse_session_as_mpy_files(csms, mp32, mpy, version, tmp_path):
    r = _session(csms, mp32, mpy, version, ROOMY, tmp_path)
    assert not r.get("memoryerror")
    assert 0 < r["boot"] <= r["peak"]
    print("OCPP %s as .mpy: live heap after boot %d B, peak %d B (a measurement: make bench)"
          % (version, r["boot"], r["peak"]))

