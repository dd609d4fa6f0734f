"""tools/fleet: a 20-station mixed fleet (OCPP 1.6 and 2.0.1, one and two EVSEs, security
profiles 0 and 1) against the dev CSMS through the tap, two minutes of seeded sessions
with remote starts, RCD and meter faults and a CSMS outage (tools/fleet/scenarios/
mixed20.json). Outcomes only: every station registered, every session's transaction
delivered, no schema violation either way, the report and its plot written."""
import json
import os

import pytest

from tools.fleet import report
from tools.fleet.run import Fleet
from tools.fleet.scenario import load

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


@pytest.mark.slow
@pytest.mark.xdist_group("fleet")
def test_fleet_20_mixed_stations_two_minutes(tmp_path):
    sc = load(os.path.join(ROOT, "tools", "fleet", "scenarios", "mixed20.json"))
    rep = Fleet(sc, str(tmp_path)).run(drain_s=300)
    js, sv = str(tmp_path / "fleet-report.json"), str(tmp_path / "fleet-report.svg")
    report.write(rep, js, sv)
    print("fleet report: %s" % json.dumps({k: rep[k] for k in ("registered", "transactions",
          "reconnects", "response_ms", "resources")}))
    assert rep["stations"] == 20
    assert rep["registered"] == 20, rep["per_station"]
    assert all(p["error"] is None for p in rep["per_station"]), rep["per_station"]
    s = rep["sessions"]
    assert s["count"] > 0 and s["remote"] > 0
    assert s["ended"] == s["count"], [x for x in s["list"] if not x["ended"]]
    assert s["with_transaction"] == s["count"], [x for x in s["list"] if not x["tx"]]
    tx = rep["transactions"]
    assert tx["started"] >= s["count"] and tx["open"] == [] and tx["delivered"] == tx["started"]
    assert all(p["tx_queue"] == 0 for p in rep["per_station"]), rep["per_station"]
    assert rep["schema_violations"] == 0, rep["violations"]
    assert rep["reconnects"] >= 20                    # the outage dropped every link
    with open(js) as f:
        assert json.load(f)["transactions"] == tx
    with open(sv) as f:
        assert f.read().startswith("<svg")
