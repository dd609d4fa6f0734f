"""Issue-4 figures for `make bench`: journal bytes per transaction (the real adapters'
messages in the real journal, compact encoding), offline capacity, replay speed to the
local dev CSMS, power cuts survived. Appends its section to BENCHMARKS.md.

    .venv/bin/python tools/bench/txbench.py [--cuts N]   (also run by tools/bench/bench.py)"""
import argparse
import os
import re
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, ROOT)
from tools.csms import CsmsThread                      # noqa: E402
from tools.harness.simctl import SimStation, free_port         # noqa: E402

MP = os.path.join(os.path.dirname(sys.executable), "micropython")
JOURNAL_BYTES = 192 * 1024                              # firmware/ocpp/txq.py _MAX_BYTES
JOURNAL_RECORDS = 1600


def journal_bytes():
    """-> {(version, measurands): (bytes per 1 h tx with 60 samples, bytes per short tx)}"""
    env = dict(os.environ, MICROPYPATH=".frozen:%s:%s" % (os.path.join(ROOT, "lib"), ROOT))
    out = subprocess.run([MP, "-X", "heapsize=4m", os.path.join(ROOT, "tools", "bench", "txbench_mp.py")],
                         capture_output=True, text=True, cwd=ROOT, env=env, timeout=300, check=True)
    res = {}
    for line in out.stdout.splitlines():
        m = re.match(r"(\S+) (\S+) bytes/tx\(1h,60 samples\)=(\d+) short tx=(\d+)", line)
        if m:
            res[(m.group(1), "default" if m.group(2) == "default" else "E+P+I+U")] = (
                int(m.group(3)), int(m.group(4)))
    return res


def replay(version, sessions=50, evses=4):
    """Messages per second delivering `sessions` x `evses` offline sessions."""
    port = free_port()
    with tempfile.TemporaryDirectory() as tmp:
        st = SimStation("ws://127.0.0.1:%d/ocpp" % port, "REPLAY", version, tmp, evses=evses,
                        extra=("--set", "RetryBackOffRepeatTimes=0", "--set", "RetryBackOffRandomRange=1"))
        try:
            st.start()
            for _ in range(sessions):
                for k in range(1, evses + 1):
                    st.cmd("plug %d" % k)
                st.wait(lambda s: all(e["state"] == "Charging" and e["tx_id"] for e in s["evses"]), 20)
                for k in range(1, evses + 1):
                    st.cmd("unplug %d" % k)
                st.wait(lambda s: all(e["state"] == "Idle" and e["tx_id"] is None for e in s["evses"]), 20)
            queued = st.status()["tx_queue"]
            with CsmsThread(host="127.0.0.1", port=port) as csms:
                link = csms.station("REPLAY", timeout=60)
                t0 = time.monotonic()
                st.wait(lambda s: s["tx_queue"] == 0, 300, "replayed")
                took = time.monotonic() - t0
                assert link.violations == []
        finally:
            st.stop()
    return queued, took


def power_cuts(cuts):
    env = dict(os.environ, POWER_CUTS=str(cuts))
    p = subprocess.run([sys.executable, "-m", "pytest", "-q", "-s", "-p", "no:cacheprovider",
                        "tests/integration/test_power_cuts.py"], capture_output=True, text=True,
                       cwd=ROOT, env=env, timeout=3600)
    lines = [x for x in p.stdout.splitlines() if "soft cuts" in x or "transactions," in x]
    return p.returncode == 0, lines


def main(append=True, cuts=1000):
    rows = []
    jb = journal_bytes()
    for (v, ms), (hour, short) in sorted(jb.items()):
        rows.append(("journal bytes per transaction, OCPP %s, %s measurands" % (v, ms),
                     "%d B (1 h, 60 samples)" % hour, "%d B without samples" % short))
        if ms == "default":
            rows.append(("offline transactions the journal holds, OCPP %s" % v,
                         "%d of 1 h with samples, then ~%d without" % (JOURNAL_BYTES // hour,
                                                                       JOURNAL_BYTES // short),
                         "journal bound %d KiB / %d records inside the 1 MiB littlefs; samples "
                         "dropped first" % (JOURNAL_BYTES // 1024, JOURNAL_RECORDS)))
    for v in ("1.6", "2.0.1"):
        n, took = replay(v)
        rows.append(("replay to the local dev CSMS, OCPP %s" % v, "%.0f msg/s" % (n / took),
                     "%d queued messages of 200 offline sessions in %.1f s, schema validation on"
                     % (n, took)))
    ok, lines = power_cuts(cuts)
    rows.append(("power cuts survived per run", "%d soft per version + 3 hard + 3 SIGKILL" % cuts
                 if ok else "FAILED", "; ".join(lines)))
    from tools.bench.benchrec import report
    return report("Transactions and delivery", "tools/bench/txbench.py", rows, append)


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--cuts", type=int, default=1000)
    ap.add_argument("--no-record", action="store_true")
    a = ap.parse_args()
    main(not a.no_record, a.cuts)
