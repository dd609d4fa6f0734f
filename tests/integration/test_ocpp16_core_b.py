"""OCPP 1.6 Core cases of the OCTT list (issue 18, share b) that no other test covers:
answers to requests the station must refuse, an invalid card and a lock that fails.
One station run; the CSMS is the `ocpp` package v16 with schema validation."""
from tests.integration.conftest import accepted, sent
from tools.harness.simctl import SimStation


def test_TC_027_TC_031_TC_023_TC_026_TC_024_refusals_invalid_card_lock_failure(csms, station):
    st = station("1.6", extra=("--auth", "ocpp"))
    link = accepted(csms, st)
    link.set_reply("Authorize", lambda p: {"idTagInfo": {
        "status": "Invalid" if p["idTag"].startswith("BAD") else "Accepted"}})
    remote = lambda k: link.call("RemoteStartTransaction", {"connectorId": k, "idTag": "REMOTE1"})["status"]

    assert remote(0) == "Rejected"                                            # TC_027
    assert link.call("UnlockConnector", {"connectorId": 9})["status"] == "NotSupported"   # TC_031

    # TC_023: Authorize answered Invalid -> no transaction, no energy
    st.cmd("plug 1")
    st.wait(lambda s: s["evses"][0]["state"] == "WaitingForAuthentication", what="plugged")
    tags = st.status()["tags"]
    st.cmd("tag 1 BADTAG23")
    assert link.wait_for("Authorize")["idTag"] == "BADTAG23"
    st.wait(lambda s: s["tags"] > tags, what="card decided")
    assert st.evse(1)["state"] == "WaitingForAuthentication" and not st.evse(1)["relay"]
    assert st.evse(1)["tx_id"] is None and sent(link, "StartTransaction") == []
    st.cmd("unplug 1")
    st.wait(lambda s: s["evses"][0]["state"] == "Idle", what="idle")

    # TC_026: the connector Inoperative -> RemoteStartTransaction Rejected
    assert link.call("ChangeAvailability", {"connectorId": 1, "type": "Inoperative"})["status"] == "Accepted"
    link.wait_for("StatusNotification", lambda p: p["connectorId"] == 1 and p["status"] == "Unavailable")
    assert remote(1) == "Rejected"
    assert link.call("ChangeAvailability", {"connectorId": 1, "type": "Operative"})["status"] == "Accepted"
    link.wait_for("StatusNotification", lambda p: p["connectorId"] == 1 and p["status"] == "Available",
                  after=len(link.received) - 1)

    # TC_024: the lock does not lock -> Faulted ConnectorLockFailure, no energy
    st.cmd("fault 1 lock")
    st.cmd("plug 1")
    st.cmd("tag 1 GOODTAG24")
    p = link.wait_for("StatusNotification", lambda p: p["status"] == "Faulted", timeout=15)
    assert p["errorCode"] == "ConnectorLockFailure"
    assert not st.evse(1)["relay"]        # (the StartTransaction of the authorized card goes out)
    assert link.violations == []


def test_TC_030_unlock_failure(csms, station):
    """UnlockConnector while charging with a broken lock actuator: the transaction ends
    (UnlockCommand), the lock's feedback stays locked: UnlockFailed."""
    st = station("1.6")
    link = accepted(csms, st)
    st.cmd("plug 1")
    st.wait(lambda s: s["evses"][0]["relay"] and s["evses"][0]["lock"], what="charging, locked")
    st.cmd("fault 1 lock")
    assert link.call("UnlockConnector", {"connectorId": 1})["status"] == "UnlockFailed"
    assert link.wait_for("StopTransaction", timeout=15)["reason"] == "UnlockCommand"
    assert not st.evse(1)["relay"]


def test_TC_034_unavailable_survives_a_power_failure(csms, tmp_path):
    """Connector 1 made Inoperative, then the power fails (SIGKILL); the next boot on the
    same flash reports it Unavailable again and refuses a remote start on it."""
    st = SimStation(csms.url + "ocpp", "PF34", "1.6", tmp_path)
    st.start()
    try:
        link = accepted(csms, st)
        assert link.call("ChangeAvailability", {"connectorId": 1, "type": "Inoperative"})["status"] == "Accepted"
        link.wait_for("StatusNotification", lambda p: p["connectorId"] == 1 and p["status"] == "Unavailable")
        st.kill()                                  # saved before the answer (station.change_availability)
        st2 = SimStation(csms.url + "ocpp", "PF34", "1.6", tmp_path, flash=st.flash, log_name="PF34-2.log")
        st2.start()
        try:
            link2 = csms.station("PF34", newer_than=link, timeout=20)
            link2.wait_for("BootNotification")
            link2.wait_for("StatusNotification", lambda p: p["connectorId"] == 1, timeout=15)
            assert [p["status"] for p in sent(link2, "StatusNotification") if p["connectorId"] == 1] \
                == ["Unavailable"]
            assert link2.call("RemoteStartTransaction", {"connectorId": 1, "idTag": "REMOTE34"})["status"] \
                == "Rejected"
            assert link2.violations == []
        finally:
            st2.stop()
    finally:
        st.stop()
