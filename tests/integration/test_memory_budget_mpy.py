"""The memory budget of issue 6, with the firmware loaded as .mpy files (what `make
deploy` copies to a board: the bytecode, constants and names land in the heap), on a
32-bit MicroPython unix port (`make mp32`: 4-byte words, as on ESP32 and RP2040).

The two-EVSE session of tools/heapreport.py (boot, plug both, charge with 1 s meter
values, unplug both; the dev CSMS validating every message):

- passes at GUARD, the heap it fits today with about 16 KiB to spare: a change that makes
  the firmware need more fails here (measured 2026-12-07: passes from about 168 KiB for
  1.6 and 178 KiB for 2.0.1, `tools/heapreport.py --mp32 build/mp32/micropython
  --smallest`);
- at 160 KiB (a Pico W's free heap), the issue's target, it does NOT pass yet: the live
  heap after boot is 153 KB (1.6) / 161 KB (2.0.1), and the heap is in small pieces by
  then. That case is a strict xfail, so the day it passes the test says so and GUARD
  comes down to it. docs/memory.md has the figures and the reductions still to make. (A
  board running the firmware frozen into its image is measured by test_memory_budget.py.)"""
import os
import subprocess

import pytest

from tools import heapreport as H
from tools.csms import CsmsThread

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
GUARD = {"1.6": "184k", "2.0.1": "196k"}
TARGET = "160k"


@pytest.fixture(scope="module")
def mp32():
    subprocess.run(["make", "-s", "-C", ROOT, "mp32"], check=True, capture_output=True)
    return os.path.join(ROOT, "build", "mp32", "micropython")


@pytest.fixture(scope="module")
def mpy(tmp_path_factory):
    return H.compile_mpy(H.modules(), str(tmp_path_factory.mktemp("mpy")))


@pytest.fixture(scope="module")
def csms():
    with CsmsThread(host="127.0.0.1", port=0) as c:
        yield c


def _session(csms, mp32, mpy, version, heap, tmp_path):
    r = H.scenario(csms, mp32, mpy, version, heap, str(tmp_path))
    assert r["ok"], "OCPP %s at -X heapsize=%s: %r" % (version, heap, r)
    return r


@pytest.mark.parametrize("version", ["1.6", "2.0.1"])
def test_two_evse_session_fits_the_guard_heap(csms, mp32, mpy, version, tmp_path):
    r = _session(csms, mp32, mpy, version, GUARD[version], tmp_path)
    assert r["boot"] and r["peak"]


@pytest.mark.xfail(strict=True, reason="issue 6 target not met yet: the .mpy firmware needs "
                   "about 168 KiB (1.6) / 178 KiB (2.0.1) on a 32-bit port; docs/memory.md")
@pytest.mark.parametrize("version", ["1.6", "2.0.1"])
def test_two_evse_session_at_a_pico_w_heap(csms, mp32, mpy, version, tmp_path):
    _session(csms, mp32, mpy, version, TARGET, tmp_path)
