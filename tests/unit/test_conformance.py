"""docs/conformance.md is what tools/build/conformance.py makes of docs/octt/ and the test
names (as test_routes.py keeps docs/ocpp.md true), and the generator reads names right."""
import os
import subprocess
import sys

from tests.mp import ROOT
from tools.build import conformance


def test_conformance_doc_current():
    p = subprocess.run([sys.executable, os.path.join(ROOT, "tools", "build", "conformance.py"),
                        "--check"], capture_output=True, text=True)
    assert p.returncode == 0, p.stdout + p.stderr


def test_test_names_read(tmp_path):
    d = tmp_path / "tests" / "integration"
    d.mkdir(parents=True)
    defs = ("def test_TC_E_39_ev_connect_timeout():", "async def test_install_TC_M_01_02_12(x):",
            "def test_TC_004_1_identification_first():", "def test_TC_013_and_TC_014_resets():",
            "def helper_TC_B_01():")
    (d / "test_x.py").write_text("".join(f + "\n    pass\n" for f in defs))
    found = conformance.tests(str(tmp_path))
    assert sorted(found) == ["TC_004_1", "TC_013", "TC_014", "TC_E_39", "TC_M_01", "TC_M_02",
                             "TC_M_12"]
    assert found["TC_E_39"] == ["tests/integration/test_x.py::test_TC_E_39_ev_connect_timeout"]


def test_every_case_has_one_state():
    v201, v16 = conformance.cases()
    assert len(v201) == 292 and len({c[0] for c in v201}) == 292
    text = conformance.render({})
    for cid, _, block, _ in v201:
        if block in "ABCEFGHJMP":
            assert "| %s |" % cid in text
    app = conformance.applicability()
    assert all(v[0] in ("n/a", "out", "in") for v in app.values())
    assert all(v[1] for v in app.values() if v[0] != "in"), "a reason for each"
