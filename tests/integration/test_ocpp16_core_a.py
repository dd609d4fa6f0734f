"""OCPP 1.6 Core cases (issue 18, share a) against the dev CSMS (`ocpp` v16, schema
validation): identification first, stop by the same/parent idTag, EV-side disconnect,
cached id, remote start with the cable first / timed out, resets, unlock."""
from tests.integration.conftest import accepted, roundtrip, sent


def _status(link, status, connector=1, after=0):
    return link.wait_for("StatusNotification", lambda p: p["connectorId"] == connector and
                         p["status"] == status, timeout=15, after=after)


def test_TC_004_1_TC_068_TC_069_TC_061_TC_007_identification_first_and_stop_tags(csms, station):
    st = station("1.6", extra=("--auth", "ocpp"))
    link = accepted(csms, st)
    link.set_reply("Authorize", lambda p: {"idTagInfo": {"status": "Accepted", "parentIdTag": "PARENT1"}})
    # TC_004_1: the tag first, then the cable
    st.cmd("tag 1 CARD0401")
    assert link.wait_for("Authorize")["idTag"] == "CARD0401"
    st.cmd("plug 1")
    start = link.wait_for("StartTransaction", timeout=15)
    assert start["idTag"] == "CARD0401" and start["connectorId"] == 1
    _status(link, "Charging")
    st.wait(lambda s: s["evses"][0]["relay"], what="charging")
    # TC_068: the same idTag stops it
    st.cmd("tag 1 CARD0401")
    stop = link.wait_for("StopTransaction", timeout=15)
    assert stop["reason"] == "Local" and stop["idTag"] == "CARD0401"
    _status(link, "Finishing")
    st.cmd("unplug 1")
    _status(link, "Available")
    # TC_069: another idTag with the same parentIdTag stops it
    st.cmd("plug 1")
    st.cmd("tag 1 CARD0691")
    link.wait_for("StartTransaction", lambda p: p["idTag"] == "CARD0691", timeout=15)
    st.wait(lambda s: s["evses"][0]["relay"], what="charging")
    st.cmd("tag 1 CARD0692")
    stop = link.wait_for("StopTransaction", lambda p: p.get("idTag") == "CARD0692", timeout=15)
    assert stop["reason"] == "Local"
    st.wait(lambda s: not s["evses"][0]["relay"], what="relay open")
    st.cmd("unplug 1")
    st.wait(lambda s: s["evses"][0]["state"] == "Idle", what="idle")
    # TC_007: a cached id starts without an Authorize (LocalPreAuthorize)
    for k in ("AuthorizationCacheEnabled", "LocalPreAuthorize"):
        assert link.call("ChangeConfiguration", {"key": k, "value": "true"})["status"] == "Accepted"
    n = len(link.received)
    st.cmd("plug 1")
    st.cmd("tag 1 CARD0401")
    link.wait_for("StartTransaction", after=n, timeout=15)
    assert "Authorize" not in [a for a, _ in link.received[n:]]
    st.cmd("tag 1 CARD0401")
    assert link.wait_for("StopTransaction", after=n, timeout=15)["idTag"] == "CARD0401"
    st.cmd("unplug 1")
    st.wait(lambda s: s["evses"][0]["state"] == "Idle", what="idle")
    # TC_061: ClearCache empties it: the same card needs an Authorize again (after a
    # round trip: the StopTransaction.conf's idTagInfo, which refreshes the cache, is in)
    roundtrip(link)
    assert link.call("ClearCache", {})["status"] == "Accepted"
    n = len(link.received)
    st.cmd("tag 1 CARD0401")
    assert link.wait_for("Authorize", after=n, timeout=15)["idTag"] == "CARD0401"


def test_TC_004_2_TC_011_2_TC_010_TC_017_1_TC_018_1_timeouts_remote_start_and_unlock(csms, station):
    st = station("1.6", extra=("--auth", "ocpp", "--set", "ConnectionTimeOut=2"))
    link = accepted(csms, st)
    # TC_004_2: the tag, no cable within ConnectionTimeOut: back to Available, no transaction
    n = len(link.received)
    st.cmd("tag 1 CARD0042")
    link.wait_for("Authorize", after=n)
    _status(link, "Preparing")
    link.wait_for("StatusNotification", lambda p: p["status"] == "Available", after=n, timeout=15)
    # TC_011_2: a remote start, no cable within ConnectionTimeOut
    n = len(link.received)
    assert link.call("RemoteStartTransaction", {"connectorId": 1, "idTag": "REMOTE112"})["status"] == "Accepted"
    link.wait_for("StatusNotification", lambda p: p["status"] == "Preparing", after=n, timeout=15)
    link.wait_for("StatusNotification", lambda p: p["status"] == "Available", after=n, timeout=15)
    assert not sent(link, "StartTransaction")
    # TC_017_1: unlock with no session
    assert link.call("UnlockConnector", {"connectorId": 1})["status"] == "Unlocked"
    # TC_010: the cable first, then the remote start
    n = len(link.received)
    st.cmd("plug 1")
    link.wait_for("StatusNotification", lambda p: p["status"] == "Preparing", after=n, timeout=15)
    assert link.call("RemoteStartTransaction", {"connectorId": 1, "idTag": "REMOTE10"})["status"] == "Accepted"
    start = link.wait_for("StartTransaction", timeout=15)
    assert start["idTag"] == "REMOTE10" and start["connectorId"] == 1
    _status(link, "Charging")
    st.wait(lambda s: s["evses"][0]["relay"] and s["evses"][0]["lock"], what="charging, locked")
    # TC_018_1: unlock during the session ends it (UnlockCommand) and unlocks
    assert link.call("UnlockConnector", {"connectorId": 1})["status"] == "Unlocked"
    stop = link.wait_for("StopTransaction", timeout=15)
    assert stop["reason"] == "UnlockCommand" and stop["transactionId"] == 1
    s = st.wait(lambda s: not s["evses"][0]["relay"], what="relay open")["evses"][0]
    assert not s["lock"]
    _status(link, "Finishing")


def test_TC_005_1_TC_005_2_ev_side_disconnect_stops_and_unlocks_as_configured(csms, station):
    st = station("1.6", extra=("--auth", "ocpp"))
    link = accepted(csms, st)
    for unlock, tid in (("true", 1), ("false", 2)):
        n = len(link.received)
        assert link.call("ChangeConfiguration", {"key": "StopTransactionOnEVSideDisconnect",
                                                 "value": "true"})["status"] == "Accepted"
        assert link.call("ChangeConfiguration", {"key": "UnlockConnectorOnEVSideDisconnect",
                                                 "value": unlock})["status"] == "Accepted"
        st.cmd("plug 1")
        st.cmd("tag 1 CARD0005")
        st.wait(lambda s: s["evses"][0]["relay"] and s["evses"][0]["lock"], what="charging, locked")
        st.cmd("unplug 1")
        stop = link.wait_for("StopTransaction", lambda p: p["transactionId"] == tid, timeout=15)
        assert stop["reason"] == "EVDisconnected"
        s = st.wait(lambda s: not s["evses"][0]["relay"] and s["evses"][0]["tx_id"] is None,
                    what="stopped")["evses"][0]
        if unlock == "true":                           # TC_005_1: unlocked
            st.wait(lambda s: not s["evses"][0]["lock"], what="unlocked")
        else:                                          # TC_005_2: the cable stays locked
            assert s["lock"] is True
            assert link.call("UnlockConnector", {"connectorId": 1})["status"] == "Unlocked"
            st.wait(lambda s: not s["evses"][0]["lock"], what="unlocked by the CSMS")
        _status(link, "Available", after=n)


def _reset(csms, st, link, kind):
    assert link.call("Reset", {"type": kind})["status"] == "Accepted"
    link.wait_closed(timeout=30)
    link2 = csms.station(st.ident, newer_than=link, timeout=30)
    link2.wait_for("BootNotification", timeout=30)
    return link2


def test_TC_013_TC_014_TC_015_resets_without_and_with_a_transaction(csms, station):
    st = station("1.6", extra=("--auth", "ocpp"))
    link = accepted(csms, st)
    for kind in ("Hard", "Soft"):                      # TC_013, TC_014: no transaction
        link = _reset(csms, st, link, kind)
        _status(link, "Available")
        assert not sent(link, "StopTransaction")
    # TC_015: a hard reset ends the running transaction first (HardReset)
    st.cmd("plug 1")
    st.cmd("tag 1 CARD0015")
    start = link.wait_for("StartTransaction", timeout=15)
    st.wait(lambda s: s["evses"][0]["relay"], what="charging")
    assert link.call("Reset", {"type": "Hard"})["status"] == "Accepted"
    stop = link.wait_for("StopTransaction", timeout=30)
    assert stop["reason"] == "HardReset" and stop["idTag"] == "CARD0015"
    assert stop["meterStop"] >= start["meterStart"]
    link.wait_closed(timeout=30)
    link2 = csms.station(st.ident, newer_than=link, timeout=30)
    link2.wait_for("BootNotification", timeout=30)
    link2.wait_for("StatusNotification", timeout=15)
    assert not sent(link2, "StopTransaction")
