"""tools/fleet's scenario files: a malformed one is rejected with a message naming the
file and the field (python -m tools.fleet exits 2 before starting anything)."""
import json
import os
import subprocess
import sys

import pytest

from tools.fleet.run import plan
from tools.fleet.scenario import ScenarioError, load, stations, validate

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
GOOD = {"stations": [{"count": 2, "ocpp": "1.6", "id": "A-{n}"}]}


def _write(tmp_path, data):
    p = tmp_path / "sc.json"
    p.write_text(data if isinstance(data, str) else json.dumps(data))
    return str(p)


def test_scenario_defaults_and_identities(tmp_path):
    sc = load(_write(tmp_path, GOOD))
    assert [s["id"] for s in stations(sc)] == ["A-1", "A-2"]
    assert sc["seed"] == 1 and sc["sessions"]["tokens"]
    for name in os.listdir(os.path.join(ROOT, "tools", "fleet", "scenarios")):
        load(os.path.join(ROOT, "tools", "fleet", "scenarios", name))


@pytest.mark.parametrize("data, words", [
    ("{\"stations\": [", "not JSON"),
    ({"stations": []}, "stations: expected a non-empty list"),
    ({"stations": [{"count": 2, "ocpp": "2.0"}]}, "stations[0].ocpp"),
    ({"stations": [{"count": 2, "ocpp": "1.6", "id": "SAME"}]}, "same identity"),
    ({"stations": [{"count": 1, "ocpp": "1.6", "profile": 1}]}, "stations[0].password"),
    ({"stations": [{"count": 1, "ocpp": "1.6"}], "sessions": {"duration_s": [30, 10]}},
     "sessions.duration_s[1]"),
    ({"stations": [{"count": 1, "ocpp": "1.6"}], "faults": [{"at_s": 1, "kind": "fire"}]},
     "faults[0].kind"),
    ({"stations": [{"count": 1, "ocpp": "1.6"}], "sesions": {}}, "unknown key 'sesions'"),
])
def test_malformed_scenario_rejected(tmp_path, data, words):
    path = _write(tmp_path, data)
    with pytest.raises(ScenarioError) as e:
        load(path)
    assert words in str(e.value) and path in str(e.value)


def test_fleet_cli_rejects_a_malformed_scenario(tmp_path):
    path = _write(tmp_path, {"stations": [{"count": 2, "ocpp": "2.0"}]})
    r = subprocess.run([sys.executable, "-m", "tools.fleet", path, "--out", str(tmp_path)],
                       cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert r.returncode == 2
    assert "bad scenario" in r.stderr and "stations[0].ocpp" in r.stderr


def test_a_seed_repeats_the_plan():
    sc = validate({"seed": 5, "stations": GOOD["stations"],
                   "sessions": {"arrivals_per_hour": 600, "energy_wh": [100, 200]}})
    a = plan(sc, "A-1")
    assert a and a == plan(sc, "A-1")
    assert a != plan(sc, "A-2")                          # a stream per station
    assert a != plan(dict(sc, seed=6), "A-1")
    assert all(0 <= x["t"] < sc["duration_s"] and 100 <= x["energy_wh"] <= 200 for x in a)
