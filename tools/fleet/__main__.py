"""python -m tools.fleet SCENARIO.json [--csms URL] [--out DIR]  (make fleet)

N simulated stations (the real firmware on the unix port, each with its own flash image)
against a CSMS: the given URL, or the dev CSMS (tools/csms) started here. Live progress
on stdout; DIR/fleet-report.json and DIR/fleet-report.svg at the end."""
import argparse
import os
import ssl
import sys
import tempfile

from tools.fleet import report
from tools.fleet.run import Fleet
from tools.fleet.scenario import ScenarioError, load


def main(argv=None):
    ap = argparse.ArgumentParser(prog="python -m tools.fleet", description=__doc__.split("\n\n")[0])
    ap.add_argument("scenario", help="scenario file (JSON; tools/fleet/scenario.py documents it)")
    ap.add_argument("--csms", help="the CSMS's base URL (the station id is appended); "
                    "default: the dev CSMS, started here")
    ap.add_argument("--out", default="build/fleet", help="directory for the report and the flash images")
    ap.add_argument("--heap", default="512k", help="each station's MicroPython heap")
    ap.add_argument("--seed", type=int, help="override the scenario's seed")
    ap.add_argument("--duration", type=float, help="override the scenario's duration_s")
    ap.add_argument("--mpy", metavar="DIR", help="run the stations from precompiled .mpy in "
                    "DIR (default: build/mpy, as `make check` builds it, when it is current)")
    ap.add_argument("--source", action="store_true", help="run the stations from the .py "
                    "sources (compiled at import) even when build/mpy is current")
    ap.add_argument("--csms-ca", metavar="PEM", help="trust this CA for a wss:// CSMS "
                    "(default: the system's roots)")
    ap.add_argument("--drain", type=float, default=120, help="seconds to wait at the end for delivery")
    a = ap.parse_args(argv)
    try:
        sc = load(a.scenario)
    except ScenarioError as e:
        print("fleet: bad scenario: %s" % e, file=sys.stderr)
        return 2
    if a.seed is not None:
        sc["seed"] = a.seed
    if a.duration is not None:
        sc["duration_s"] = a.duration
    os.makedirs(a.out, exist_ok=True)
    work = tempfile.mkdtemp(prefix="flash-", dir=a.out)
    csms_ssl = None
    if a.csms_ca:
        csms_ssl = ssl.create_default_context(cafile=a.csms_ca)
    rep = Fleet(sc, work, csms_url=a.csms, heap=a.heap, csms_ssl=csms_ssl,
                mpy=None if a.source else os.path.abspath(a.mpy) if a.mpy else "auto").run(a.drain)
    js, sv = os.path.join(a.out, "fleet-report.json"), os.path.join(a.out, "fleet-report.svg")
    report.write(rep, js, sv)
    tx = rep["transactions"]
    print("fleet: %d/%d registered, %d sessions, transactions %d started / %d delivered, "
          "%d schema violations, %d reconnects, response p50 %s ms p99 %s ms; "
          "per station %.2f CPU-s/min, %.1f MB RSS"
          % (rep["registered"], rep["stations"], rep["sessions"]["count"], tx["started"],
             tx["delivered"], rep["schema_violations"], rep["reconnects"],
             rep["response_ms"]["p50"], rep["response_ms"]["p99"],
             rep["resources"]["cpu_s_per_min_mean"] or 0, rep["resources"]["rss_mb_mean"] or 0))
    print("fleet: report %s, plot %s" % (js, sv))
    return 0


if __name__ == "__main__":
    sys.exit(main())
