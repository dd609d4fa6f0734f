#!/usr/bin/env python3
"""`make bench`: measure and print the figures, and record them in BENCHMARKS.md.

- .mpy size of firmware + lib (+ the simulated board), as `make check` builds them;
- heap taken by importing every firmware and lib module (.mpy, as frozen on a board);
- peak heap through the integration scenario (boot, plug in, charge with meter values,
  unplug) in both OCPP versions, from the firmware's own gc.mem_alloc() sampling;
- the smallest -X heapsize at which that scenario still passes (binary search, 4 KiB);
- the longest asyncio loop stall seen during that session;
- fault-to-relay-open latency (RCD trips injected through the control channel, measured
  by the simulated world) over >= 1000 faults: with the asyncio loop idle, stalled
  (`stall`) and busy with OCPP traffic; max and p99.

Then the sections of txbench, certbench, membench, emubench (the board images and
the emulated Pico), and those of tools/fuzz, tools/fwupd, tools/smart and tools/fleet.
`tools/bench/bench.py --only images` (or tx, cert, mem, fuzz, fwupd, smart, fleet) runs one of those
sections alone and replaces it in BENCHMARKS.md, the rest of the file as it was.

Timings and sizes are measured here, never asserted in tests."""
import datetime
import os
import subprocess
import sys
import tempfile
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, ROOT)

from tools.csms import CsmsThread  # noqa: E402
from tools.harness.simctl import SimStation  # noqa: E402

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
import firmware.main, firmware.persist.config, firmware.ocpp.v16.core, firmware.ocpp.v201.core
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
        # periodic samples: MeterValues (1.6) / TransactionEvent Updated (2.0.1, in a transaction)
        ok = any(a == "MeterValues" or (a == "TransactionEvent" and p.get("triggerReason") ==
                 "MeterValuePeriodic") for a, p in link.received) and not link.violations
        s = st.status()
        scenario.stall_ms = s.get("loop_stall_max_ms")
        return ok and st.proc.poll() is None, s.get("heap_peak")
    except Exception:   # noqa: BLE001  any failure at a small heap is a data point: a
        # CALLERROR too (a handler that found no heap answers InternalError)
        return False, None
    finally:
        st.stop()


def _fault_cycles(st, cycles, mode, samples):
    n = len(st.status()["evses"])
    for _ in range(cycles):
        for k in range(1, n + 1):
            st.cmd("plug %d" % k)
        st.wait(lambda s: all(e["relay"] for e in s["evses"]), timeout=15, what="all charging")
        if mode == "stall":
            n0 = st.status()["stalls"] or 0
            st.cmd("stall 300")
            st.wait(lambda s: (s["stalls"] or 0) > n0, what="the loop blocked")
        for k in range(1, n + 1):
            st.cmd("fault %d rcd" % k)
        s = st.wait(lambda s: not any(e["relay"] for e in s["evses"]), timeout=10, what="open")
        for e in s["evses"]:
            if e.get("fault_to_open_ms") is not None:
                samples.append(e["fault_to_open_ms"])
        for k in range(1, n + 1):
            st.cmd("clear %d rcd" % k)
            st.cmd("unplug %d" % k)
        # the F hold over and the kernel back on A with no error: ready for the next plug
        st.wait(lambda s: all(e["pilot"] == "A" and e["state"] == "Idle" and not e["errors"]
                              for e in s["evses"]), timeout=10, what="unplugged, recovered")


def fault_latency(csms, tmp, mode, faults=1100, stations=2, evses=4):
    """-> (samples, max, p99) of fault-to-relay-open in ms."""
    sts = [SimStation(csms.url + "ocpp", "LAT%s%d" % (mode, i), "2.0.1", tmp, evses=evses,
                      extra=("--mpy", MPY)) for i in range(stations)]
    samples = []
    stop = threading.Event()
    try:
        for st in sts:
            st.start(timeout=15)
        for st in sts:
            st.wait(lambda s: s.get("registration") == "Accepted", timeout=20, what="accepted")
        busy = []
        if mode == "busy":
            def traffic(ident):
                while not stop.is_set():
                    try:
                        link = csms.station(ident)
                        link.call("SetVariables", {"setVariableData": [{"component": {"name": "SampledDataCtrlr"},
                                  "variable": {"name": "TxUpdatedInterval"}, "attributeValue": "1"}]})
                        while not stop.is_set():
                            link.call("GetBaseReport", {"requestId": 1, "reportBase": "FullInventory"})
                            link.call("TriggerMessage", {"requestedMessage": "MeterValues"})
                    except (ConnectionError, TimeoutError) as e:
                        print("bench: busy traffic to %s: %s; again" % (ident, e))
                        time.sleep(0.5)
            busy = [threading.Thread(target=traffic, args=(st.ident,), daemon=True) for st in sts]
            for t in busy:
                t.start()
        cycles = -(-faults // (stations * evses))
        workers = [threading.Thread(target=_fault_cycles, args=(st, cycles, mode, samples))
                   for st in sts]
        for w in workers:
            w.start()
        for w in workers:
            w.join()
    finally:
        stop.set()
        for st in sts:
            st.stop()
    samples.sort()
    if not samples:
        return 0, None, None
    return len(samples), samples[-1], samples[min(len(samples) - 1, int(len(samples) * 0.99))]


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


# the sections that record themselves (tools/bench/benchrec.py), by --only name
PARTS = {"tx": "bench.txbench", "cert": "bench.certbench", "mem": "bench.membench",
         "images": "bench.emubench",
         "fuzz": "fuzz.bench", "fwupd": "fwupd.bench", "smart": "smart.bench",
         "fleet": "fleet.bench"}


def main():
    import argparse
    ap = argparse.ArgumentParser(description="make bench: measured figures -> BENCHMARKS.md")
    ap.add_argument("--only", choices=sorted(PARTS),
                    help="run one section alone (images: tools/bench/emubench.py, board images "
                         "and the emulated Pico)")
    a = ap.parse_args()
    if a.only:
        __import__("tools." + PARTS[a.only], fromlist=["main"]).main(append=True)
        return
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
            rows.append(("longest asyncio loop stall in that session, OCPP %s" % v,
                         "%s ms" % scenario.stall_ms, "10 ms sleep coming back late (firmware monitor)"))
        for mode in ("idle", "stall", "busy"):
            n, mx, p99 = fault_latency(csms, tmp, mode)
            rows.append(("fault-to-relay-open, loop %s" % mode, "max %s ms, p99 %s ms" % (mx, p99),
                         "%d RCD trips, 2 stations x 4 EVSEs, 10 ms safety tick" % n))
        for v in ("1.6", "2.0.1"):
            k = smallest_heap(csms, v, tmp)
            rows.append(("smallest `-X heapsize` that passes, OCPP %s" % v,
                         "%d KiB" % k if k else "FAILED", "binary search, 4 KiB steps"))
        # the same, on the boards' word size: the 32-bit port of `make mp32` (issue 6's
        # .mpy budget, tests/integration/test_memory_budget_mpy.py)
        subprocess.run(["make", "-s", "-C", ROOT, "mp32"], check=True, stdout=subprocess.DEVNULL)
        from tools.bench import heapreport
        mp32 = os.path.join(ROOT, "build", "mp32", "micropython")
        how = ("`make mp32` (4-byte words, as on the boards; mbedTLS in the MicroPython heap, as "
               "on rp2), the complete firmware's session: two EVSEs, security profile 2 over "
               "TLS, a Modbus RTU meter")
        with heapreport.Complete(tmp) as complete:
            for v in ("1.6", "2.0.1"):
                r = heapreport.scenario(complete, mp32, MPY, v, "512k", tmp)
                rows.append(("32-bit port, .mpy: live heap after boot / session peak, OCPP %s" % v,
                             "%s B / %s B" % (r.get("boot"), r.get("peak")) if r["ok"] else "FAILED",
                             how + ", `-X heapsize=512k`"))
                rows.append(("32-bit port: longest asyncio loop stall in that session, OCPP %s" % v,
                             "%s ms" % r.get("stall") if r["ok"] else "FAILED",
                             "the TLS handshake's elliptic-curve work inside mbedTLS (MicroPython's "
                             "small configuration), which holds off the loop and, on a board, "
                             "the timer-driven safety tick: why an RCD trip also opens the relay "
                             "from a pin interrupt (boards/common/io.py)"))
                k = heapreport.smallest(complete, mp32, MPY, v, tmp, lo_k=160, hi_k=320)
                rows.append(("32-bit port, .mpy: smallest `-X heapsize` that passes, OCPP %s" % v,
                             "%d KiB" % k if k else "FAILED",
                             "the same session; issue 6's target is 160 KiB (a Pico W); frozen: "
                             "see the section below"))
    width = max(len(r[0]) for r in rows)
    for r in rows:
        print("%-*s  %s   (%s)" % (width, r[0], r[1], r[2]))
    stamp = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    with open(os.path.join(ROOT, "BENCHMARKS.md"), "w") as f:
        f.write("# Benchmarks\n\nMeasured by `make bench` (tools/bench/bench.py) on %s, MicroPython unix "
                "port (64-bit; 32-bit boards use less heap per object).\n\n" % stamp)
        f.write("| figure | value | how |\n|---|---|---|\n")
        for r in rows:
            f.write("| %s | %s | %s |\n" % r)
    print("recorded in BENCHMARKS.md")
    import txbench                      # transactions and delivery (issue 4): appends its section
    txbench.main(append=True)
    import certbench                    # certificates and TLS (issue 5): appends its section
    certbench.main(append=True)
    import membench                     # a board's memory, firmware frozen (issue 6): appends its section
    membench.main(append=True)
    from tools.bench import emubench          # the board images and the emulated Pico (issue 15)
    emubench.main(append=True)
    from tools.fuzz import bench as fuzzbench   # hostile frames, 100k a version (issue 18)
    fuzzbench.main(append=True)
    from tools.fwupd import bench as fwbench     # firmware updates (issue 17)
    fwbench.main(append=True)
    from tools.smart import bench as smartbench     # smart charging (issue 16)
    smartbench.main(append=True)
    from tools.fleet import bench as fleetbench     # idle cost, stations per core (issue 20)
    fleetbench.main(append=True)


if __name__ == "__main__":
    main()
