"""Reservations in the kernel (firmware/evse/reserve.py) under MicroPython with an
in-memory board, stepped by hand (tests/mp/reserve.py)."""
import pytest

from tests import mp


@pytest.fixture(scope="module")
def r():
    return mp.run_file("reserve", timeout=60)


def test_answers(r):
    assert [r["accept"], r["same_evse"], r["no_evse"], r["wide"], r["wide_full"]] == [
        "Accepted", "Occupied", "Rejected", "Accepted", "Occupied"]
    assert [r["exp_accept"], r["unavailable"], r["faulted"], r["occupied"]] == [
        "Accepted", "Unavailable", "Faulted", "Occupied"]


def test_station_wide_reservation_holds_the_last_free_evse(r):
    assert r["held"] == [1, 4]
    assert r["events"] == [[1, "ReservationStart", 1], [0, "ReservationStart", 4]]


def test_kept_on_flash_and_back_after_a_restart(r):
    assert r["saved"] == [[1, 1, "TAG1", "PARENT", 1000060], [4, 0, "TAG4", None, 1000600]]
    assert r["reloaded"] == [1, 4]


def test_only_the_reserving_token_or_its_parent_starts(r):
    assert r["other"] is False
    assert r["child"] == [True, 1]
    assert r["used_events"] == [[1, "ReservationEnd", [1, "Used"]]]
    assert r["after_use"] == [None, 4]
    assert r["wide_use"] == [True, 4, []]
    assert r["session_end"] == ["Idle", None]


def test_expiry_cancel_replace_removed(r):
    assert r["before_expiry"] == [7]
    assert r["after_expiry"] == [[None], [1, "ReservationEnd", [7, "Expired"]]]
    assert r["cancel_none"] is False
    assert r["replace"] == "Accepted" and r["replaced"] == [[8, 1, "TAG9", None, 1000065]]
    assert r["cancel"] == [True, [None], [1, "ReservationEnd", [8, "Cancelled"]]]
    assert r["removed"] == [[None], [1, "ReservationEnd", [9, "Removed"]]]


def test_a_reservation_the_flash_did_not_take_is_rejected(r):
    assert r["not_saved"] == ["Rejected", [None]]


def test_free_charging_waits_for_the_reserving_token(r):
    assert r["free_reserved"] == ["WaitingForAuthentication", False]
    assert r["free_token"] == ["PrepareCharging", 13]
