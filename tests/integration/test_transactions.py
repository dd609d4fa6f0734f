"""Transactions end to end against the dev CSMS (OCPP 1.6 TC_003/004/010/011/012,
TC_032/034 power failure, TC_036-039 offline; OCPP 2.0.1 E01-E07, E11-E13, F01/F03,
TC_E_40/43 offline flag and seqNo)."""
import time

import pytest

from tests.integration.conftest import accepted, roundtrip, sent
from tools.csms import CsmsThread
from tools.harness.simctl import SimStation

VERSIONS = ("1.6", "2.0.1")




def _sample_every_second(link, version):
    if version == "1.6":
        assert link.call("ChangeConfiguration", {"key": "MeterValueSampleInterval", "value": "1"})["status"] == "Accepted"
    else:
        res = link.call("SetVariables", {"setVariableData": [{"component": {"name": "SampledDataCtrlr"},
                        "variable": {"name": "TxUpdatedInterval"}, "attributeValue": "1"}]})
        assert res["setVariableResult"][0]["attributeStatus"] == "Accepted"


def _tx_events(link):
    return [p for a, p in link.received if a == "TransactionEvent"]


def _check_201_sequence(events):
    """seqNo from 0, strictly increasing per transaction; one Started, one Ended."""
    by_tx = {}
    for p in events:
        by_tx.setdefault(p["transactionInfo"]["transactionId"], []).append(p)
    for tid, evs in by_tx.items():
        seqs = [p["seqNo"] for p in evs]
        assert seqs == list(range(len(seqs))), (tid, seqs)
        kinds = [p["eventType"] for p in evs]
        assert kinds[0] == "Started" and kinds[-1] == "Ended" and kinds.count("Started") == 1 \
            and kinds.count("Ended") == 1, kinds
    return by_tx


@pytest.mark.smoke
@pytest.mark.parametrize("version", VERSIONS)
def test_free_charging_session_is_a_transaction(csms, station, version):
    st = station(version)
    link = accepted(csms, st)
    _sample_every_second(link, version)
    st.cmd("plug 1")
    st.wait(lambda s: s["evses"][0]["relay"], what="charging")
    # a periodic sample of the transaction a whole Wh (meterStop's unit) above the start
    if version == "1.6":
        w0 = link.wait_for("StartTransaction")["meterStart"]
        link.wait_for("MeterValues", lambda p: "transactionId" in p and
                      float(p["meterValue"][0]["sampledValue"][0]["value"]) >= w0 + 1, timeout=20)
    else:
        link.wait_for("TransactionEvent", lambda p: p["triggerReason"] == "MeterValuePeriodic",
                      timeout=20)
    st.cmd("unplug 1")
    if version == "1.6":
        stop = link.wait_for("StopTransaction", timeout=10)
        start = sent(link, "StartTransaction")[0]
        assert start["connectorId"] == 1 and start["idTag"] == "FreeCharging"
        assert stop["reason"] == "EVDisconnected" and stop["meterStop"] > start["meterStart"]
        txid = 1                                   # the dev CSMS numbers from 1
        assert stop["transactionId"] == txid
        mvs = [p for p in sent(link, "MeterValues") if "transactionId" in p]
        assert mvs and all(p["transactionId"] == txid for p in mvs)
    else:
        link.wait_for("TransactionEvent", lambda p: p["eventType"] == "Ended", timeout=10)
        by_tx = _check_201_sequence(_tx_events(link))
        (evs,) = by_tx.values()
        assert evs[-1]["transactionInfo"]["stoppedReason"] == "EVDisconnected"
        assert any(p["triggerReason"] == "MeterValuePeriodic" for p in evs)
        assert not any(p.get("offline") for p in evs)


@pytest.mark.parametrize("version", VERSIONS)
def test_TC_E_03_06_TC_003_local_start_with_tag_and_local_stop(csms, station, version):
    st = station(version, extra=("--auth", "ocpp"))
    link = accepted(csms, st)
    st.cmd("plug 1")
    st.wait(lambda s: s["evses"][0]["ocpp_status"] in ("Preparing", "Occupied"), what="plugged")
    assert not st.evse(1)["relay"]
    st.cmd("tag 1 CARD0001")
    link.wait_for("Authorize")
    st.wait(lambda s: s["evses"][0]["relay"], what="charging after the tag")
    st.cmd("tag 1 CARD0001")                       # the same card stops it
    if version == "1.6":
        stop = link.wait_for("StopTransaction", timeout=10)
        assert stop["reason"] == "Local" and stop["idTag"] == "CARD0001"
        assert sent(link, "StartTransaction")[0]["idTag"] == "CARD0001"
    else:
        end = link.wait_for("TransactionEvent", lambda p: p["eventType"] == "Ended", timeout=10)
        assert end["transactionInfo"]["stoppedReason"] == "Local"
        _check_201_sequence(_tx_events(link))
    st.wait(lambda s: not s["evses"][0]["relay"], what="relay open after the stop")


@pytest.mark.parametrize("version", VERSIONS)
def test_TC_F_08_TC_011_1_TC_012_TC_028_remote_start_and_stop(csms, station, version):
    st = station(version, extra=("--auth", "ocpp"))
    link = accepted(csms, st)
    if version == "1.6":
        assert link.call("RemoteStartTransaction", {"connectorId": 1, "idTag": "REMOTE1"})["status"] == "Accepted"
    else:
        res = link.call("RequestStartTransaction", {"evseId": 1, "remoteStartId": 42,
                                                    "idToken": {"idToken": "REMOTE1", "type": "Central"}})
        assert res["status"] == "Accepted"
    st.cmd("plug 1")
    st.wait(lambda s: s["evses"][0]["relay"], what="charging after remote start")
    if version == "1.6":
        link.wait_for("StartTransaction")
        assert link.call("RemoteStopTransaction", {"transactionId": 1})["status"] == "Accepted"
        assert link.call("RemoteStopTransaction", {"transactionId": 999})["status"] == "Rejected"
        stop = link.wait_for("StopTransaction", timeout=10)
        assert stop["reason"] == "Remote"
    else:
        started = link.wait_for("TransactionEvent", lambda p: p["eventType"] == "Started")
        assert started["transactionInfo"].get("remoteStartId") == 42
        tid = started["transactionInfo"]["transactionId"]
        st_res = link.call("GetTransactionStatus", {"transactionId": tid})
        assert st_res["ongoingIndicator"] is True
        assert link.call("RequestStopTransaction", {"transactionId": tid})["status"] == "Accepted"
        end = link.wait_for("TransactionEvent", lambda p: p["eventType"] == "Ended", timeout=10)
        assert end["transactionInfo"]["stoppedReason"] == "Remote"
    st.wait(lambda s: not s["evses"][0]["relay"], what="relay open")


@pytest.mark.parametrize("version", VERSIONS)
def test_TC_J_02_clock_aligned_data_in_transaction(csms, station, version):
    """1.6 ClockAlignedDataInterval + StopTxnAlignedData: clock-aligned MeterValues of a
    running transaction carry its transactionId (through the journal) and the aligned
    samples end up in StopTransaction.transactionData. 2.0.1 E02/J01: TransactionEvent
    Updated, triggerReason MeterValueClock, Sample.Clock; TxEndedMeasurands in Ended."""
    st = station(version)
    link = accepted(csms, st)
    if version == "1.6":
        for k, v in (("ClockAlignedDataInterval", "2"), ("StopTxnAlignedData", "Energy.Active.Import.Register")):
            assert link.call("ChangeConfiguration", {"key": k, "value": v})["status"] == "Accepted"
    else:
        res = link.call("SetVariables", {"setVariableData": [
            {"component": {"name": "AlignedDataCtrlr"}, "variable": {"name": "Interval"}, "attributeValue": "2"},
            {"component": {"name": "AlignedDataCtrlr"}, "variable": {"name": "TxEndedMeasurands"},
             "attributeValue": "Energy.Active.Import.Register"}]})
        assert [r["attributeStatus"] for r in res["setVariableResult"]] == ["Accepted", "Accepted"]
    st.cmd("plug 1")
    st.wait(lambda s: s["evses"][0]["state"] == "Charging", what="charging")
    if version == "1.6":                # two clock-aligned samples of the transaction
        n = link.wait_for("MeterValues", lambda p: p.get("transactionId") is not None and
                          p["meterValue"][0]["sampledValue"][0].get("context") == "Sample.Clock",
                          timeout=20)
        link.wait_for("MeterValues", lambda p: p is not n and p.get("transactionId") is not None
                      and p["meterValue"][0]["sampledValue"][0].get("context") == "Sample.Clock",
                      timeout=20)
    else:
        n = link.wait_for("TransactionEvent", lambda p: p["triggerReason"] == "MeterValueClock",
                          timeout=20)
        link.wait_for("TransactionEvent", lambda p: p is not n and
                      p["triggerReason"] == "MeterValueClock", timeout=20)
    st.cmd("unplug 1")
    if version == "1.6":
        stop = link.wait_for("StopTransaction", timeout=10)
        clock = [p for p in sent(link, "MeterValues") if p.get("transactionId") is not None
                 and p["meterValue"][0]["sampledValue"][0].get("context") == "Sample.Clock"]
        assert len(clock) >= 2 and all(p["transactionId"] == stop["transactionId"] for p in clock)
        ctx = [mv["sampledValue"][0].get("context") for mv in stop["transactionData"]]
        assert ctx.count("Sample.Clock") >= 2 and ctx[-1] == "Transaction.End"
        start = sent(link, "StartTransaction")[0]
        # connector 1's aligned values during the transaction all went with it
        assert not [p for p in sent(link, "MeterValues") if p["connectorId"] == 1 and
                    p.get("transactionId") is None and
                    p["meterValue"][0]["sampledValue"][0].get("context") == "Sample.Clock" and
                    start["timestamp"] < p["meterValue"][0]["timestamp"] < stop["timestamp"]]
    else:
        end = link.wait_for("TransactionEvent", lambda p: p["eventType"] == "Ended", timeout=10)
        evs = [p for p in sent(link, "TransactionEvent")
               if p["transactionInfo"]["transactionId"] == end["transactionInfo"]["transactionId"]]
        clock = [p for p in evs if p["triggerReason"] == "MeterValueClock"]
        assert len(clock) >= 2
        assert all(p["meterValue"][0]["sampledValue"][0]["context"] == "Sample.Clock" for p in clock)
        ctx = [mv["sampledValue"][0]["context"] for mv in end["meterValue"]]
        assert ctx.count("Sample.Clock") >= 2 and ctx[-1] == "Transaction.End"
        _check_201_sequence(evs)


@pytest.mark.parametrize("version", VERSIONS)
def test_TC_E_26_TC_005_3_ev_side_disconnect_keeps_transaction_when_configured(csms, station, version):
    """1.6 3.6 StopTransactionOnEVSideDisconnect=false, UnlockConnectorOnEVSideDisconnect
    =false / 2.0.1 TxCtrlr.StopTxOnEVSideDisconnect=false: unplugging at the EV keeps
    the transaction (no power, connector still locked); replugging resumes it; a remote
    stop ends it. With the defaults (true) an unplug ends it: EVDisconnected."""
    st = station(version)
    link = accepted(csms, st)
    if version == "1.6":
        for key in ("StopTransactionOnEVSideDisconnect", "UnlockConnectorOnEVSideDisconnect"):
            assert link.call("ChangeConfiguration", {"key": key, "value": "false"})["status"] == "Accepted"
    else:
        # TxStopPoint Authorized only: EVConnected (the default's) would end it (TC_E_20)
        res = link.call("SetVariables", {"setVariableData": [{"component": {"name": "TxCtrlr"},
                        "variable": {"name": "StopTxOnEVSideDisconnect"}, "attributeValue": "false"},
                        {"component": {"name": "TxCtrlr"}, "variable": {"name": "TxStopPoint"},
                         "attributeValue": "Authorized"}]})
        assert [r["attributeStatus"] for r in res["setVariableResult"]] == ["Accepted"] * 2
    st.cmd("plug 1")
    st.wait(lambda s: s["evses"][0]["state"] == "Charging", what="charging")
    tx = st.evse(1)["tx_id"]
    st.cmd("unplug 1")
    s = st.wait(lambda s: s["evses"][0]["state"] == "ChargingPausedEV", what="held")
    # what the station told the CSMS of the unplug, then a round trip: all of it is in
    if version == "1.6":
        assert link.wait_for("StatusNotification", lambda p: p["status"] == "SuspendedEV")
    else:
        upd = link.wait_for("TransactionEvent", lambda p: p["transactionInfo"].get("chargingState") == "Idle")
        assert upd["eventType"] == "Updated"
    roundtrip(link)
    e = st.evse(1)
    assert e["tx_id"] == tx and not e["relay"] and e["pwm"] == "x1"
    if version == "1.6":
        assert e["lock"] is True                       # UnlockConnectorOnEVSideDisconnect=false
        assert sent(link, "StopTransaction") == []
    else:
        assert not [p for p in sent(link, "TransactionEvent") if p["eventType"] == "Ended"]
    st.cmd("plug 1")
    st.wait(lambda s: s["evses"][0]["state"] == "Charging" and s["evses"][0]["relay"], what="resumed")
    assert st.evse(1)["tx_id"] == tx
    if version == "1.6":
        tid = link.wait_for("StartTransaction") and 1
        assert len(sent(link, "StartTransaction")) == 1
        assert link.call("RemoteStopTransaction", {"transactionId": tid})["status"] == "Accepted"
        assert link.wait_for("StopTransaction", timeout=10)["reason"] == "Remote"
    else:
        started = [p for p in sent(link, "TransactionEvent") if p["eventType"] == "Started"]
        assert len(started) == 1
        tid = started[0]["transactionInfo"]["transactionId"]
        assert link.call("RequestStopTransaction", {"transactionId": tid})["status"] == "Accepted"
        end = link.wait_for("TransactionEvent", lambda p: p["eventType"] == "Ended", timeout=10)
        assert end["transactionInfo"]["stoppedReason"] == "Remote"
    st.cmd("unplug 1")
    st.wait(lambda s: s["evses"][0]["state"] == "Idle" and not s["evses"][0]["lock"], what="idle, unlocked")


@pytest.mark.slow
@pytest.mark.parametrize("version", VERSIONS)
def test_TC_E_40_TC_036_TC_039_offline_sessions_delivered_in_order(tmp_path, version):
    """TC_036-039 / TC_E_40: sessions while the CSMS is unreachable are all delivered
    after it comes back, in order, (2.0.1) flagged offline with seqNo intact."""
    from tools.harness.simctl import free_port
    port = free_port()
    st = SimStation("ws://127.0.0.1:%d/ocpp" % port, "OFF1", version, tmp_path,
                    extra=("--set", "RetryBackOffRepeatTimes=0"))
    try:
        st.start()
        for _ in range(3):
            st.cmd("plug 1")
            # the firmware's own view: a replug faster than the pilot debounce would
            # merge two sessions into one
            st.wait(lambda s: s["evses"][0]["relay"] and s["evses"][0]["state"] == "Charging"
                    and s["evses"][0]["tx_id"], what="charging offline")
            st.cmd("unplug 1")
            st.wait(lambda s: s["evses"][0]["state"] == "Idle" and s["evses"][0]["tx_id"] is None,
                    what="unplugged, transaction ended")
        with CsmsThread(host="127.0.0.1", port=port) as csms:
            link = csms.station("OFF1", timeout=30)
            if version == "1.6":
                link.wait_for("StopTransaction", lambda p: p["transactionId"] == 3, timeout=30)
                starts = sent(link, "StartTransaction")
                stops = sent(link, "StopTransaction")
                assert len(starts) == 3 and [p["transactionId"] for p in stops] == [1, 2, 3]
                assert all(p["reason"] == "EVDisconnected" for p in stops)
            else:
                deadline = time.monotonic() + 30
                while time.monotonic() < deadline:
                    ends = [p for p in _tx_events(link) if p["eventType"] == "Ended"]
                    if len(ends) == 3:
                        break
                    time.sleep(0.2)
                by_tx = _check_201_sequence(_tx_events(link))
                assert len(by_tx) == 3
                assert all(p.get("offline") is True for p in _tx_events(link))
            assert link.violations == []
    finally:
        st.stop()


@pytest.mark.parametrize("version", VERSIONS)
def test_TC_032_2_power_cut_mid_transaction_is_ended_after_restart(csms, tmp_path, version):
    """TC_032/034 / E: a SIGKILL while charging; the next boot on the same flash ends the
    transaction (PowerLoss) with the meter register as its end value."""
    st = SimStation(csms.url + "ocpp", "PC1", version, tmp_path)
    st.start()
    try:
        link = accepted(csms, st)
        st.cmd("plug 1")
        st.wait(lambda s: s["evses"][0]["relay"], what="charging")
        if version == "1.6":
            link.wait_for("StartTransaction")
        else:
            link.wait_for("TransactionEvent", lambda p: p["transactionInfo"].get("chargingState")
                          == "Charging")
        # the start (2.0.1: and the charging) delivered, its answer (1.6: the transaction
        # id) taken: a round trip after it
        roundtrip(link)
        st.wait(lambda s: s["tx_queue"] == 0, what="start acknowledged")
        st.kill()
        st2 = SimStation(csms.url + "ocpp", "PC1", version, tmp_path, flash=st.flash,
                         log_name="PC1-2.log")
        st2.start()
        try:
            link2 = csms.station("PC1", newer_than=link, timeout=20)
            if version == "1.6":
                stop = link2.wait_for("StopTransaction", timeout=20)
                assert stop["reason"] == "PowerLoss" and stop["transactionId"] == 1
            else:
                end = link2.wait_for("TransactionEvent", lambda p: p["eventType"] == "Ended", timeout=20)
                assert end["transactionInfo"]["stoppedReason"] == "PowerLoss"
                _check_201_sequence([p for a, p in link.received + link2.received if a == "TransactionEvent"])
        finally:
            st2.stop()
    finally:
        st.stop()


@pytest.mark.slow
def test_TC_E_50_retry_rules_internal_error_then_given_up(csms, station):
    """1.6 4.10 / errata 3.18 (2.0.1 E13, TC_E_41/42): a CSMS answering InternalError:
    TransactionMessageAttempts tries, the wait growing with each (RetryInterval x tries),
    then the message is given up and the queue moves on."""
    from tools.csms import CallErrorReply
    st = station("1.6")
    link = accepted(csms, st)
    for k, v in (("TransactionMessageAttempts", "3"), ("TransactionMessageRetryInterval", "1")):
        assert link.call("ChangeConfiguration", {"key": k, "value": v})["status"] == "Accepted"
    link.set_reply("StartTransaction", CallErrorReply("InternalError", "try later"))
    st.cmd("plug 1")
    times = []
    for i in range(3):
        link.wait_for("StartTransaction", after=0 if not times else times[-1][1] + 1, timeout=10)
        idx = [n for n, (a, _) in enumerate(link.received) if a == "StartTransaction"][-1]
        times.append((time.monotonic(), idx))
    gaps = [times[i + 1][0] - times[i][0] for i in range(2)]
    assert gaps[0] >= 0.8 and gaps[1] >= 1.8, gaps           # 1 s, then 2 s
    st.cmd("unplug 1")
    stop = link.wait_for("StopTransaction", timeout=10)          # the queue moved on
    assert stop["transactionId"] == -1                           # never learnt (1.6 errata)
    # the queue is in order: the stop after the start means the start was given up
    assert len(sent(link, "StartTransaction")) == 3              # given up after 3 tries


def test_TC_E_42_never_answered_then_delivered(csms, station):
    """A CSMS that never answers StartTransaction: retried after MessageTimeout, and
    delivered once it answers; later messages carry the real transactionId."""
    from tools.csms import NO_REPLY
    st = station("2.0.1", extra=("--set", "MessageTimeout=1"))     # read-only over OCPP (TC_B_39)
    link = accepted(csms, st)
    res = link.call("SetVariables", {"setVariableData": [
        {"component": {"name": "OCPPCommCtrlr"}, "variable": {"name": "MessageAttemptInterval", "instance": "TransactionEvent"},
         "attributeValue": "1"}]})
    assert [r["attributeStatus"] for r in res["setVariableResult"]] == ["Accepted"]
    link.set_reply("TransactionEvent", NO_REPLY)
    st.cmd("plug 1")
    link.wait_for("TransactionEvent")
    link.wait_for("TransactionEvent", after=len(link.received), timeout=8)   # the retry
    link.set_reply("TransactionEvent", None)
    st.cmd("unplug 1")
    end = link.wait_for("TransactionEvent", lambda p: p["eventType"] == "Ended", timeout=15)
    seqs = sorted({p["seqNo"] for p in _tx_events(link)})
    assert seqs == list(range(end["seqNo"] + 1))                 # a retry reuses its seqNo


def test_invalid_id_during_transaction_stops_it(csms, station):
    """StopTransactionOnInvalidId (1.6 5.x): StartTransaction answered Invalid ->
    the transaction is stopped with reason DeAuthorized."""
    st = station("1.6", extra=("--auth", "ocpp"))
    link = accepted(csms, st)
    link.set_reply("StartTransaction", {"transactionId": 77, "idTagInfo": {"status": "Invalid"}})
    st.cmd("plug 1")
    st.cmd("tag 1 BADCARD")
    stop = link.wait_for("StopTransaction", timeout=15)
    assert stop["reason"] == "DeAuthorized" and stop["transactionId"] == 77
    st.wait(lambda s: not s["evses"][0]["relay"], what="relay open")


@pytest.mark.slow
def test_clear_cache_leaves_journal_and_list(csms, station):
    """ClearCache clears the authorization cache and nothing else: queued transaction
    messages and the local list stay (MicroOcpp loses its journal here)."""
    from tools.csms import NO_REPLY
    st = station("1.6", extra=("--auth", "ocpp"))
    link = accepted(csms, st)
    assert link.call("SendLocalList", {"listVersion": 3, "updateType": "Full", "localAuthorizationList": [
        {"idTag": "LISTED", "idTagInfo": {"status": "Accepted"}}]})["status"] == "Accepted"
    link.set_reply("StartTransaction", NO_REPLY)
    st.cmd("plug 1")
    st.cmd("tag 1 CACHED1")
    link.wait_for("StartTransaction", timeout=10)
    assert link.call("ClearCache", {})["status"] == "Accepted"
    assert link.call("GetLocalListVersion", {})["listVersion"] == 3
    link.set_reply("StartTransaction", None)
    link.close(1000)                                   # the journal is replayed on the new link
    link2 = csms.station(st.ident, newer_than=link, timeout=30)
    start = link2.wait_for("StartTransaction", timeout=40)
    assert start["idTag"] == "CACHED1"


@pytest.mark.slow
@pytest.mark.parametrize("version", ("1.6", "2.0.1"))
def test_TC_E_43_TC_039_long_outage_200_sessions(tmp_path, version):
    """Issue 4 / OCTT TC_E_40-43, 1.6 TC_036-039: 200 complete sessions (4 EVSEs x 50)
    while the CSMS is unreachable, then it comes back: every transaction delivered once,
    in order per EVSE, (2.0.1) flagged offline with seqNo from 0 without gaps."""
    from tools.harness.simctl import free_port
    port = free_port()
    st = SimStation("ws://127.0.0.1:%d/ocpp" % port, "LONG", version, tmp_path, evses=4,
                    extra=("--set", "RetryBackOffRepeatTimes=0", "--set", "RetryBackOffRandomRange=1"))
    try:
        st.start()
        for _ in range(50):
            for k in range(1, 5):
                st.cmd("plug %d" % k)
            # the firmware's own view (not the world's relay/pilot): a replug faster than
            # the pilot debounce would merge two sessions into one
            st.wait(lambda s: all(e["state"] == "Charging" and e["tx_id"] for e in s["evses"]),
                    timeout=15, what="all charging")
            for k in range(1, 5):
                st.cmd("unplug %d" % k)
            st.wait(lambda s: all(e["state"] == "Idle" and e["tx_id"] is None for e in s["evses"]),
                    timeout=15, what="all ended")
        t0 = time.monotonic()
        with CsmsThread(host="127.0.0.1", port=port) as csms:
            link = csms.station("LONG", timeout=30)
            deadline = time.monotonic() + 240
            while time.monotonic() < deadline:
                act = "StopTransaction" if version == "1.6" else "TransactionEvent"
                done = [p for a, p in link.received if a == act and
                        (version == "1.6" or p["eventType"] == "Ended")]
                if len(done) >= 200:
                    break
                time.sleep(0.5)
            took = time.monotonic() - t0
            print("received %d messages, %d done, in %.1f s; station %s" % (
                len(link.received), len(done), took, st.status().get("connected")))
            assert link.violations == []
            if version == "1.6":
                starts, stops = sent(link, "StartTransaction"), sent(link, "StopTransaction")
                assert len(starts) == 200 and len(stops) == 200
                # per connector in order (across connectors the order of their ends)
                conn = {i + 1: p["connectorId"] for i, p in enumerate(starts)}   # CSMS ids 1, 2...
                for k in range(1, 5):
                    ids = [p["transactionId"] for p in stops if conn[p["transactionId"]] == k]
                    assert ids == sorted(ids) and len(ids) == 50
                assert len({p["transactionId"] for p in stops}) == 200 and -1 not in \
                    [p["transactionId"] for p in stops]
                for k in range(1, 5):
                    mine = [p for p in starts if p["connectorId"] == k]
                    assert len(mine) == 50
            else:
                by_tx = _check_201_sequence(_tx_events(link))
                assert len(by_tx) == 200
                assert all(p.get("offline") is True for p in _tx_events(link))
            assert link.violations == []
            print("delivered 200 offline sessions in %.1f s" % took)
    finally:
        st.stop()


@pytest.mark.slow
@pytest.mark.parametrize("version", VERSIONS)
def test_TC_037_1_offline_authorization_from_list_and_cache(tmp_path, version):
    """1.6 3.5 / 2.0.1 C12-C15 (LocalAuthorizeOffline, AllowOfflineTxForUnknownId=false):
    while the CSMS is unreachable a card on the local list and a card in the
    authorization cache (Accepted online before) start transactions; an unknown card
    does not. After the reconnect both transactions are delivered, flagged offline.
    Ids compare case-insensitively in both versions (1.6 idTag is a CiString20; 2.0.1
    IdTokenType.idToken "is case insensitive"): the list holds "list1", the card reads
    "LIST1", and "Cache1" stops the transaction "CACHE1" started."""
    from tools.harness.simctl import free_port
    port = free_port()
    st = SimStation("ws://127.0.0.1:%d/ocpp" % port, "OFFAUTH", version, tmp_path,
                    extra=("--auth", "ocpp", "--set", "RetryBackOffRepeatTimes=0",
                           "--set", "RetryBackOffWaitMinimum=1", "--set", "RetryBackOffRandomRange=0"))

    def session(tag, expect, stop_tag=None):
        st.cmd("plug 1")
        st.wait(lambda s: s["evses"][0]["state"] in ("WaitingForAuthentication", "PrepareCharging"),
                what="plugged")
        tags = st.status()["tags"]
        st.cmd("tag 1 %s" % tag)
        if expect:
            st.wait(lambda s: s["evses"][0]["state"] == "Charging", what="%s charging" % tag)
            st.cmd("tag 1 %s" % (stop_tag or tag))     # the same card stops it
            st.wait(lambda s: s["evses"][0]["state"] == "Finished" or not s["evses"][0]["relay"],
                    what="%s stopped" % tag)
        else:
            st.wait(lambda s: s["tags"] > tags, what="%s decided" % tag)
            assert st.evse(1)["state"] == "WaitingForAuthentication" and not st.evse(1)["relay"]
        st.cmd("unplug 1")
        st.wait(lambda s: s["evses"][0]["state"] == "Idle" and s["evses"][0]["tx_id"] is None,
                what="idle")

    try:
        with CsmsThread(host="127.0.0.1", port=port) as csms:
            st.start()
            link = accepted(csms, st)
            if version == "1.6":
                res = link.call("SendLocalList", {"listVersion": 1, "updateType": "Full", "localAuthorizationList": [
                    {"idTag": "list1", "idTagInfo": {"status": "Accepted"}}]})
            else:
                res = link.call("SendLocalList", {"versionNumber": 1, "updateType": "Full", "localAuthorizationList": [
                    {"idToken": {"idToken": "list1", "type": "ISO14443"}, "idTokenInfo": {"status": "Accepted"}}]})
            assert res["status"] == "Accepted"
            session("CACHE1", True)                      # online: Authorize, now cached
            link.wait_for("Authorize")
        st.wait(lambda s: not s["connected"], what="offline")
        session("LIST1", True)
        session("CACHE1", True, "Cache1")
        session("NOBODY", False)
        with CsmsThread(host="127.0.0.1", port=port) as csms:
            link = csms.station("OFFAUTH", timeout=30)
            st.wait(lambda s: s["connected"] and s["tx_queue"] == 0, timeout=30, what="delivered")
            assert sent(link, "Authorize") == []         # decided offline, not asked again
            if version == "1.6":
                assert [p["idTag"] for p in sent(link, "StartTransaction")] == ["LIST1", "CACHE1"]
            else:
                started = [p for p in _tx_events(link) if p["eventType"] in ("Started", "Updated")
                           and "idToken" in p]
                assert [p["idToken"]["idToken"] for p in started] == ["LIST1", "CACHE1"]
                assert all(p.get("offline") is True for p in _tx_events(link))
            assert link.violations == []
    finally:
        st.stop()


def _set_201(link, comp, var, value):
    res = link.call("SetVariables", {"setVariableData": [{"component": {"name": comp},
                    "variable": {"name": var}, "attributeValue": value}]})
    assert res["setVariableResult"][0]["attributeStatus"] == "Accepted", res


@pytest.mark.parametrize("point,trigger", [("EVConnected", "CablePluggedIn"),
                                           ("Authorized", "Authorized"),
                                           ("PowerPathClosed", "Authorized"),
                                           ("EnergyTransfer", "ChargingStateChanged")])
def test_TC_E_01_02_09_10_tx_start_points(csms, station, point, trigger):
    """E01-E03 / TC_E_01..: the transaction starts at the configured TxStartPoint, with
    the matching triggerReason; the card given after an EVConnected start is reported
    in an Updated event; one Started, one Ended, seqNo without gaps."""
    st = station("2.0.1", extra=("--auth", "ocpp"))
    link = accepted(csms, st)
    _set_201(link, "TxCtrlr", "TxStartPoint", point)
    if point == "Authorized":
        st.cmd("tag 1 CARD77")                        # the card first, then the cable
        link.wait_for("Authorize")
        started = link.wait_for("TransactionEvent", lambda p: p["eventType"] == "Started", timeout=10)
        assert st.evse(1)["plugged"] is False
        st.cmd("plug 1")
    else:
        st.cmd("plug 1")
        st.wait(lambda s: s["evses"][0]["state"] == "WaitingForAuthentication", what="plugged")
        if point == "EVConnected":
            link.wait_for("TransactionEvent", lambda p: p["eventType"] == "Started", timeout=10)
        # (any other point: the first Started is the card's, its triggerReason below)
        st.cmd("tag 1 CARD77")
        started = link.wait_for("TransactionEvent", lambda p: p["eventType"] == "Started", timeout=10)
    assert started["triggerReason"] == trigger, started
    st.wait(lambda s: s["evses"][0]["state"] == "Charging", what="charging")
    st.cmd("unplug 1")
    end = link.wait_for("TransactionEvent", lambda p: p["eventType"] == "Ended", timeout=10)
    assert end["transactionInfo"]["stoppedReason"] == "EVDisconnected"
    evs = _check_201_sequence(_tx_events(link))
    assert len(evs) == 1
    tokens = [p["idToken"]["idToken"] for p in _tx_events(link) if "idToken" in p]
    assert tokens == ["CARD77"]


def test_tx_stop_point_ev_connected_only(csms, station):
    """TxStopPoint=EVConnected: stopping with the card stops charging but the transaction
    ends only at the unplug, with the reason of the stop (Local)."""
    st = station("2.0.1", extra=("--auth", "ocpp"))
    link = accepted(csms, st)
    _set_201(link, "TxCtrlr", "TxStopPoint", "EVConnected")
    st.cmd("plug 1")
    st.cmd("tag 1 CARD78")
    st.wait(lambda s: s["evses"][0]["state"] == "Charging", what="charging")
    n = len(link.received)
    st.cmd("tag 1 CARD78")
    st.wait(lambda s: not s["evses"][0]["relay"], what="stopped")
    # the card's stop reported (charging no more), then a round trip: all of it is in
    link.wait_for("TransactionEvent", lambda p: p["transactionInfo"].get("chargingState")
                  not in (None, "Charging"), timeout=10, after=n)
    roundtrip(link)
    assert not [p for p in _tx_events(link) if p["eventType"] == "Ended"]
    n = len(link.received)
    st.cmd("unplug 1")
    end = link.wait_for("TransactionEvent", lambda p: p["eventType"] == "Ended", timeout=10,
                        after=n)
    assert end["transactionInfo"]["stoppedReason"] == "Local"
    _check_201_sequence(_tx_events(link))


@pytest.mark.parametrize("version", VERSIONS)
def test_no_memory_for_journal_writes_loses_no_transaction(csms, station, version):
    """A heap too fragmented for littlefs's file buffer (`nomem N`: the next N journal
    opens raise MemoryError, as a board's heap does): the start and the end are tried
    again until they are journaled; the control loop and the transaction task keep
    running, and the next session is a transaction too. A failure that hits the OCPP
    worker's own flash access costs a reconnect (quick here), not a message: the
    messages are counted over every link."""
    st = station(version, extra=("--set", "RetryBackOffWaitMinimum=1",
                                 "--set", "RetryBackOffRandomRange=0"))
    link = accepted(csms, st)
    _sample_every_second(link, version)

    def all_sent(action):
        # a message whose delivery the station could not write down (the worker's flash
        # access failed) is sent again, identical, on the next link: at least once
        out = []
        for ln in csms.links(st.ident):
            for a, p in ln.received:
                if a == action and p not in out[-1:]:
                    out.append(p)
        return out

    def until(cond, what):
        deadline = time.monotonic() + 60        # a bound for a lost message only
        while not cond():
            assert time.monotonic() < deadline, "timeout waiting for %s\n%s" % (what, st.log())
            time.sleep(0.05)

    def ends():
        if version == "1.6":
            return len(all_sent("StopTransaction"))
        return len([p for p in all_sent("TransactionEvent") if p["eventType"] == "Ended"])

    st.cmd("nomem 4")                   # the start: one put's three tries and one more
    st.cmd("plug 1")
    st.wait(lambda s: s["evses"][0]["relay"], what="charging")
    st.wait(lambda s: s["nomem_hits"] == 4, what="every injected failure hit")
    # the start journaled and delivered, and (1.6) a sample a whole Wh (meterStop's unit)
    # above it, before the next failures are armed
    if version == "1.6":
        until(lambda: all_sent("StartTransaction"), "the start")
        w0 = all_sent("StartTransaction")[0]["meterStart"]
        until(lambda: [p for p in all_sent("MeterValues") if "transactionId" in p and
                       float(p["meterValue"][0]["sampledValue"][0]["value"]) >= w0 + 1],
              "a sample a Wh above the start")
    else:
        until(lambda: [p for p in all_sent("TransactionEvent") if p["eventType"] == "Started"],
              "the start")
    st.wait(lambda s: s["tx_queue"] == 0 and s["connected"], timeout=60, what="start delivered")
    roundtrip(csms.links(st.ident)[-1])
    st.cmd("nomem 7")                   # the end (or a sample before it) fails 7 times
    st.cmd("unplug 1")
    st.wait(lambda s: s["nomem_hits"] == 11, what="every injected failure hit")
    lines = "\n".join(st.cmd("log 64")["lines"])
    assert "no memory for the flash write" in lines
    st.cmd("plug 1")                    # a second session afterwards
    st.wait(lambda s: s["evses"][0]["relay"], what="charging again")
    st.cmd("unplug 1")
    until(lambda: ends() == 2, "both sessions delivered")
    roundtrip(csms.links(st.ident)[-1])         # nothing more in flight
    if version == "1.6":
        starts = all_sent("StartTransaction")
        stops = all_sent("StopTransaction")
        assert len(starts) == 2 and len(stops) == 2
        assert [p["transactionId"] for p in stops] == [1, 2]
        assert stops[0]["meterStop"] > starts[0]["meterStart"]         # it charged a Wh
        assert stops[1]["meterStop"] >= starts[1]["meterStart"]
    else:
        by_tx = _check_201_sequence(all_sent("TransactionEvent"))
        assert len(by_tx) == 2
        for evs in by_tx.values():
            assert evs[-1]["transactionInfo"]["stoppedReason"] == "EVDisconnected"
        # no event lost (seqNo alone would not show it: an event never queued takes no
        # number): the unplug's Updated (the EV gone) came before each Ended, the failures
        # of the first one's journal write notwithstanding (Station.emit keeps the event)
        first, second = [[(p["eventType"], p["triggerReason"], p["transactionInfo"].get(
            "chargingState")) for p in evs if p["triggerReason"] != "MeterValuePeriodic"]
            for evs in by_tx.values()]
        assert ("Updated", "ChargingStateChanged", "Charging") in first, first
        for kinds in (first, second):
            assert kinds[-2] == ("Updated", "EVCommunicationLost", "Idle"), kinds
    assert not [v for ln in csms.links(st.ident) for v in ln.violations]
