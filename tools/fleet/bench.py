"""`make bench`'s fleet section (tools/bench/bench.py --only fleet): the idle cost of a simulated
station beside the code before issue 20 (tools.fleet.idle, both in one run), the
fault-to-relay-open latency of both trees (the bench's fault cycles), and how many
stations a core holds, idle and in a fleet run with sessions (tools.fleet.run)."""
import os
import resource
import tempfile
import threading
import time

from tools.fleet import idle
from tools.fleet.harness import ROOT, CsmsThread, SimStation, sim_script

BASELINE = "5cb6d21"        # the last commit before the idle-cost work (issue 20)
TITLE = "Fleet simulation: idle cost and stations per core (issue 20)"


def _fault_cycles():
    from tools.bench.bench import _fault_cycles as f
    return f


def latency(trees, faults=200, evses=4):
    """fault-to-relay-open (ms) per tree: RCD trips on a 4-EVSE station with the loop idle,
    the stations of all trees at once. -> {label: (n, max, p99)}."""
    out = {}
    cycles = -(-faults // evses)
    with tempfile.TemporaryDirectory() as tmp, CsmsThread(host="127.0.0.1", port=0) as csms:
        sts, samples = {}, {}
        try:
            for k, (label, tree) in enumerate(trees.items()):
                st = SimStation(csms.url + "ocpp", "LATF%d" % k, "2.0.1", tmp, evses=evses)
                st.args[1] = sim_script(tree)
                sts[label] = st.start(timeout=30)
                st.wait(lambda s: s.get("registration") == "Accepted", timeout=30, what="accepted")
                samples[label] = []
            ths = [threading.Thread(target=_fault_cycles(), args=(sts[k], cycles, "idle", samples[k]))
                   for k in sts]
            for t in ths:
                t.start()
            for t in ths:
                t.join()
        finally:
            for st in sts.values():
                st.stop()
    for k, s in samples.items():
        s.sort()
        out[k] = (len(s), s[-1] if s else None, s[min(len(s) - 1, int(len(s) * 0.99))] if s else None)
    return out


def fleet_run(tmp, stations=20, duration_s=60):
    """A fleet with sessions (the CI scenario's mix, shorter): -> (mean station CPU-s/min,
    CSMS + tap CPU-s/min, mean RSS MB, registered)."""
    from tools.fleet.run import Fleet
    from tools.fleet.scenario import load
    sc = load(os.path.join(ROOT, "tools", "fleet", "scenarios", "mixed20.json"))
    sc["duration_s"] = duration_s
    sc["faults"], sc["outages"] = [], []
    r0 = resource.getrusage(resource.RUSAGE_SELF)
    t0 = time.monotonic()
    rep = Fleet(sc, tmp, out=lambda line: None).run(drain_s=120)
    r1 = resource.getrusage(resource.RUSAGE_SELF)
    host = (r1.ru_utime + r1.ru_stime - r0.ru_utime - r0.ru_stime) * 60 / (time.monotonic() - t0)
    return (rep["resources"]["cpu_s_per_min_mean"], host, rep["resources"]["rss_mb_mean"],
            rep["registered"], rep["stations"], rep["sessions"]["count"])


def main(append=True, window=60):
    from tools.bench.benchrec import report
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        base = idle.unpack(BASELINE, os.path.join(tmp, "base"))
        r = idle.run(BASELINE, window=window, evses=2, ocpp="2.0.1", heartbeat=10, out=print)
        now, before = "now", BASELINE
        rows.append(("idle station, 2 EVSEs, connected, heartbeat 10 s",
                     "%.2f CPU-s/min (before: %.2f)" % (r["idle"][now], r["idle"][before]),
                     "/proc CPU of the whole process over %d s, both trees side by side "
                     "(`python -m tools.fleet.idle --against %s`)" % (window, BASELINE)))
        rows.append(("charging station, both EVSEs charging",
                     "%.2f CPU-s/min (before: %.2f)" % (r["charging"][now], r["charging"][before]),
                     "the same stations with an EV on each EVSE"))
        su = r["startup_ms"]
        mp = r["startup_mp_ms"]
        mpy = r.get("startup_mpy_ms", {}).get(now, (None, None))
        rows.append(("start-up to BootNotification at the CSMS, median / best of 5",
                     "via tools/sim %s / %s ms (before: %s / %s); micropython alone %s / %s ms "
                     "(before: %s / %s); from .mpy %s / %s ms"
                     % (su[now] + su[before] + mp[now] + mp[before] + mpy),
                     "process start (tools/sim: CPython, then micropython, each tree's default: "
                     "build/mpy when current for this one, the sources before; or micropython on "
                     "the options file alone, from sources or build/mpy) to the CSMS holding "
                     "the BootNotification; a used flash image; wall time on the shared machine"))
        from tools.fleet import startup
        sb = startup.measure(runs=7, out=print)
        f = lambda k: "%s / %s" % sb[k]      # noqa: E731
        rows.append(("start-up to BootNotification Accepted, median / best of 7",
                     "from build/mpy (the default when current): via tools/harness/sim %s ms, "
                     "micropython alone %s ms; from the sources: via tools/harness/sim %s ms, "
                     "micropython alone %s ms"
                     % (f("Accepted, tools/harness/sim default"), f("Accepted, micropython, build/mpy"),
                        f("Accepted, tools/harness/sim --source"), f("Accepted, micropython, sources")),
                     "process start to the station's log line \"boot Accepted\" (its ticks_ms, "
                     "CLOCK_MONOTONIC), a used flash image, the dev CSMS on loopback "
                     "(`python -m tools.fleet.startup`)"))
        rows.append(("where a start-up goes, median / best of 7",
                     "interpreter start %s ms; importing boards.sim.run from sources %s ms, "
                     "from build/mpy %s ms" % (f("interpreter"), f("import, sources"),
                                               f("import, build/mpy")),
                     "`micropython -c pass`; `micropython -c 'import boards.sim.run'` (the "
                     "rest of a source boot's extra time is compiling the OCPP modules the "
                     "firmware preloads)"))
        rows.append(("RSS of a station", "%.1f MB" % (r["rss"][now] / 1e6), "`-X heapsize=512k`"))
        lat = latency({now: ROOT, before: base})
        for k in (now, before):
            n, mx, p99 = lat[k]
            print("fault-to-relay-open %s: %d trips, max %s ms, p99 %s ms" % (k, n, mx, p99))
            rows.append(("fault-to-relay-open, loop idle, %s" % ("this tree" if k == now else "before"),
                         "max %s ms, p99 %s ms" % (mx, p99),
                         "%d RCD trips, one station x 4 EVSEs, both trees at once" % n))
        rows.append(("idle stations one core holds", "%d" % (60 / max(r["idle"][now], 0.001)),
                     "60 / the idle figure above"))
        cpu, host, rss, reg, n, sess = fleet_run(os.path.join(tmp, "fleet"))
        per = cpu + host / max(n, 1)
        rows.append(("fleet run: %d stations (mixed20 scenario, 60 s of sessions)" % n,
                     "%.2f CPU-s/min per station, %.1f MB RSS; CSMS + tap %.2f CPU-s/min"
                     % (cpu, rss, host), "%d/%d registered, %d sessions; /proc per station, "
                     "getrusage for the CSMS and the tap (one CPython process)" % (reg, n, sess)))
        rows.append(("stations one core holds, fleet run", "%d" % (60 / max(cpu, 0.001)),
                     "60 / the fleet run's CPU per station"))
        rows.append(("stations this 2-core machine holds with the CSMS on it",
                     "%d" % (120 / max(per, 0.001)),
                     "120 / (station + its share of the dev CSMS and tap), a machine with "
                     "nothing else running"))
    load = os.getloadavg()[0]
    report(TITLE, "tools/fleet/bench.py", rows, append=append, notes=(
        "Wall-time figures (start-up, fault-to-open) depend on what else the shared machine "
        "runs (load average %.1f at the end of this run); the CPU figures are the stations' "
        "own, and each before/after pair was measured side by side. The station counts per "
        "core are arithmetic on the measured CPU, not a run of that many stations "
        "(`make fleet FLEET_SCENARIO=tools/fleet/scenarios/hundred.json` runs 100)." % load,))
    return rows


if __name__ == "__main__":
    main()
