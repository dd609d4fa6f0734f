"""OCPP 1.6 Core cases of the OCTT list (issue 18, share b) that no other test covers:
answers to requests the station must refuse, an invalid card and a lock that fails.
One station run; the CSMS is the `ocpp` package v16 with schema validation."""
from tests.integration.conftest import accepted, sent
from tools.csms import CsmsThread
from tools.harness.simctl import SimStation, free_port


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


def test_TC_038_TC_037_2_offline_stop_and_offline_start_answered_invalid(tmp_path):
    """StopTransactionOnInvalidId=false, AllowOfflineTxForUnknownId=true. Connector 1's
    transaction starts online and is stopped by its card offline (TC_038); connector 2's
    starts offline with an unknown card. After the reconnect the StopTransaction of 1 is
    delivered; the CSMS answers 2's StartTransaction Invalid: the energy stops
    (SuspendedEVSE), the transaction stays open until the unplug (TC_037_2)."""
    port = free_port()
    st = SimStation("ws://127.0.0.1:%d/ocpp" % port, "OFF38", "1.6", tmp_path, evses=2,
                    extra=("--auth", "ocpp", "--set", "RetryBackOffWaitMinimum=1",
                           "--set", "RetryBackOffRandomRange=0", "--set", "RetryBackOffRepeatTimes=0",
                           "--set", "StopTransactionOnInvalidId=false",
                           "--set", "AllowOfflineTxForUnknownId=true"))
    try:
        with CsmsThread(host="127.0.0.1", port=port) as csms:
            st.start()
            link = accepted(csms, st)
            st.cmd("plug 1")
            st.cmd("tag 1 CARD38")
            st.wait(lambda s: s["evses"][0]["relay"], what="charging")
            tx1 = link.wait_for("StartTransaction")
            st.wait(lambda s: s["tx_queue"] == 0 and s["evses"][0]["tx_id"], what="start delivered")
        st.wait(lambda s: not s["connected"], what="offline")
        st.cmd("tag 1 CARD38")
        st.wait(lambda s: s["evses"][0]["tx_id"] is None and not s["evses"][0]["relay"], what="stopped offline")
        st.cmd("unplug 1")
        st.cmd("plug 2")
        st.cmd("tag 2 UNKNOWN37")
        st.wait(lambda s: s["evses"][1]["relay"], what="connector 2 charging offline")
        with CsmsThread(host="127.0.0.1", port=port) as csms:
            csms.set_reply("StartTransaction", {"transactionId": 37, "idTagInfo": {"status": "Invalid"}},
                           version="1.6")
            link = csms.station("OFF38", timeout=30)
            stop = link.wait_for("StopTransaction", timeout=30)
            assert stop["reason"] == "Local" and stop["idTag"] == "CARD38" and stop["transactionId"] == 1
            assert tx1["idTag"] == "CARD38"
            assert link.wait_for("StartTransaction", timeout=30)["idTag"] == "UNKNOWN37"
            link.wait_for("StatusNotification", lambda p: p["connectorId"] == 2 and p["status"] == "SuspendedEVSE",
                          timeout=30)
            st.wait(lambda s: not s["evses"][1]["relay"], what="energy stopped")
            assert st.evse(2)["tx_id"] and len(sent(link, "StopTransaction")) == 1
            st.cmd("unplug 2")
            stop = link.wait_for("StopTransaction", lambda p: p["transactionId"] == 37, timeout=15)
            assert stop["reason"] == "EVDisconnected"
            assert link.violations == []
    finally:
        st.stop()
