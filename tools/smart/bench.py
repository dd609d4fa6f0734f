#!/usr/bin/env python3
"""Smart-charging figures (issue 16), run by `make bench`; appends its section to
BENCHMARKS.md (`tools/bench/bench.py --only smart` runs it alone):

- flash per stored profile: the littlefs blocks (statvfs) and the table file's bytes for
  MaxChargingProfilesInstalled profiles of ChargingScheduleMaxPeriods periods each,
  installed through firmware.smart on a simulator flash image;
- heap: the table as a boot loads it (live after a collection), and what one composite
  limit (every second per EVSE), one manager pass and a day's composite schedule
  (GetCompositeSchedule) allocate;
- time of each of those on the unix port (tools/smart/mp_bench.py).

    .venv/bin/python tools/smart/bench.py [--no-record]"""
import argparse
import json
import os
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, ROOT)

from tools.bench import benchrec  # noqa: E402

MP = os.path.join(os.path.dirname(sys.executable), "micropython")
ENV = dict(os.environ, MICROPYPATH=".frozen:%s:%s" % (os.path.join(ROOT, "lib"), ROOT))


MP32 = os.path.join(ROOT, "build", "mp32", "micropython")


def measure(tmp, heap="512k", mp=MP):
    p = subprocess.run([mp, "-X", "heapsize=" + heap, os.path.join(ROOT, "tools", "smart", "mp_bench.py"),
                        os.path.join(tmp, "smart.img")], capture_output=True, text=True, env=ENV,
                       cwd=ROOT, timeout=300)
    line = [x for x in p.stdout.splitlines() if x.startswith("BENCH ")]
    if p.returncode or not line:
        raise RuntimeError(p.stdout + p.stderr)
    return json.loads(line[-1][6:])


def main(append=True):
    with tempfile.TemporaryDirectory() as tmp:
        m = measure(tmp)
        m32 = measure(tmp, mp=MP32) if os.path.exists(MP32) else None
    n, k = m["profiles"], m["periods"]
    what = "%d profiles x %d periods (MaxChargingProfilesInstalled x ChargingScheduleMaxPeriods)" % (n, k)
    rows = [
        ("flash per stored profile", "%d B (blocks) / %d B (file)" % (m["flash_used"] // n, m["file_bytes"] // n),
         "%s in /flash/smart.json: littlefs statvfs blocks used / n, and the JSON table's size / n" % what),
        ("heap of the profile table", "%d B" % m["ram_table"],
         "%s, loaded as at boot: live after gc.collect(), 64-bit port (periods in an int array)" % what),
        ("composite limit of one EVSE", "%.0f us, %d B allocated" % (m["limit_us"], m["limit_alloc"]),
         "firmware.smart.schedule.limit_at over the full table, what the manager computes every half "
         "second per EVSE (asyncio, never in the safety tick)"),
        ("manager pass, one EVSE", "%.0f us, %d B allocated" % (m["apply_us"], m["apply_alloc"]),
         "Smart.apply: transaction lookup, Tx profile upkeep, limit, Evse.set_limit when changed"),
        ("composite schedule for a day", "%.1f ms, %d B allocated" % (m["day_us"] / 1000, m["day_alloc"]),
         "GetCompositeSchedule over 86400 s, full table, %d periods out (capped at ChargingScheduleMaxPeriods); "
         "allocated in total, mostly short-lived (the edges list and boxed floats)" % m["day_periods"]),
        ("SetChargingProfile's flash write", "%.1f ms" % (m["install_us"] / 1000),
         "Smart.install with a full table: the whole table written atomically (temp + rename), "
         "simulator flash image"),
    ]
    if m32:
        rows.append(("32-bit port: profile table / composite limit / day schedule",
                     "%d B held / %d B / %d B allocated" % (m32["ram_table"], m32["limit_alloc"],
                                                           m32["day_alloc"]),
                     "the same on `make mp32` (4-byte words, as on the boards), sources compiled"))
    return benchrec.report("Smart charging", "tools/smart/bench.py", rows, append=append,
                           notes=("Unix port on the shared 2-core machine; times are single runs' "
                                  "averages and move with its load.",))


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--no-record", action="store_true")
    main(append=not ap.parse_args().no_record)
