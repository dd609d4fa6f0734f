"""Reservations (issue 16) against the dev CSMS with schema validation: OCPP 1.6
Reservation profile (OCTT TC_046-TC_053) and 2.0.1 H (TC_H_*; ids and names as in
docs/octt/, whose header says which H names are unconfirmed). Each test shares one
station between its steps (a restart in between included); expiry is driven by a
reservation a few seconds long, and every step waits for a status or a message."""
import datetime

from tests.integration.conftest import accepted, sent, statuses


def _at(seconds):
    t = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(seconds=seconds)
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


def _status_is(version, k, want):
    if version == "1.6":
        return lambda p: p["connectorId"] == k and p["status"] == want
    return lambda p: p["evseId"] == k and p["connectorStatus"] == want


def _wait_status(link, version, k, want, after=0, timeout=15):
    return link.wait_for("StatusNotification", _status_is(version, k, want), timeout=timeout,
                         after=after)


def _last_status(link, version, k):
    return statuses(link, version, k)[-1]


def _reserve16(link, rid, k, tag, seconds=3600, parent=None):
    p = {"connectorId": k, "expiryDate": _at(seconds), "idTag": tag, "reservationId": rid}
    if parent:
        p["parentIdTag"] = parent
    return link.call("ReserveNow", p)["status"]


def _reserve201(link, rid, k, tag, seconds=3600, group=None, ctype=None):
    p = {"id": rid, "expiryDateTime": _at(seconds), "idToken": {"idToken": tag, "type": "ISO14443"}}
    if k is not None:
        p["evseId"] = k
    if group:
        p["groupIdToken"] = {"idToken": group, "type": "Central"}
    if ctype:
        p["connectorType"] = ctype
    return link.call("ReserveNow", p)["status"]


def test_TC_049_TC_053_TC_048_2_reserved_connector_starts_for_its_tag_16(csms, station):
    """A reserved connector: Reserved, another idTag refused (tag and remote start);
    TC_053 (an idTag with the reservation's parentIdTag starts there, reservationId in
    StartTransaction), TC_049 (connector 0: the last free connector becomes Reserved,
    the reserving idTag starts there), TC_048_2 (Occupied) and a restart in between.
    TC_046_1 (the reserving idTag at a connector reserved by id) and TC_050_x (connector
    0 refused) are in test_ocpp16_profiles.py."""
    st = station("1.6", evses=2, extra=("--auth", "ocpp"))
    link = accepted(csms, st)
    n_refused = st.log_count("reserved for another id")
    assert _reserve16(link, 11, 1, "RES1", parent="PARENT1") == "Accepted"
    _wait_status(link, "1.6", 1, "Reserved")
    assert _last_status(link, "1.6", 2) == "Available"
    assert st.wait(lambda s: s["evses"][0].get("reservation"), what="reservation shown")[
        "evses"][0]["reservation"][:2] == [11, "RES1"]
    # another idTag: refused at the connector and by RemoteStartTransaction
    st.cmd("tag 1 OTHER1")
    st.wait_log("reserved for another id", count=n_refused + 1)
    assert link.call("RemoteStartTransaction", {"connectorId": 1, "idTag": "OTHER1"})["status"] == "Rejected"
    # connector 0 (ReserveConnectorZeroSupported): connector 2, the last free one, is held
    assert _reserve16(link, 13, 0, "RES2") == "Accepted"
    _wait_status(link, "1.6", 2, "Reserved")
    assert _reserve16(link, 14, 0, "RES3") == "Occupied"          # no free connector left
    assert st.wait(lambda s: len(s["reservations"]) == 2, what="both shown")["reservations"] == [[11, 1], [13, 0]]
    assert not sent(link, "StartTransaction")
    # a restart: both reservations are still there
    assert link.call("Reset", {"type": "Hard"})["status"] == "Accepted"
    link.wait_closed(timeout=10)
    link = csms.station(st.ident, newer_than=link, timeout=20)
    _wait_status(link, "1.6", 1, "Reserved")
    _wait_status(link, "1.6", 2, "Reserved")
    # TC_053: an idTag whose parent is the reservation's parentIdTag starts on connector 1
    link.set_reply("Authorize", lambda p: {"idTagInfo": {"status": "Accepted", "parentIdTag": "PARENT1"}}
                   if p["idTag"] == "CHILD1" else None)
    st.cmd("tag 1 CHILD1")
    _wait_status(link, "1.6", 1, "Preparing")
    st.cmd("plug 1")
    start = link.wait_for("StartTransaction", lambda p: p["connectorId"] == 1, timeout=15)
    assert start["idTag"] == "CHILD1" and start["reservationId"] == 11
    assert _reserve16(link, 15, 1, "RES4") == "Occupied"           # TC_048_2
    # TC_049: the connector-0 reservation's idTag starts on connector 2
    st.cmd("tag 2 RES2")
    st.cmd("plug 2")
    start = link.wait_for("StartTransaction", lambda p: p["connectorId"] == 2, timeout=15)
    assert start["idTag"] == "RES2" and start["reservationId"] == 13
    assert link.call("CancelReservation", {"reservationId": 11})["status"] == "Rejected"   # used


def test_TC_051_TC_052_TC_047_TC_046_2_TC_048_1_TC_048_3_reserve_answers_cancel_expire_16(csms, station):
    """TC_051 / TC_052 (cancel, cancel an unknown id), TC_047 (expiry), TC_046_2 (the
    reserving idTag by RemoteStartTransaction), TC_048_1 (Faulted), TC_048_3
    (Unavailable); and Rejected for a connector the station has not (not TC_048_4:
    that case is for a station without the Reservation profile)."""
    st = station("1.6", extra=("--auth", "ocpp"))
    link = accepted(csms, st)
    conf = link.call("GetConfiguration", {"key": ["SupportedFeatureProfiles", "ReserveConnectorZeroSupported"]})
    vals = {c["key"]: c["value"] for c in conf["configurationKey"]}
    assert "Reservation" in vals["SupportedFeatureProfiles"].split(",")
    assert vals["ReserveConnectorZeroSupported"] == "true"
    assert _reserve16(link, 21, 1, "RES1") == "Accepted"
    _wait_status(link, "1.6", 1, "Reserved")
    n = len(link.received)
    assert link.call("CancelReservation", {"reservationId": 21})["status"] == "Accepted"
    _wait_status(link, "1.6", 1, "Available", after=n)
    assert link.call("CancelReservation", {"reservationId": 21})["status"] == "Rejected"
    # expiry: a reservation a few seconds long ends by itself (waited for in the station's
    # log: on a busy machine the Reserved status may not have left before it expired)
    n = len(link.received)
    assert _reserve16(link, 22, 1, "RES1", seconds=5) == "Accepted"
    st.wait_log("reservation 22 expired", timeout=40)
    if "Reserved" in [p["status"] for a, p in link.received[n:] if a == "StatusNotification"]:
        _wait_status(link, "1.6", 1, "Available", after=n)
    assert link.call("CancelReservation", {"reservationId": 22})["status"] == "Rejected"
    # TC_046_2: the reserving idTag by RemoteStartTransaction; its start carries the id
    assert _reserve16(link, 26, 1, "RES6") == "Accepted"
    assert link.call("RemoteStartTransaction", {"connectorId": 1, "idTag": "RES6"})["status"] == "Accepted"
    st.cmd("plug 1")
    start = link.wait_for("StartTransaction", timeout=15)
    assert start["reservationId"] == 26 and start["idTag"] == "RES6"
    n = len(link.received)
    st.cmd("unplug 1")
    link.wait_for("StopTransaction", timeout=15)
    _wait_status(link, "1.6", 1, "Available", after=n)
    assert _reserve16(link, 23, 2, "RES1") == "Rejected"
    st.cmd("fault 1 rcd")
    _wait_status(link, "1.6", 1, "Faulted")
    assert _reserve16(link, 24, 1, "RES1") == "Faulted"
    n = len(link.received)
    st.cmd("clear 1 rcd")
    _wait_status(link, "1.6", 1, "Available", after=n)
    assert link.call("ChangeAvailability", {"connectorId": 1, "type": "Inoperative"})["status"] == "Accepted"
    _wait_status(link, "1.6", 1, "Unavailable")
    assert _reserve16(link, 25, 1, "RES1") == "Unavailable"


def test_TC_H_02_TC_H_03_TC_H_07_TC_H_08_TC_H_17_TC_H_18_TC_H_19_reserve_201(csms, station):
    """2.0.1 H01-H04: a specific EVSE and an unspecified one (TC_H_08) become Reserved;
    Occupied for an EVSE already reserved (TC_H_03), Rejected for a connector type the
    station has not; cancel (TC_H_17) and cancel of an unknown id (TC_H_18); expiry
    with ReservationStatusUpdate Expired (TC_H_07); a restart in between; another token
    refused (TC_H_02); a token of the reservation's group starts with reservationId in
    its TransactionEvent (TC_H_19)."""
    st = station("2.0.1", evses=2, extra=("--auth", "ocpp"))
    link = accepted(csms, st)
    n_refused = st.log_count("reserved for another id")
    assert _reserve201(link, 31, 1, "RES1", group="GRP1") == "Accepted"
    _wait_status(link, "2.0.1", 1, "Reserved")
    assert _reserve201(link, 32, None, "RES2") == "Accepted"
    _wait_status(link, "2.0.1", 2, "Reserved")
    assert _reserve201(link, 33, 1, "RES3") == "Occupied"
    assert _reserve201(link, 33, 2, "RES3", ctype="cCCS1") == "Rejected"
    n = len(link.received)
    assert link.call("CancelReservation", {"reservationId": 32})["status"] == "Accepted"
    _wait_status(link, "2.0.1", 2, "Available", after=n)
    assert link.call("CancelReservation", {"reservationId": 32})["status"] == "Rejected"
    # expiry: Available again and ReservationStatusUpdate Expired
    n = len(link.received)
    assert _reserve201(link, 34, 2, "RES2", seconds=5) == "Accepted"
    upd = link.wait_for("ReservationStatusUpdate", timeout=40)
    assert upd == {"reservationId": 34, "reservationUpdateStatus": "Expired"}
    if "Reserved" in [p["connectorStatus"] for a, p in link.received[n:] if a == "StatusNotification"]:
        _wait_status(link, "2.0.1", 2, "Available", after=n)
    # a restart: reservation 31 still holds EVSE 1
    assert link.call("Reset", {"type": "Immediate"})["status"] == "Accepted"
    link.wait_closed(timeout=10)
    link = csms.station(st.ident, newer_than=link, timeout=20)
    _wait_status(link, "2.0.1", 1, "Reserved")
    st.cmd("tag 1 OTHER1")
    st.wait_log("reserved for another id", count=n_refused + 1)
    assert link.call("RequestStartTransaction", {"evseId": 1, "remoteStartId": 5,
                     "idToken": {"idToken": "OTHER1", "type": "ISO14443"}})["status"] == "Rejected"
    link.set_reply("Authorize", lambda p: {"idTokenInfo": {"status": "Accepted", "groupIdToken": {
        "idToken": "GRP1", "type": "Central"}}} if p["idToken"]["idToken"] == "CHILD1" else None)
    st.cmd("tag 1 CHILD1")
    st.cmd("plug 1")
    ev = link.wait_for("TransactionEvent", lambda p: p["eventType"] == "Started", timeout=15)
    assert ev["reservationId"] == 31 and ev["idToken"]["idToken"] == "CHILD1"
    assert link.call("CancelReservation", {"reservationId": 31})["status"] == "Rejected"   # used


def test_TC_H_04_TC_H_06_TC_H_21_TC_H_22_refusals_and_removed_201(csms, station):
    """The reserving token by RequestStartTransaction; ReserveNow answers: Faulted,
    Occupied by a session (TC_H_04), Unavailable (TC_H_06), Rejected when
    ReservationCtrlr.Enabled is false (TC_H_22); a reserved EVSE made Inoperative ends
    its reservation: ReservationStatusUpdate Removed (TC_H_21)."""
    st = station("2.0.1", extra=("--auth", "ocpp"))
    link = accepted(csms, st)
    res = link.call("GetVariables", {"getVariableData": [
        {"component": {"name": "ReservationCtrlr"}, "variable": {"name": v}}
        for v in ("Enabled", "Available", "NonEvseSpecific")]})["getVariableResult"]
    assert [r["attributeValue"] for r in res] == ["true", "true", "true"]
    # the reserving token by RequestStartTransaction: its TransactionEvent carries the id
    assert _reserve201(link, 40, 1, "RES0") == "Accepted"
    assert link.call("RequestStartTransaction", {"evseId": 1, "remoteStartId": 7, "idToken": {
        "idToken": "RES0", "type": "ISO14443"}})["status"] == "Accepted"
    st.cmd("plug 1")
    ev = link.wait_for("TransactionEvent", lambda p: p["eventType"] == "Started", timeout=15)
    assert ev["reservationId"] == 40 and ev["transactionInfo"]["remoteStartId"] == 7
    n = len(link.received)
    st.cmd("unplug 1")
    link.wait_for("TransactionEvent", lambda p: p["eventType"] == "Ended", timeout=15)
    _wait_status(link, "2.0.1", 1, "Available", after=n)
    st.cmd("fault 1 rcd")
    _wait_status(link, "2.0.1", 1, "Faulted")
    assert _reserve201(link, 41, 1, "RES1") == "Faulted"
    n = len(link.received)
    st.cmd("clear 1 rcd")
    _wait_status(link, "2.0.1", 1, "Available", after=n)
    n = len(link.received)
    st.cmd("plug 1")
    _wait_status(link, "2.0.1", 1, "Occupied", after=n)
    assert _reserve201(link, 42, 1, "RES1") == "Occupied"
    n = len(link.received)
    st.cmd("unplug 1")
    _wait_status(link, "2.0.1", 1, "Available", after=n)
    n = len(link.received)
    assert _reserve201(link, 43, 1, "RES1") == "Accepted"
    _wait_status(link, "2.0.1", 1, "Reserved", after=n)
    assert link.call("ChangeAvailability", {"operationalStatus": "Inoperative",
                                            "evse": {"id": 1}})["status"] == "Accepted"
    upd = link.wait_for("ReservationStatusUpdate", timeout=15)
    assert upd == {"reservationId": 43, "reservationUpdateStatus": "Removed"}
    assert _reserve201(link, 44, 1, "RES1") == "Unavailable"
    res = link.call("SetVariables", {"setVariableData": [
        {"component": {"name": "ReservationCtrlr"}, "variable": {"name": "Enabled"},
         "attributeValue": "false"}]})["setVariableResult"]
    assert res[0]["attributeStatus"] == "Accepted"
    assert _reserve201(link, 45, 1, "RES1") == "Rejected"
