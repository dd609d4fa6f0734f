"""OCTT 2.0.1 block C (authorization) cases against the dev CSMS, several cases on one
station where the steps chain. The cases covered elsewhere are named in their tests
(tests/integration/test_deviations.py: TC_C_04, 15, 16, 18, 34, 37, 38, 39, 42)."""
import pytest

from tests.integration.conftest import accepted, sent
from tools.csms import CsmsThread
from tools.harness.simctl import SimStation, free_port


def _started(p):
    return p["eventType"] == "Started"


def _ended(p):
    return p["eventType"] == "Ended"


def _authorizes(link, token):
    return len([p for p in sent(link, "Authorize") if p["idToken"]["idToken"] == token])


def _tx_events(link):
    return sent(link, "TransactionEvent")


def _set(link, component, variable, value):
    res = link.call("SetVariables", {"setVariableData": [{"component": {"name": component},
                    "variable": {"name": variable}, "attributeValue": value}]})
    assert res["setVariableResult"][0]["attributeStatus"] == "Accepted", res


@pytest.mark.slow
def test_TC_C_02_05_06_07_56_09_10_11_12_08_33_32_13_36_authorize_answers_and_the_cache(csms, station):
    """TxStartPoint PowerPathClosed (the default), LocalPreAuthorize=true, cache on.
    A token answered Invalid / Blocked / Expired / Unknown starts nothing (before the
    plug too: TC_C_05); cached so, presented again it is asked again (TC_C_09/10/11);
    answered Accepted now it starts (TC_C_12) and the cache holds Accepted
    (TC_C_33): the next time it starts from the cache without an Authorize although
    the CSMS would say Invalid (TC_C_08), also after a reboot and before the cable
    is plugged (TC_C_32, TC_C_13); with
    LocalPreAuthorize=false it is asked (and refused) again (TC_C_36)."""
    st = station("2.0.1", extra=("--auth", "ocpp", "--set", "LocalPreAuthorize=true"))
    link = accepted(csms, st)
    answers = {"INV": "Invalid", "BLK": "Blocked", "EXP": "Expired", "UNK": "Unknown"}
    reply = lambda p: {"idTokenInfo": {"status": answers[p["idToken"]["idToken"]]}}
    link.set_reply("Authorize", reply)

    def present(token, count=1):
        st.cmd("tag 1 " + token)
        st.wait_log("tag %s at evse 1: rejected" % token, count=count)

    present("INV")                                  # TC_C_05: before the cable
    st.cmd("plug 1")
    st.wait(lambda s: s["evses"][0]["state"] == "WaitingForAuthentication", what="plugged")
    for tok in ("BLK", "EXP", "UNK"):               # TC_C_06, TC_C_07, TC_C_56
        present(tok)
    present("INV", 2)                               # TC_C_02
    for tok in ("BLK", "EXP"):                      # cached refused: asked again
        present(tok, 2)
    assert [_authorizes(link, t) for t in ("INV", "BLK", "EXP", "UNK")] == [2, 2, 2, 1]
    assert _tx_events(link) == [] and not st.evse(1)["relay"]
    assert sent(link, "Authorize")[0]["idToken"] == {"idToken": "INV", "type": "ISO14443"}

    answers["INV"] = "Accepted"                     # TC_C_12
    st.cmd("tag 1 INV")
    started = link.wait_for("TransactionEvent", _started, timeout=15)
    assert started["idToken"]["idToken"] == "INV" and _authorizes(link, "INV") == 3
    st.wait(lambda s: s["evses"][0]["relay"], what="charging")

    def stop_and_unplug(lnk):
        n = len(lnk.received)
        st.cmd("tag 1 INV")
        end = lnk.wait_for("TransactionEvent", _ended, after=n, timeout=15)
        assert end["triggerReason"] == "StopAuthorized"
        st.cmd("unplug 1")
        st.wait(lambda s: s["evses"][0]["state"] == "Idle" and s["evses"][0]["tx_id"] is None, what="idle")

    stop_and_unplug(link)
    answers["INV"] = "Invalid"                      # TC_C_08, TC_C_33: from the cache
    st.cmd("plug 1")
    st.cmd("tag 1 INV")
    n = len(link.received)
    link.wait_for("TransactionEvent", _started, after=n, timeout=15)
    assert _authorizes(link, "INV") == 3
    stop_and_unplug(link)

    assert link.call("Reset", {"type": "Immediate"})["status"] == "Accepted"   # TC_C_32
    link.wait_closed(timeout=30)
    link2 = accepted(csms, st, newer_than=link)
    link2.set_reply("Authorize", reply)
    n = st.log_count("tag INV at evse 1: accepted")
    st.cmd("tag 1 INV")                             # TC_C_13: the card before the cable
    st.wait_log("tag INV at evse 1: accepted", count=n + 1)
    st.cmd("plug 1")
    link2.wait_for("TransactionEvent", _started, timeout=15)
    assert _authorizes(link2, "INV") == 0
    stop_and_unplug(link2)

    _set(link2, "AuthCtrlr", "LocalPreAuthorize", "false")                    # TC_C_36
    st.cmd("plug 1")
    n = len([p for p in _tx_events(link2) if _started(p)])
    present("INV", 1 + st.log_count("tag INV at evse 1: rejected"))
    assert _authorizes(link2, "INV") == 1
    assert len([p for p in _tx_events(link2) if _started(p)]) == n


def test_TC_C_41_TC_C_44_group_id_with_the_cache(csms, station):
    """Tokens A and B of group G and C (Invalid, group G) get into the cache through
    Authorize; then A starts from the cache, C is asked again and (Invalid) leaves the
    transaction running (TC_C_44), B of the same group stops it from the cache
    (TC_C_41)."""
    st = station("2.0.1", extra=("--auth", "ocpp", "--set", "LocalPreAuthorize=true"))
    link = accepted(csms, st)
    status = {"CARDA": "Accepted", "CARDB": "Accepted", "CARDC": "Invalid"}
    info = lambda p: {"idTokenInfo": {"status": status[p["idToken"]["idToken"]],
                                      "groupIdToken": {"idToken": "GROUPG", "type": "Central"}}}
    link.set_reply("Authorize", info)               # the CSMS gives the group in every answer
    link.set_reply("TransactionEvent", lambda p: info(p) if p.get("idToken") else {})
    st.cmd("plug 1")
    st.cmd("tag 1 CARDC")
    st.wait_log("tag CARDC at evse 1: rejected")
    st.cmd("tag 1 CARDA")
    st.wait(lambda s: s["evses"][0]["relay"], what="charging")
    st.cmd("tag 1 CARDB")
    link.wait_for("TransactionEvent", _ended, timeout=15)
    st.cmd("unplug 1")
    st.wait(lambda s: s["evses"][0]["state"] == "Idle" and s["evses"][0]["tx_id"] is None, what="idle")
    assert [_authorizes(link, t) for t in ("CARDA", "CARDB", "CARDC")] == [1, 1, 1]

    st.cmd("plug 1")
    st.cmd("tag 1 CARDA")
    n = len(link.received)
    started = link.wait_for("TransactionEvent", _started, after=n, timeout=15)
    st.wait(lambda s: s["evses"][0]["relay"], what="charging")
    st.cmd("tag 1 CARDC")
    st.wait_log("tag CARDC at evse 1 during the transaction: not its group")
    assert _authorizes(link, "CARDC") == 2 and st.evse(1)["relay"]
    st.cmd("tag 1 CARDB")
    end = link.wait_for("TransactionEvent", _ended, after=n, timeout=15)
    assert end["transactionInfo"]["transactionId"] == started["transactionInfo"]["transactionId"]
    assert end["triggerReason"] == "StopAuthorized" and end["idToken"]["idToken"] == "CARDB"
    assert [_authorizes(link, t) for t in ("CARDA", "CARDB")] == [1, 1]


def test_TC_C_17_TC_C_26_offline_start_answered_invalid_keeps_the_transaction(tmp_path):
    """StopTxOnInvalidId=false, MaxEnergyOnInvalidId=0, offline transactions allowed
    for unknown ids: offline, EVSE 1 starts with a cached card, EVSE 2 with an unknown
    one. After the reconnect the CSMS answers both Invalid: energy stops
    (SuspendedEVSE), the transactions stay open (TC_C_17); the unknown card presented
    again ends its transaction (StopAuthorized, TC_C_26)."""
    port = free_port()
    st = SimStation("ws://127.0.0.1:%d/ocpp" % port, "OFFC17", "2.0.1", tmp_path, evses=2,
                    extra=("--auth", "ocpp", "--set", "RetryBackOffWaitMinimum=1",
                           "--set", "RetryBackOffRandomRange=0", "--set", "RetryBackOffRepeatTimes=0",
                           "--set", "StopTransactionOnInvalidId=false", "--set", "MaxEnergyOnInvalidId=0",
                           "--set", "AllowOfflineTxForUnknownId=true", "--set", "LocalPreAuthorize=true"))
    try:
        with CsmsThread(host="127.0.0.1", port=port) as csms:
            st.start()
            accepted(csms, st)
            st.cmd("plug 1")
            st.cmd("tag 1 CARD17")                     # Authorize: Accepted, cached
            st.wait(lambda s: s["evses"][0]["relay"], what="charging")
            st.cmd("unplug 1")
            st.wait(lambda s: s["evses"][0]["tx_id"] is None and s["tx_queue"] == 0, what="ended, delivered")
        st.wait(lambda s: not s["connected"], what="offline")
        st.cmd("plug 1")
        st.cmd("tag 1 CARD17")
        st.wait(lambda s: s["evses"][0]["relay"], what="evse 1 charging offline")
        st.cmd("plug 2")
        st.cmd("tag 2 UNKNOWN26")
        st.wait(lambda s: s["evses"][1]["relay"], what="evse 2 charging offline")
        with CsmsThread(host="127.0.0.1", port=port) as csms:
            csms.set_reply("TransactionEvent", lambda p: {"idTokenInfo": {"status": "Invalid"}}
                           if p.get("idToken") else {}, version="2.0.1")
            link = csms.station("OFFC17", timeout=30)
            tx = {}
            for k in (1, 2):
                tx[k] = link.wait_for("TransactionEvent", lambda p: _started(p) and p["evse"]["id"] == k,
                                      timeout=30)["transactionInfo"]["transactionId"]
                link.wait_for("TransactionEvent", lambda p: p["transactionInfo"]["transactionId"] == tx[k] and
                              p["transactionInfo"].get("chargingState") == "SuspendedEVSE", timeout=30)
            st.wait(lambda s: not s["evses"][0]["relay"] and not s["evses"][1]["relay"], what="energy stopped")
            assert not [p for p in sent(link, "TransactionEvent") if _ended(p)]
            assert st.evse(1)["tx_id"] and st.evse(2)["tx_id"]
            st.cmd("tag 2 UNKNOWN26")
            end = link.wait_for("TransactionEvent", _ended, timeout=15)
            assert end["transactionInfo"]["transactionId"] == tx[2] and end["triggerReason"] == "StopAuthorized"
            assert st.evse(1)["tx_id"]
            assert link.violations == []
    finally:
        st.stop()
