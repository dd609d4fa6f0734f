"""OCPP 1.6 OCTT cases of the LocalAuthListManagement and Reservation profiles not
covered by a 2.0.1 twin (issue 18), against the dev CSMS with schema validation. Each
test is one station run, its steps in the order of the cases."""
from tests.integration.conftest import accepted


def _send(link, version, update, items=None):
    p = {"listVersion": version, "updateType": update}
    if items is not None:
        p["localAuthorizationList"] = items
    return link.call("SendLocalList", p)["status"]


def _version(link):
    return link.call("GetLocalListVersion", {})["listVersion"]


def _entry(tag, status="Accepted"):
    return {"idTag": tag, "idTagInfo": {"status": status}}


def test_TC_042_2_TC_043_TC_043_2_TC_043_3_TC_008_local_list_16(csms, station):
    """TC_042_2 (an empty list is version 0), TC_043 (Full then Differential lists
    Accepted, the version reported back), TC_043_2 (a Differential update not newer:
    VersionMismatch), TC_043_3 (more entries than SendLocalListMaxLength: Failed, the
    list kept), TC_008 (LocalPreAuthorize: an id in the list starts a transaction without
    an Authorize.req; the same card stops it)."""
    st = station("1.6", extra=("--auth", "ocpp", "--set", "LocalAuthListEnabled=true",
                               "--set", "LocalPreAuthorize=true"))
    link = accepted(csms, st)
    assert _version(link) == 0                                          # TC_042_2
    assert _send(link, 1, "Full", [_entry("LOCAL1"), _entry("BLOCK1", "Blocked")]) == "Accepted"
    assert _version(link) == 1                                          # TC_043
    assert _send(link, 2, "Differential", [_entry("LOCAL2"), {"idTag": "BLOCK1"}]) == "Accepted"
    assert _version(link) == 2
    assert _send(link, 2, "Differential", [_entry("LOCAL3")]) == "VersionMismatch"   # TC_043_2
    assert _send(link, 1, "Differential", [_entry("LOCAL3")]) == "VersionMismatch"
    assert _version(link) == 2
    conf = link.call("GetConfiguration", {"key": ["SendLocalListMaxLength"]})["configurationKey"]
    most = int(conf[0]["value"])
    too_many = [_entry("MANY%04d" % i) for i in range(most + 1)]
    assert _send(link, 3, "Full", too_many) == "Failed"                # TC_043_3
    assert _version(link) == 2
    # TC_008: the listed id starts at once (no Authorize), the same card stops
    n = len(link.received)
    st.cmd("plug 1")
    st.cmd("tag 1 LOCAL1")
    start = link.wait_for("StartTransaction", after=n, timeout=15)
    assert start["idTag"] == "LOCAL1" and start["connectorId"] == 1
    assert [a for a, _ in link.received[n:] if a == "Authorize"] == []
    st.wait(lambda s: s["evses"][0]["relay"], what="charging after the listed tag")
    st.cmd("tag 1 LOCAL1")
    stop = link.wait_for("StopTransaction", after=n, timeout=15)
    assert stop["reason"] == "Local" and stop["idTag"] == "LOCAL1"
    st.wait(lambda s: not s["evses"][0]["relay"], what="relay open after the stop")
    # TC_042_2: a Full update without entries empties the list -> version 0
    assert _send(link, 3, "Full") == "Accepted"
    assert _version(link) == 0
    assert link.violations == []
