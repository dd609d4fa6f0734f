"""OCPP 2.0.1 N09/N10 CustomerInformation (firmware/ocpp/v201/customer.py): what the
station holds about an idToken (its local list entry, its authorization cache entry, its
reservations) reported with NotifyCustomerInformation, and cleared (the cache entry; the
local list stays the CSMS's). OCTT TC_N_27/28 (get, with and without data), TC_N_30/31/32
(clear and report, with and without data, clear without report), TC_N_62 (clear and report
by customerIdentifier)."""
from tests.integration.conftest import accepted, sent


def _tok(t):
    return {"idToken": t, "type": "ISO14443"}


def _ci(link, rid, report=True, clear=False, **who):
    """CustomerInformation -> (status, the NotifyCustomerInformation data or None)."""
    n = len(link.received)
    p = {"requestId": rid, "report": report, "clear": clear}
    p.update(who)
    res = link.call("CustomerInformation", p)
    if res["status"] != "Accepted" or not report:
        return res["status"], None
    got = link.wait_for("NotifyCustomerInformation", lambda q: q["requestId"] == rid, after=n,
                        timeout=30)
    assert got["seqNo"] == 0 and not got.get("tbc", False)
    return res["status"], got["data"]


def _setup(csms, station):
    """A station with LISTED in its local list and CACHED1 in its cache (a session
    authorized by the CSMS, ended)."""
    st = station("2.0.1", extra=("--auth", "ocpp"))
    link = accepted(csms, st)
    assert link.call("SendLocalList", {"versionNumber": 1, "updateType": "Full",
                                       "localAuthorizationList": [{
                                           "idToken": _tok("LISTED"),
                                           "idTokenInfo": {"status": "Accepted"}}]}) == \
        {"status": "Accepted"}
    st.cmd("plug 1")
    st.cmd("tag 1 CACHED1")
    link.wait_for("TransactionEvent", lambda p: p["eventType"] == "Started", timeout=30)
    st.cmd("unplug 1")
    link.wait_for("TransactionEvent", lambda p: p["eventType"] == "Ended", timeout=30)
    return st, link


def test_TC_N_27_TC_N_28_get_customer_information(csms, station):
    st, link = _setup(csms, station)
    assert _ci(link, 1, idToken=_tok("cached1")) == \
        ("Accepted", "idToken cached1: authorization cache Accepted")
    assert _ci(link, 2, idToken=_tok("LISTED")) == ("Accepted", "idToken LISTED: local list Accepted")
    assert _ci(link, 3, idToken=_tok("NOBODY")) == ("Accepted", "idToken NOBODY: no data")
    # one customer, named once; something to do
    assert _ci(link, 4)[0] == "Invalid"
    assert _ci(link, 5, idToken=_tok("LISTED"), customerIdentifier="C-1")[0] == "Invalid"
    assert _ci(link, 6, report=False, idToken=_tok("LISTED"))[0] == "Invalid"
    assert [p["requestId"] for p in sent(link, "NotifyCustomerInformation")] == [1, 2, 3]


def test_TC_N_30_TC_N_31_TC_N_32_TC_N_62_clear_customer_information(csms, station):
    st, link = _setup(csms, station)
    assert _ci(link, 30, clear=True, idToken=_tok("CACHED1")) == \
        ("Accepted", "idToken CACHED1: authorization cache Accepted "
                     "(the authorization cache entry cleared)")
    assert _ci(link, 31, clear=True, idToken=_tok("CACHED1")) == \
        ("Accepted", "idToken CACHED1: no data")
    assert _ci(link, 32, report=False, clear=True, idToken=_tok("LISTED")) == ("Accepted", None)
    assert _ci(link, 33, idToken=_tok("LISTED")) == ("Accepted", "idToken LISTED: local list Accepted")
    assert _ci(link, 62, clear=True, customerIdentifier="C-62") == \
        ("Accepted", "customerIdentifier C-62: no data")
    assert [p["requestId"] for p in sent(link, "NotifyCustomerInformation")] == [30, 31, 33, 62]
