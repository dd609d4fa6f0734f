"""The simulated board (boards/sim) under MicroPython: the world's physics stepped by hand,
the HAL objects (allocation-free on the safety-tick path), the tick thread, the input
ring, publish/reset; then the real thing: a process with the world thread, the control
channel and a stand-in firmware, driven over TCP from here (tests/mp/sim_physics.py,
tests/mp/sim_station.py)."""
import time

import pytest

from tests import mp
from tools.harness.simctl import Control, free_port


def test_world_physics_and_hal():
    out = mp.run_file("sim_physics", timeout=30)           # tests/mp/sim_physics.py
    assert out["A_x1"] == [12000, 12000]
    assert out["B_x1"] == [9000, 9000]
    assert out["B_pwm"] == [9000, -12000]                 # diode: -12 V low level
    assert out["C_pwm"] == [6000, -12000] and out["ev_C"] == "C"
    assert out["hlc_5pct"] == "B" and out["x1"] == "B"
    assert out["diode"] == [6000, -6000]                  # shorted diode: low = -high
    assert out["F"] == [-12000, -12000] and out["E"] == [0, 0]
    assert out["offers"] == [6000, 31980, 51000, 65000, 80000, 0, 0]
    assert out["fb_closed"] is True
    assert 4500 <= out["a_1s"] <= 5500 and out["a_11s"] == 31980
    assert out["a_draw16"] == 16000
    assert abs(out["wh_1min_16a"] - 3 * 230 * 16 / 60) < 1
    assert out["meter"] == [11040, [230.0] * 3, [16.0] * 3]
    assert out["weld"] == [True, 16000] and out["weld_cleared"] == [False, 0]
    assert out["rcd"] == [True, 0]
    assert out["fault_ms"] == 30
    assert out["hot"] == 85.0 and out["cool"] == 25.0
    assert out["lock_stuck"] is True and out["lock_free"] is False
    assert out["meter_fault"] == 110
    assert out["full"] == ["B", 0]
    assert out["unplugged"] == [12000, -12000]           # PWM still on: +-12 V
    assert out["noalloc"] is True
    assert out["ring"][0] == 15 and out["ring"][1] is False
    assert out["ring"][2] == [["tag", 0, "T0"], ["tag", 0, "T1"]] and out["ring"][3] == []
    assert out["stall"] == [["stall", 5]]
    spare = ["x%d" % k for k in range(8)]
    assert len(out["status"][3]) == 2 and out["status"][3] in spare   # the 8th name: no slot
    assert out["status"][:3] + out["status"][4:9] == [True, "Accepted", "1.6", "Charging",
                                                      "tx1", [1, 2], 1, 1]
    assert len(out["status"][9]) == 7
    assert out["reset"] == ["test", False]                # a BaseException: not caught by
    assert out["reboot"] == [0, 0, None, 1]               # `except Exception` in tasks
    assert out["tick"] == [True, True]
    assert out["tick_fail"] == [0, "ValueError('boom',)"]




class Ctl(Control):
    """The control channel on one connection (tools/harness/simctl.py), plus EVSE 1's state."""

    def ev(self):
        return self("status")["evses"][0]

    def wait(self, pred, timeout=5, what=""):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            e = self.ev()
            if pred(e):
                return e
            time.sleep(0.02)
        raise AssertionError("timeout: %s; last %s" % (what, e))


def start(img):
    port = free_port()
    proc = mp.popen([mp.MP_DIR + "/sim_station.py", str(port), img], stdout=-1, stderr=-1,
                    text=True)                    # tests/mp/sim_station.py
    return proc, port


def finish(proc, c):
    assert c("tag 1 QUIT")["ok"]
    c.close()
    out, err = proc.communicate(timeout=10)
    assert proc.returncode == 0, (out, err)
    return out


@pytest.fixture
def station(tmp_path):
    img = str(tmp_path / "sim.img")
    proc, port = start(img)
    try:
        yield proc, port, img
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(5)


@pytest.mark.slow
def test_charging_session_over_control_channel(station):
    proc, port, img = station
    c = Ctl(port)
    st = c("status")
    assert st["ok"] and st["flash"] == "formatted" and st["evses"][0]["pilot"] == "A"
    assert c.wait(lambda e: e["ocpp_status"] == "Available", what="published")
    # the EV held in B: 9 V, the firmware offers 32 A (53.3 %), no power yet
    assert c("ev 1 B") == {"ok": True, "evse": 1}
    e = c.wait(lambda e: e["pwm"] == "pwm" and e["lock"] and e["ocpp_status"] == "Occupied",
               what="PWM offered, locked")
    assert e["pilot"] == "B" and e["pilot_mv"] == [9000, -12000]
    assert e["duty"] == 53.3 and e["offered_a"] == 31.98 and e["relay"] is False
    # the EV model takes over: C, relay closes, current ramps, energy rises
    c("ev 1 auto")
    e = c.wait(lambda e: e["relay"] and e["current_a"] > 0, what="charging")
    assert e["pilot"] == "C" and e["contacts"] is True
    wh0 = e["energy_wh"]
    e = c.wait(lambda e: e["energy_wh"] > wh0 + 0.2, what="energy rising")
    assert e["power_w"] > 0
    # several clients at once
    c2 = Ctl(port)
    assert c2("draw 1 10")["ok"] and c("status")["ok"]
    assert c2.wait(lambda e: e["current_a"] == 10.0, what="draw 10 A")["ev_max_a"] == 10.0
    c2.close()
    # RCD fault: the (stand-in) safety tick opens the relay, latency is reported
    assert c("fault 1 rcd")["ok"]
    e = c.wait(lambda e: not e["relay"] and e["fault_to_open_ms"] is not None, what="rcd open")
    assert e["faults"] == ["rcd"] and e["last_fault"] == "rcd" and e["current_a"] == 0
    assert 0 <= e["fault_to_open_ms"] < 500
    assert c("clear 1 rcd")["ok"]
    c.wait(lambda e: e["relay"] and not e["faults"], what="closed again")
    # meter, overtemp, weld, lock
    c("fault 1 meter")
    c.wait(lambda e: e["error_code"] == "meter 110", what="meter error seen")
    c("clear 1 meter")
    c.wait(lambda e: e["error_code"] is None, what="meter back")
    assert c("fault 1 overtemp")["ok"] and c.ev()["temp_c"] == 85.0
    c("clear 1 overtemp")
    c("fault 1 weld")
    c("unplug 1")
    e = c.wait(lambda e: e["pilot"] == "A" and not e["relay"], what="unplugged")
    assert e["contacts"] is True                         # welded: feedback stays closed
    c("clear 1 weld")
    c.wait(lambda e: not e["contacts"] and not e["lock"], what="weld cleared, unlocked")
    c("fault 1 lock")
    c("plug 1")
    e = c.wait(lambda e: e["relay"], what="charging without lock")
    assert e["lock"] is False                            # the stand-in ignores feedback
    c("clear 1 lock")
    # stall: returns at once, the channel answers while the loop is blocked: a status
    # that shows the stall begun (`stalled`: the loop's round) and the loop's counter
    # still below it. A machine too busy to ask within the stall: a longer one
    ms, seen = 500, None
    while seen is None and ms <= 16000:
        n0 = c.ev()["session"]
        assert c("stall %d" % ms) == {"ok": True, "stall_ms": ms}
        e = c.wait(lambda e: (e.get("stalled") or 0) > n0, what="stall begun")
        if e["session"] < e["stalled"]:
            seen = e
        ms *= 2
    assert seen is not None, "no status within a stall"
    c.wait(lambda e: e["session"] >= seen["stalled"], timeout=30, what="loop running again")
    # tag reaches the firmware through inputs()
    c("tag 1 CARD42")
    c.wait(lambda e: e["tx_id"] == "CARD42", what="tag")
    # errors
    for line, msg in (("plug 2", "out of range"), ("fault 1 smoke", "KIND"),
                      ("frobnicate", "unknown"), ("stall 0", "MS"), ("draw 1 x", ""),
                      ("ev 1 Z", "EV state")):
        r = c(line)
        assert r["ok"] is False and msg in r["error"], (line, r)
    c("unplug 1")
    c.wait(lambda e: e["pilot"] == "A" and not e["relay"] and e["pwm"] == "x1", what="A")
    out = finish(proc, c)
    assert "RUNS 1 formatted" in out


def test_flash_image_reused_across_runs(tmp_path):
    img = str(tmp_path / "sim.img")
    for n, how in ((1, "formatted"), (2, "mounted")):
        proc, port = start(img)
        try:
            c = Ctl(port)
            assert c("status")["flash"] == how
            out = finish(proc, c)
            assert "RUNS %d %s" % (n, how) in out
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait(5)
