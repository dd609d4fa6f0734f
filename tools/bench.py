#!/usr/bin/env python3
"""`make bench`: measure and print the figures, and record them in BENCHMARKS.md.

- .mpy size of firmware + lib (+ the simulated board), as `make check` builds them;
- heap taken by importing every firmware and lib module (.mpy, as frozen on a board);
- peak heap through the integration scenario (boot, plug in, charge with meter values,
  unplug) in both OCPP versions, from the firmware's own gc.mem_alloc() sampling;
- the smallest -X heapsize at which that scenario still passes (binary search, 4 KiB).

Timings and sizes are measured here, never asserted in tests."""
import datetime
import os
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from tools.csms import CsmsThread  # noqa: E402
from tools.simctl import SimStation  # noqa: E402

MPY = os.path.join(ROOT, "build", "mpy")
MP = os.path.join(os.path.dirname(sys.executable), "micropython")


def mpy_sizes():
    sizes = {}
    for top in ("firmware", "lib", "boards"):
        total = 0
        for d, _, files in os.walk(os.path.join(MPY, top)):
            total += sum(os.path.getsize(os.path.join(d, f)) for f in files if f.endswith(".mpy"))
        sizes[top] = total
    return sizes


IMPORT_ALL = r"""
import gc
gc.collect(); a0 = gc.mem_alloc()
import ws, ocppj, store
import firmware.main, firmware.config, firmware.ocpp.v16.core, firmware.ocpp.v201.core
gc.collect(); a1 = gc.mem_alloc()
print(a1 - a0, gc.mem_free())
"""


def import_heap(heap="512k"):
    env = dict(os.environ, MICROPYPATH=".frozen:%s:%s" % (os.path.join(MPY, "lib"), MPY))
    out = subprocess.run([MP, "-X", "heapsize=" + heap, "-c", IMPORT_ALL], capture_output=True,
                         text=True, env=env, timeout=60)
    if out.returncode:
        raise RuntimeError(out.stderr or out.stdout)
    used, free = out.stdout.split()
    return int(used), int(free)


def scenario(csms, version, heap, tmp, charge_s=4.0):
    """Boot, plug, charge with 1 s meter values, unplug. -> (ok, heap peak bytes)."""
    ident = "B%s-%s-%d" % (version.replace(".", ""), heap, int(time.monotonic() * 1000) % 100000)
    st = SimStation(csms.url + "ocpp", ident, version, tmp, heap=heap,
                    extra=("--mpy", MPY, "--heap-probe"))
    try:
        st.start(timeout=15)
        st.wait(lambda s: s.get("registration") == "Accepted", timeout=20, what="accepted")
        link = csms.station(ident)
        if version == "1.6":
            link.call("ChangeConfiguration", {"key": "MeterValueSampleInterval", "value": "1"})
        else:
            link.call("SetVariables", {"setVariableData": [{"component": {"name": "SampledDataCtrlr"},
                      "variable": {"name": "TxUpdatedInterval"}, "attributeValue": "1"}]})
        st.cmd("plug 1")
        st.wait(lambda s: s["evses"][0]["relay"], timeout=10, what="charging")
        time.sleep(charge_s)
        st.cmd("unplug 1")
        st.wait(lambda s: s["evses"][0]["ocpp_status"] == "Available" and s["connected"],
                timeout=10, what="available")
        ok = any(a == "MeterValues" for a, _ in link.received) and not link.violations
        peak = st.status().get("heap_peak")
        return ok and st.proc.poll() is None, peak
    except (AssertionError, OSError, TimeoutError) as e:
        return False, None
    finally:
        st.stop()


def smallest_heap(csms, version, tmp, lo_k=64, hi_k=512):
    """Binary search in KiB for the smallest heap where the scenario passes."""
    ok, _ = scenario(csms, version, "%dk" % hi_k, tmp)
    if not ok:
        return None
    while hi_k - lo_k > 4:
        mid = (lo_k + hi_k) // 2
        if scenario(csms, version, "%dk" % mid, tmp, charge_s=2.0)[0]:
            hi_k = mid
        else:
            lo_k = mid
    return hi_k


def main():
    if not os.path.isdir(MPY):
        sys.exit("bench: run `make check` first (build/mpy)")
    rows = []
    sizes = mpy_sizes()
    rows.append(("`.mpy` size, firmware/ + lib/", "%d B" % (sizes["firmware"] + sizes["lib"]),
                 "firmware %d B, lib %d B, boards %d B" % (sizes["firmware"], sizes["lib"], sizes["boards"])))
    used, free = import_heap()
    rows.append(("heap after importing everything (.mpy)", "%d B" % used,
                 "`-X heapsize=512k`: %d B free after; .mpy code loaded into the heap, 64-bit" % free))
    with tempfile.TemporaryDirectory() as tmp, CsmsThread(host="127.0.0.1", port=0) as csms:
        for v in ("1.6", "2.0.1"):
            ok, peak = scenario(csms, v, "512k", tmp)
            rows.append(("peak live heap, integration scenario, OCPP %s" % v,
                         "%s B" % peak if ok else "scenario FAILED",
                         "gc.mem_alloc() after gc.collect() every 0.5 s, `-X heapsize=512k`, .mpy code in heap"))
        for v in ("1.6", "2.0.1"):
            k = smallest_heap(csms, v, tmp)
            rows.append(("smallest `-X heapsize` that passes, OCPP %s" % v,
                         "%d KiB" % k if k else "FAILED", "binary search, 4 KiB steps"))
    width = max(len(r[0]) for r in rows)
    for r in rows:
        print("%-*s  %s   (%s)" % (width, r[0], r[1], r[2]))
    stamp = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    with open(os.path.join(ROOT, "BENCHMARKS.md"), "w") as f:
        f.write("# Benchmarks\n\nMeasured by `make bench` (tools/bench.py) on %s, MicroPython unix "
                "port (64-bit; 32-bit boards use less heap per object).\n\n" % stamp)
        f.write("| figure | value | how |\n|---|---|---|\n")
        for r in rows:
            f.write("| %s | %s | %s |\n" % r)
    print("recorded in BENCHMARKS.md")


if __name__ == "__main__":
    main()
