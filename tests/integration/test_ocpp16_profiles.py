"""OCPP 1.6 OCTT cases of the LocalAuthListManagement, Reservation and Security
profiles not covered by a 2.0.1 twin (issue 18), against the dev CSMS with schema validation. Each
test is one station run, its steps in the order of the cases."""
import datetime

from tests import certs
from tests.integration.conftest import accepted
from tools.csms import CsmsThread
from tools.harness.simctl import SimStation, free_port


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


def _reserve(link, rid, k, tag):
    t = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(hours=1)
    return link.call("ReserveNow", {"connectorId": k, "expiryDate": t.strftime("%Y-%m-%dT%H:%M:%SZ"),
                                    "idTag": tag, "reservationId": rid})["status"]


def _status(link, want, after=0):
    return link.wait_for("StatusNotification", lambda p: p["connectorId"] == 1 and p["status"] == want,
                         after=after, timeout=15)


def test_TC_046_1_TC_050_1_TC_050_2_TC_050_3_reservations_16(csms, station):
    """TC_046_1 (a connector reserved for an idTag: that idTag presented at the
    connector starts there, StartTransaction carrying the reservationId); a reservation
    of the Charge Point (connector 0) answered Occupied during a transaction (TC_050_2),
    Faulted with the connector faulted (TC_050_1), Unavailable with the Charge Point
    Inoperative (TC_050_3). One connector: connector 0 is the whole Charge Point."""
    st = station("1.6", extra=("--auth", "ocpp"))
    link = accepted(csms, st)
    assert _reserve(link, 31, 1, "RES31") == "Accepted"
    _status(link, "Reserved")
    n = len(link.received)
    st.cmd("tag 1 RES31")                                               # TC_046_1
    _status(link, "Preparing", after=n)
    st.cmd("plug 1")
    start = link.wait_for("StartTransaction", after=n, timeout=15)
    assert start["connectorId"] == 1 and start["idTag"] == "RES31" and start["reservationId"] == 31
    st.wait(lambda s: s["evses"][0]["relay"], what="charging on the reserved connector")
    assert _reserve(link, 32, 0, "RES32") == "Occupied"                 # TC_050_2
    assert link.call("CancelReservation", {"reservationId": 31})["status"] == "Rejected"   # used
    n = len(link.received)
    st.cmd("unplug 1")
    link.wait_for("StopTransaction", after=n, timeout=15)
    _status(link, "Available", after=n)
    st.cmd("fault 1 rcd")
    _status(link, "Faulted", after=n)
    assert _reserve(link, 33, 0, "RES33") == "Faulted"                  # TC_050_1
    n = len(link.received)
    st.cmd("clear 1 rcd")
    _status(link, "Available", after=n)
    assert link.call("ChangeAvailability", {"connectorId": 0, "type": "Inoperative"})["status"] == "Accepted"
    _status(link, "Unavailable", after=n)
    assert _reserve(link, 34, 0, "RES34") == "Unavailable"              # TC_050_3
    assert link.violations == []


def test_TC_078_invalid_central_system_certificate_event_16(tmp_path):
    """TC_078: at profile 2, a Central System whose server certificate does not chain to
    the installed root is refused (no connection), and the station reports
    InvalidCentralSystemCertificate in a SecurityEventNotification once it reaches a
    Central System it trusts."""
    pw = "profile-password-078x"
    ca, server, _ = certs.make_pki()
    _, other_server, _ = certs.make_pki()
    ca_path = tmp_path / "ca.pem"
    ca_path.write_bytes(ca.cert_pem)
    port = free_port()
    st = SimStation("wss://localhost:%d/ocpp" % port, "TC078", "1.6", tmp_path,
                    extra=("--profile", "2", "--password", pw, "--ca", str(ca_path),
                           "--set", "RetryBackOffWaitMinimum=1", "--set", "RetryBackOffRandomRange=0",
                           "--set", "RetryBackOffRepeatTimes=0"))
    try:
        with CsmsThread(host="localhost", port=port, ssl_context=certs.server_ssl_context(other_server),
                        passwords={"TC078": pw}) as csms:
            st.start()
            st.wait_log("InvalidCentralSystemCertificate", timeout=30)
            assert csms.connections == 0 and not st.status()["connected"]
        with CsmsThread(host="localhost", port=port, ssl_context=certs.server_ssl_context(server),
                        passwords={"TC078": pw}) as csms:
            link = csms.station("TC078", timeout=40)
            ev = link.wait_for("SecurityEventNotification",
                               lambda p: p["type"] == "InvalidCentralSystemCertificate", timeout=30)
            assert ev["techInfo"]
            assert link.violations == []
    finally:
        st.stop()
