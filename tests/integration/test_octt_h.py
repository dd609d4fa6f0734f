"""OCTT 2.0.1 block H (reservation) cases not covered by test_reservations.py, chained
on one two-EVSE station (the H ids and names are unconfirmed: docs/octt/ says why):
reservations of an unspecified EVSE and of a connector type (H01.FR.11: once the free
EVSEs are no more than such reservations, they all show Reserved), the answers when
every EVSE is reserved, occupied or unavailable, and a specific EVSE used by its token."""
import datetime

from tests.integration.conftest import accepted


def _reserve(link, rid, tag, evse=None, ctype=None):
    t = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(hours=1)
    p = {"id": rid, "expiryDateTime": t.strftime("%Y-%m-%dT%H:%M:%SZ"),
         "idToken": {"idToken": tag, "type": "ISO14443"}}
    if evse is not None:
        p["evseId"] = evse
    if ctype:
        p["connectorType"] = ctype
    return link.call("ReserveNow", p)["status"]


def _status(link, k, want, after=0, timeout=20):
    return link.wait_for("StatusNotification", lambda p: p["evseId"] == k and
                         p["connectorStatus"] == want, after=after, timeout=timeout)


def _cancel(link, *rids):
    n = len(link.received)
    for rid in rids:
        assert link.call("CancelReservation", {"reservationId": rid})["status"] == "Accepted"
    return n


def test_TC_H_15_16_09_14_01_10_12_13_reserve_unspecified_and_by_type(csms, station):
    st = station("2.0.1", evses=2, extra=("--auth", "ocpp"))
    link = accepted(csms, st)
    res = link.call("GetVariables", {"getVariableData": [{"component": {"name": "Connector",
                    "evse": {"id": 1, "connectorId": 1}}, "variable": {"name": "ConnectorType"}}]})
    ctype = res["getVariableResult"][0]["attributeValue"]
    assert ctype == "sType2"
    # TC_H_15: a connector of the station's type, any EVSE: Accepted, no EVSE held yet
    n = len(link.received)
    assert _reserve(link, 1, "RES15", ctype=ctype) == "Accepted"
    assert st.evse(1)["ocpp_status"] == st.evse(2)["ocpp_status"] == "Available"
    # TC_H_16: as many such reservations as free connectors: both show Reserved
    assert _reserve(link, 2, "RES16", ctype=ctype) == "Accepted"
    _status(link, 1, "Reserved", after=n)
    _status(link, 2, "Reserved", after=n)
    assert _reserve(link, 3, "RES09", ctype=ctype) == "Occupied"
    n = _cancel(link, 1, 2)
    _status(link, 1, "Available", after=n)
    _status(link, 2, "Available", after=n)
    # TC_H_14: the same without a type; TC_H_09: every EVSE reserved -> Occupied
    assert _reserve(link, 4, "RES14A") == "Accepted"
    assert _reserve(link, 5, "RES14B") == "Accepted"
    _status(link, 1, "Reserved", after=n)
    _status(link, 2, "Reserved", after=n)
    assert _reserve(link, 6, "RES09") == "Occupied"
    n = _cancel(link, 4, 5)
    _status(link, 1, "Available", after=n)
    _status(link, 2, "Available", after=n)

    # TC_H_01: EVSE 1 reserved for RES01; its token starts there with the reservationId
    assert _reserve(link, 7, "RES01", evse=1) == "Accepted"
    _status(link, 1, "Reserved", after=n)
    st.cmd("tag 1 RES01")
    auth = link.wait_for("Authorize", lambda p: p["idToken"]["idToken"] == "RES01", timeout=15)
    assert auth["idToken"]["type"] == "ISO14443"
    st.cmd("plug 1")
    ev = link.wait_for("TransactionEvent", lambda p: p["eventType"] == "Started", timeout=15)
    assert ev["reservationId"] == 7 and ev["idToken"]["idToken"] == "RES01" and ev["evse"]["id"] == 1
    assert link.call("CancelReservation", {"reservationId": 7})["status"] == "Rejected"   # used
    # TC_H_10: every EVSE occupied -> Occupied
    n = len(link.received)
    st.cmd("plug 2")
    _status(link, 2, "Occupied", after=n)
    assert _reserve(link, 8, "RES10") == "Occupied"
    n = len(link.received)
    st.cmd("unplug 1")
    st.cmd("unplug 2")
    link.wait_for("TransactionEvent", lambda p: p["eventType"] == "Ended", after=n, timeout=15)
    _status(link, 1, "Available", after=n)
    _status(link, 2, "Available", after=n)
    # TC_H_12: every EVSE unavailable -> Unavailable
    n = len(link.received)
    assert link.call("ChangeAvailability", {"operationalStatus": "Inoperative"})["status"] == "Accepted"
    _status(link, 1, "Unavailable", after=n)
    _status(link, 2, "Unavailable", after=n)
    assert _reserve(link, 9, "RES12") == "Unavailable"
    n = len(link.received)
    assert link.call("ChangeAvailability", {"operationalStatus": "Operative"})["status"] == "Accepted"
    _status(link, 2, "Available", after=n)
    # TC_H_13: reservations switched off (ReservationCtrlr.Enabled false) -> Rejected
    res = link.call("SetVariables", {"setVariableData": [{"component": {"name": "ReservationCtrlr"},
                    "variable": {"name": "Enabled"}, "attributeValue": "false"}]})
    assert res["setVariableResult"][0]["attributeStatus"] == "Accepted"
    assert _reserve(link, 10, "RES13") == "Rejected"
    assert _reserve(link, 11, "RES13", ctype=ctype) == "Rejected"
