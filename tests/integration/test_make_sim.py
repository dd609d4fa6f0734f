"""`make sim` is the main job: it must keep working. Run it the way the README says, with
--once so it ends after the charging session (exit 0 only if the CSMS saw the session)."""
import os
import subprocess

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


@pytest.mark.slow
def test_make_sim_once(tmp_path):
    args = "--once --port 0 --control 0 --charge-s 5 --var %s" % tmp_path
    p = subprocess.run(["make", "-s", "-C", ROOT, "sim", "SIM_ARGS=" + args],
                       capture_output=True, text=True, timeout=120)
    assert p.returncode == 0, p.stdout + p.stderr
    assert "session done" in p.stdout
    assert "EVSE 1  pilot C" in p.stdout           # the live line while charging
    assert os.path.getsize(os.path.join(tmp_path, "csms.log")) > 0
