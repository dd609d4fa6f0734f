"""Fault matrix: every fault in every state -> relay open, the right OCPP status and
error code (1.6 errorCode, 2.0.1 connectorStatus), and the stated recovery rule.

Runs the kernel and both adapters' status derivation under MicroPython on an in-memory
board (tests/fixtures/fakeboard.py); one process computes the whole matrix
(tests/mp/fault_matrix.py)."""
import json

import pytest

from tests import mp

FAULTS = ("rcd", "weld", "lock", "meter", "diode", "overtemp", "overcurrent", "pilot", "vent")
STATES = ("Preparing", "Charging", "SuspendedEV", "SuspendedEVSE")

# fault -> (1.6 errorCode, faulted?, recovery action)
EXPECT = {
    "rcd": ("GroundFailure", True, "unplug"),            # IEC 61851-1 / EVerest: clear in A
    "weld": ("PowerSwitchFailure", True, "clear"),       # feedback open again
    "lock": ("ConnectorLockFailure", True, "unplug"),
    "meter": ("PowerMeterFailure", False, "clear"),      # pauses charging, not Faulted
    "diode": ("EVCommunicationError", True, "unplug"),
    "overtemp": ("HighTemperature", True, "clear"),      # below 55 C
    "overcurrent": ("OverCurrentFailure", True, "unplug"),
    "pilot": ("EVCommunicationError", True, "unplug"),   # pilot short (E)
    "vent": ("OtherError", True, "unplug"),              # state D without ventilation
}

# Where a fault cannot arise (no PWM for a diode check, relay never closed for a weld,
# lock already confirmed), the cell is not applicable and says why.
NA = {
    ("weld", "Preparing"): "relay never closed",
    ("lock", "Charging"): "locked before closing; feedback loss is a later issue",
    ("lock", "SuspendedEV"): "already locked",
    ("lock", "SuspendedEVSE"): "already locked",
    ("diode", "SuspendedEVSE"): "no PWM while paused by the EVSE",
    ("overcurrent", "Preparing"): "no current without the relay",
    ("overcurrent", "SuspendedEV"): "no current without the relay",
    ("overcurrent", "SuspendedEVSE"): "no current without the relay",
}

def _run(mode, tmp_dir, **cases):
    """tests/mp/fault_matrix.py in MODE, its files in tmp_dir (not /tmp: other runs)."""
    cases = dict(dict(faults=list(FAULTS), states=list(STATES), na=[list(k) for k in NA]), **cases)
    (tmp_dir / "cases.json").write_text(json.dumps(cases))     # (long argv crash the port)
    return mp.run_file("fault_matrix", mode, tmp_dir, timeout=120)


@pytest.fixture(scope="module")
def matrix(tmp_path_factory):
    return _run("matrix", tmp_path_factory.mktemp("matrix"))


@pytest.fixture(scope="module")
def recovery(tmp_path_factory):
    return _run("recovery", tmp_path_factory.mktemp("recovery"),
                faults=[f for f in FAULTS if f != "lock"],
                how={f: EXPECT[f][2] for f in FAULTS if f != "lock"})


CELLS = [(f, s) for f in FAULTS for s in STATES]


@pytest.mark.parametrize("fault,state", CELLS, ids=["%s-%s" % c for c in CELLS])
def test_fault_in_state(matrix, fault, state):
    if (fault, state) in NA:
        assert "%s/%s" % (fault, state) not in matrix      # documented: cannot arise
        return
    r = matrix["%s/%s" % (fault, state)]
    code, faulted, _ = EXPECT[fault]
    assert r["relay"] is False, r
    if faulted:
        assert r["s16"] == ["Faulted", code], r
        assert r["s201"] == "Faulted", r
    else:
        # meter loss: charging pauses, the error is reported, the connector is not Faulted
        assert r["s16"][1] == code and r["s16"][0] in ("SuspendedEVSE", "Preparing", "SuspendedEV"), r
        assert r["s201"] == "Occupied", r


@pytest.mark.parametrize("fault", [f for f in FAULTS if f != "lock"])
def test_recovery_rule(recovery, fault):
    """After the stated recovery (unplug, or the condition clearing) no error remains."""
    r = recovery[fault]
    assert r["faulted"][1] == EXPECT[fault][0]
    assert r["errors"] == [], r
    if EXPECT[fault][2] == "unplug":
        assert r["after"] == ["Available", "NoError"], r
        assert r["s201"] == "Available"
    else:
        assert r["after"][0] != "Faulted" and r["after"][1] == "NoError", r


def test_lock_failure_recovers_on_unplug(matrix):
    r = matrix["lock/Preparing"]
    assert r["s16"] == ["Faulted", "ConnectorLockFailure"] and r["relay"] is False
