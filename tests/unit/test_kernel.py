"""Kernel (firmware/evse) under MicroPython with an in-memory board: the safety tick and
the state machine stepped by hand, one scenario per rule (tests/mp/kernel.py)."""
import pytest

from tests import mp


@pytest.fixture(scope="module")
def r():
    return mp.run_file("kernel", timeout=60)       # tests/mp/kernel.py: every scenario


def test_plug_in_offers_pwm(r):
    assert r["idle"]["pilot"] == "x1" and r["idle"]["state"] == "Idle"
    assert r["plug"] == dict(r["plug"], state="PrepareCharging", pilot="pwm", duty=533, relay=False)
    assert r["plug_events"][:2] == ["SessionStarted", "PrepareCharging"]


def test_state_c_closes_relay(r):
    assert r["charge"]["relay"] is True and r["charge"]["state"] == "Charging"


def test_no_power_before_first_meter_reading(r):
    # the session is prepared (PWM offered) but the relay waits for the meter
    assert r["no_meter_yet"]["relay"] is False and r["no_meter_yet"]["state"] == "PrepareCharging"
    assert r["meter_read"]["relay"] is True and r["meter_read"]["state"] == "Charging"


def test_ev_side_disconnect_held(r):
    # the tick opens at A regardless; the session stays, locked, PWM off, until a stop
    assert r["hold_tick"] is False
    assert r["held"]["state"] == "ChargingPausedEV" and r["held"]["pilot"] == "x1"
    assert r["held_lock"] is True and "SessionFinished" not in r["held_events"]
    assert "EVDisconnected" in r["held_events"]
    assert r["held_resumed"]["state"] == "Charging" and r["held_resumed"]["relay"] is True
    assert r["held_end"]["state"] == "Idle" and r["held_end_lock"] is False
    assert r["held_end_events"][-1] == "SessionFinished"


def test_c_to_b_opens_in_tick(r):
    # IEC 61851-1: C -> B opens at once; the tick does it without a poll in between
    assert r["c_to_b_tick"] is False
    assert r["paused_ev"]["state"] == "ChargingPausedEV" and r["paused_ev"]["pilot"] == "pwm"


def test_unplug_ends_session(r):
    assert r["unplug_tick"] is False
    assert r["unplugged"]["state"] == "Idle" and r["unplugged"]["pilot"] == "x1"
    assert r["events"][-2:] == ["ChargingFinished", "SessionFinished"]


def test_rcd_trip(r):
    assert r["rcd_tick"] == [False, "f"]
    assert r["rcd_still"] == ["rcd"] and r["rcd_cleared"] == []
    assert r["rcd_pulse"] == [False, "f", ["rcd"]] and r["rcd_pulse_cleared"] == []


def test_diode_fault(r):
    # one burst without the -12 V level may straddle a PWM <-> X1 switch: two in a row trip
    assert r["diode_one"] is True and r["diode_tick"] is False
    assert r["diode"]["errors"] == ["diode"] and r["diode"]["relay"] is False


def test_state_d_needs_ventilation(r):
    assert r["vent"]["relay"] is False and r["vent"]["errors"] == ["vent"]
    assert r["vent_ok"]["relay"] is True and r["vent_ok"]["state"] == "Charging"


def test_below_6a_pauses(r):
    assert r["low_limit"]["state"] == "ChargingPausedEVSE" and r["low_limit"]["pilot"] == "x1"
    assert r["limit_16"]["duty"] == 267 and r["limit_16"]["state"] == "PrepareCharging"


def test_plugin_timeout(r):
    # OCPP ConnectionTimeOut / EVConnectionTimeOut: authorization without plug-in expires
    assert r["preauth"] is True and r["plugin_timeout"] == [False, True]


def test_token_while_finished_is_for_the_next_session(r):
    # the stopped session does not take it (it would be cleared at the unplug) ...
    assert r["finished"]["state"] == "Finished" and r["finished_auth"] == [False, "T1"]
    # ... the session after the unplug starts authorized by it
    assert r["next_idle"] == ["Idle", True, "T2"]
    assert r["next_session"]["state"] == "Charging" and r["next_session"]["relay"] is True
    assert r["wait_auth_unplug"] == ["PrepareCharging", "T4"]
    # with the cable still in, the token ends the finished session and starts the next
    state, auth, token, events = r["replug_less"]
    assert (state, auth, token) == ("PrepareCharging", True, "T3")
    assert events[:3] == ["SessionFinished", "SessionStarted", "Authorized"]


def test_authorization_required(r):
    assert r["wait_auth"]["state"] == "WaitingForAuthentication" and r["wait_auth"]["pilot"] == "x1"
    assert r["authorized"]["state"] == "Charging" and r["authorized"]["relay"] is True


def test_disable_waits_for_session_end(r):
    assert r["disable_in_session"]["state"] == "Charging"
    assert r["disabled"]["state"] == "Disabled"
    assert r["disabled_plug"]["state"] == "Disabled" and r["disabled_plug"]["relay"] is False


def test_evse_pause(r):
    assert r["pausing"]["state"] == "StoppingCharging" and r["pausing"]["pilot"] == "x1"
    assert r["paused"]["state"] == "ChargingPausedEVSE" and r["paused"]["relay"] is False
    assert r["resumed"]["pilot"] == "pwm"


def test_welded_relay(r):
    assert "weld" in r["weld"]["errors"]


def test_lock_failure_blocks(r):
    # bounded retries (3 drives), then ConnectorLockFailure; cleared on unplug
    assert r["lock"]["relay"] is False and r["lock"]["errors"] == ["lock"]
    assert max(r["lock_drives"]) == 3 and r["lock_cleared"] == []
    assert r["lock_ok"] == [True, True] and r["unlocked"] is False


def test_state_f_held_after_fault(r):
    # IEC 61851-1 Table A.5: F for at least 300 ms after a fault, then X1
    assert r["f_hold"] == "f" and r["f_after"] == "x1"


def test_relay_close_not_confirmed(r):
    assert r["no_confirm"]["errors"] == ["relay"] and r["no_confirm"]["relay"] is False


def test_overcurrent_rule(r):
    # EVerest: > offer x 1.1 + 0.5 A (16 A -> 18.1 A) for more than 6 s
    assert r["oc"]["errors"] == ["overcurrent"] and r["oc"]["relay"] is False
    assert r["oc_ok"]["errors"] == [] and r["oc_ok"]["relay"] is True


def test_tick_allocates_nothing(r):
    assert r["tick_alloc_free"] is True


def test_classify_hysteresis(r):
    # IEC 61851-1 Table A.4 bands with hysteresis on the previous state
    assert r["classify"] == ["A", "B", "B", "C", "C", "D", "E", "X", "F", "X", "X", "X",
                             "A", "B", "C", "D"]


def test_duty_from_current(r):
    # 6-51 A: A/0.6 %; 51-80 A: A/2.5 + 64 % (in permille); <6 A: nothing to offer
    assert r["duty"] == [0, 100, 167, 267, 533, 850, 880, 960, 960]
    assert r["amps"] == [0, 6, 31, 51, 60, 80, 0]


def test_listener_out_of_memory_loses_no_event(r):
    # a MemoryError in a listener: collected and called again; failing again, the event is
    # kept and handed over at the next poll, before any later one (Station.deliver_owed)
    assert r["nomem_once"] == ["ChargingFinished", "SessionFinished"]
    # kept for both listeners (the second one waits its turn: the order holds)
    assert r["nomem_kept"] == r["nomem_kept2"] == 2 * len(r["nomem_events"])
    assert r["nomem_events"][0] == "ChargingFinished" and r["nomem_events"][-1] == "SessionFinished"
    assert r["nomem_twice"] is True         # every listener, the same events in the same order
