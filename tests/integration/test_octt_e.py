"""OCTT 2.0.1 block E (transactions) cases against the dev CSMS, several cases on one
station where the steps chain. Covered elsewhere (named in their tests):
tests/integration/test_transactions.py (TC_E_01, 02, 03, 06, 09, 10, 26, 40, 42, 43,
50), test_deviations.py (TC_E_05, 16, 29, 30, 33, 38, 39), test_octt_f.py (TC_E_13)."""
import time

import pytest

from tests.integration.conftest import accepted, avail_events, sent, statuses
from tools.csms import NO_REPLY, CallErrorReply, CsmsThread
from tools.harness.simctl import SimStation, free_port


def _started(p):
    return p["eventType"] == "Started"


def _ended(p):
    return p["eventType"] == "Ended"


def _set(link, component, variable, value, instance=None):
    var = {"name": variable}
    if instance:
        var["instance"] = instance
    res = link.call("SetVariables", {"setVariableData": [{"component": {"name": component},
                    "variable": var, "attributeValue": value}]})
    assert res["setVariableResult"][0]["attributeStatus"] == "Accepted", res


# (case, TxStopPoint, StopTxOnEVSideDisconnect, UnlockOnEVSideDisconnect, what ends it,
#  (triggerReason, stoppedReason, chargingState or None))
_STOPS = (
    ("TC_E_07", "PowerPathClosed", "true", "true", "tag", ("StopAuthorized", "Local", None)),
    ("TC_E_35", "PowerPathClosed", "true", "true", "remote", ("RemoteStop", "Remote", None)),
    ("TC_E_37", "PowerPathClosed", "false", "true", "ev-side", ("EVCommunicationLost", "EVDisconnected", "Idle")),
    ("TC_E_17", "PowerPathClosed", "true", "false", "ev-side", ("EVCommunicationLost", "EVDisconnected", "Idle")),
    ("TC_E_15", "Authorized", "true", "true", "tag", ("StopAuthorized", "Local", None)),
    ("TC_E_21", "Authorized", "true", "true", "remote", ("RemoteStop", "Remote", None)),
    ("TC_E_08", "EnergyTransfer", "true", "true", "tag", ("StopAuthorized", "Local", None)),
    # TC_E_22 allows Ended (EVConnected, StoppedByEV) or Updated SuspendedEV: the latter,
    # then the card ends it
    ("TC_E_22", "EnergyTransfer", "true", "true", "ev-pause", ("StopAuthorized", "Local", None)),
    ("TC_E_14", "EVConnected", "true", "true", "tag+unplug", ("EVCommunicationLost", "Local", "Idle")),
    ("TC_E_20", "EVConnected", "false", "true", "ev-side", ("EVCommunicationLost", "EVDisconnected", "Idle")),
    ("TC_E_24", "EVConnected,Authorized", "true", "true", "ev-side", ("EVCommunicationLost", "EVDisconnected", "Idle")),
    ("TC_E_25", "EVConnected,Authorized", "true", "false", "ev-side", ("EVCommunicationLost", "EVDisconnected", "Idle")),
)


@pytest.mark.slow
def test_TC_E_04_07_35_37_17_15_21_08_22_14_20_24_25_28_32_34_31_stop_points(csms, station):
    """One session per stop option (the table above) on one station: the card is
    presented before the cable (TC_E_04); the Ended event carries the triggerReason,
    stoppedReason and chargingState of the case, and the connector is Available after
    the unplug, reported by StatusNotification and NotifyEvent (AvailabilityState). Then
    GetTransactionStatus: an unknown id, an ended transaction, no id
    (TC_E_28, 32, 34), and an ended one whose Ended is still unanswered (TC_E_31)."""
    st = station("2.0.1", extra=("--auth", "ocpp"))
    link = accepted(csms, st)
    ids = []
    for case, stop_point, stop_ev, unlock_ev, how, (trigger, reason, state) in _STOPS:
        _set(link, "TxCtrlr", "TxStopPoint", stop_point)
        _set(link, "TxCtrlr", "StopTxOnEVSideDisconnect", stop_ev)
        _set(link, "OCPPCommCtrlr", "UnlockOnEVSideDisconnect", unlock_ev)
        n = len(link.received)
        tag = "CARD" + case[-2:]
        st.cmd("tag 1 " + tag)                      # TC_E_04: authorization first
        st.wait_log("tag %s at evse 1: accepted" % tag)
        st.cmd("plug 1")
        started = link.wait_for("TransactionEvent", _started, after=n, timeout=15)
        tid = started["transactionInfo"]["transactionId"]
        ids.append(tid)
        link.wait_for("TransactionEvent", lambda p: p["transactionInfo"].get("chargingState") == "Charging",
                      after=n, timeout=15)               # EnergyTransferStarted
        if how == "tag":
            st.cmd("tag 1 " + tag)
        elif how == "remote":
            assert link.call("RequestStopTransaction", {"transactionId": tid})["status"] == "Accepted"
        elif how == "ev-pause":
            st.cmd("ev 1 B")
            upd = link.wait_for("TransactionEvent", lambda p: p["transactionInfo"].get("chargingState") ==
                                "SuspendedEV" and p["eventType"] == "Updated", after=n, timeout=15)
            assert upd["triggerReason"] == "ChargingStateChanged"
            st.cmd("tag 1 " + tag)
        elif how == "tag+unplug":
            st.cmd("tag 1 " + tag)
            st.wait(lambda s: not s["evses"][0]["relay"], what="%s stopped" % case)
            st.cmd("unplug 1")
        else:                                       # EnergyTransferSuspended, then the EV side
            st.cmd("ev 1 B")
            link.wait_for("TransactionEvent", lambda p: p["transactionInfo"].get("chargingState") ==
                          "SuspendedEV", after=n, timeout=15)
            st.cmd("unplug 1")
        end = link.wait_for("TransactionEvent", lambda p: _ended(p) and
                            p["transactionInfo"]["transactionId"] == tid, after=n, timeout=15)
        got = (end["triggerReason"], end["transactionInfo"].get("stoppedReason"),
               end["transactionInfo"].get("chargingState") if state else None)
        assert got == (trigger, reason, state), case
        m = len(link.received)
        st.cmd("ev 1 auto")
        st.cmd("unplug 1")
        st.wait(lambda s: s["evses"][0]["state"] == "Idle" and s["evses"][0]["tx_id"] is None,
                what="%s idle" % case)
        if statuses(link, "2.0.1")[-1] != "Available":
            link.wait_for("StatusNotification", lambda p: p["connectorStatus"] == "Available", after=m)
        # TC_E_14/17/24/25 (E06, E09): the status change as NotifyEvent AvailabilityState
        # (Connector, Delta) too, Occupied with the cable, Available after the unplug
        link.wait_for("NotifyEvent", lambda p: avail_events(link, after=n)[-1:] == ["Available"])
        assert avail_events(link, after=n) == ["Occupied", "Available"], case

    status = lambda tid=None: link.call("GetTransactionStatus", {"transactionId": tid} if tid else {})
    st.wait(lambda s: s["tx_queue"] == 0, what="all delivered")
    assert status("NO-SUCH-TX") == {"ongoingIndicator": False, "messagesInQueue": False}   # TC_E_28
    assert status(ids[0]) == {"ongoingIndicator": False, "messagesInQueue": False}        # TC_E_32
    assert status() == {"messagesInQueue": False}                                         # TC_E_34
    link.set_reply("TransactionEvent", NO_REPLY)                                           # TC_E_31
    n = len(link.received)
    st.cmd("plug 1")
    st.cmd("tag 1 CARD31")
    tid = link.wait_for("TransactionEvent", _started, after=n, timeout=15)["transactionInfo"]["transactionId"]
    st.cmd("unplug 1")
    st.wait(lambda s: s["evses"][0]["tx_id"] is None, what="ended")
    deadline = time.monotonic() + 15
    while status(tid)["ongoingIndicator"] and time.monotonic() < deadline:   # the end is journaled
        time.sleep(0.1)                             # (a poll, as SimStation.wait)
    assert status(tid) == {"ongoingIndicator": False, "messagesInQueue": True}


@pytest.mark.slow
def test_TC_E_51_TC_E_41_transaction_event_retries(csms, station):
    """MessageAttempts 3, MessageAttemptInterval 1 s: a Started answered InternalError
    twice is sent a third time and delivered (TC_E_51); an Ended never answered is
    sent three times, then given up and the queue moves on (TC_E_41)."""
    st = station("2.0.1", extra=("--set", "MessageTimeout=1"))     # read-only over OCPP (TC_B_39)
    link = accepted(csms, st)
    _set(link, "OCPPCommCtrlr", "MessageAttempts", "3", "TransactionEvent")
    _set(link, "OCPPCommCtrlr", "MessageAttemptInterval", "1", "TransactionEvent")
    tries = []

    def started_reply(p):
        if _started(p):
            tries.append(p["seqNo"])
            if len(tries) < 3:
                return CallErrorReply("InternalError", "try again")
        return NO_REPLY if _ended(p) else None

    link.set_reply("TransactionEvent", started_reply)
    st.cmd("plug 1")
    st.wait(lambda s: s["evses"][0]["relay"] and len(tries) == 3, what="the third try")
    st.cmd("unplug 1")
    st.wait(lambda s: s["evses"][0]["tx_id"] is None and s["tx_queue"] == 0, timeout=30, what="given up")
    ends = [p for p in sent(link, "TransactionEvent") if _ended(p)]
    assert len(ends) == 3 and len({p["seqNo"] for p in ends}) == 1
    assert tries == [0, 0, 0]
    link.set_reply("TransactionEvent", None)
    st.cmd("plug 1")                                # the queue moved on: a new transaction goes out
    n = len(link.received)
    link.wait_for("TransactionEvent", _started, after=n, timeout=15)


def test_TC_E_44_TC_E_45_stopped_while_offline(tmp_path):
    """Two transactions started online; the CSMS goes away. EVSE 1's is stopped by its
    own card (TC_E_44), EVSE 2's by another card of the same group from the cache
    (TC_E_45); both unplugged. After the reconnect every queued TransactionEvent is
    flagged offline and both Ended events are among them."""
    port = free_port()
    st = SimStation("ws://127.0.0.1:%d/ocpp" % port, "OFFE44", "2.0.1", tmp_path, evses=2,
                    extra=("--auth", "ocpp", "--set", "RetryBackOffWaitMinimum=1",
                           "--set", "RetryBackOffRandomRange=0", "--set", "RetryBackOffRepeatTimes=0"))
    group = {"idTokenInfo": {"status": "Accepted", "groupIdToken": {"idToken": "GROUP45", "type": "Central"}}}
    try:
        with CsmsThread(host="127.0.0.1", port=port) as csms:
            csms.set_reply("Authorize", group, version="2.0.1")
            csms.set_reply("TransactionEvent", lambda p: group if p.get("idToken") else {}, version="2.0.1")
            st.start()
            link = accepted(csms, st)
            st.cmd("plug 2")
            st.cmd("tag 2 CARD45B")                    # cached with its group
            st.wait(lambda s: s["evses"][1]["relay"], what="evse 2 charging")
            st.cmd("tag 2 CARD45B")
            st.wait(lambda s: s["evses"][1]["tx_id"] is None, what="stopped")   # before the unplug
            st.cmd("unplug 2")
            st.wait(lambda s: s["evses"][1]["state"] == "Idle", what="idle")
            st.cmd("plug 1")
            st.cmd("tag 1 CARD44")
            st.wait(lambda s: s["evses"][0]["relay"], what="evse 1 charging")
            st.cmd("plug 2")
            st.cmd("tag 2 CARD45A")
            # EnergyTransferStarted on both, every event of it delivered online
            st.wait(lambda s: all(e["state"] == "Charging" for e in s["evses"]), what="both charging")
            st.wait(lambda s: s["tx_queue"] == 0, what="delivered")
        st.wait(lambda s: not s["connected"], what="offline")
        st.cmd("tag 1 CARD44")
        st.wait(lambda s: not s["evses"][0]["relay"], what="evse 1 stopped")
        st.cmd("unplug 1")
        st.cmd("tag 2 CARD45B")
        st.wait(lambda s: not s["evses"][1]["relay"], what="evse 2 stopped by the group")
        st.cmd("unplug 2")
        st.wait(lambda s: all(e["tx_id"] is None for e in s["evses"]), what="both ended")
        with CsmsThread(host="127.0.0.1", port=port) as csms:
            link = csms.station("OFFE44", timeout=30)
            st.wait(lambda s: s["connected"] and s["tx_queue"] == 0, timeout=30, what="delivered")
            evs = sent(link, "TransactionEvent")
            ends = [p for p in evs if _ended(p)]
            assert len(ends) == 2 and all(p.get("offline") is True for p in evs), evs
            assert [p["triggerReason"] for p in ends] == ["StopAuthorized"] * 2
            assert [p["idToken"]["idToken"] for p in ends if "idToken" in p] == ["CARD45B"]
            assert link.violations == []
    finally:
        st.stop()
