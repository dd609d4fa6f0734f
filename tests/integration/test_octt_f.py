"""OCTT 2.0.1 block F (remote control) cases against the dev CSMS, the steps chained on
one station. Covered elsewhere (named in their tests): test_transactions.py (TC_F_08),
test_deviations.py (TC_F_01, 02, 04), test_status_meter.py (TC_F_11, 20, 23, 26, 27)."""
import datetime
import socket

from tests.integration.conftest import accepted, sent


def _started(p):
    return p["eventType"] == "Started"


def _set(link, component, variable, value):
    res = link.call("SetVariables", {"setVariableData": [{"component": {"name": component},
                    "variable": {"name": variable}, "attributeValue": value}]})
    assert res["setVariableResult"][0]["attributeStatus"] == "Accepted", res


def test_TC_F_07_10_15_17_18_12_24_06_03_13_05_09_14_TC_E_13_unlock_trigger_remote(csms, station):
    st = station("2.0.1", evses=2, extra=("--auth", "ocpp"))
    link = accepted(csms, st)
    unlock = lambda evse, conn=1: link.call("UnlockConnector", {"evseId": evse, "connectorId": conn})["status"]
    trigger = lambda msg, evse=None: link.call("TriggerMessage", dict(
        {"requestedMessage": msg}, **({"evse": evse} if evse else {})))["status"]

    assert unlock(1) == "Unlocked"                                           # TC_F_07: no cable
    assert unlock(1, 999) == "UnknownConnector"                              # TC_F_10
    assert trigger("LogStatusNotification") == "Accepted"                    # TC_F_15
    assert link.wait_for("LogStatusNotification")["status"] == "Idle"
    assert trigger("FirmwareStatusNotification", {"id": 1}) == "Accepted"    # TC_F_17
    assert link.wait_for("FirmwareStatusNotification")["status"] == "Idle"
    assert trigger("FirmwareStatusNotification") == "Accepted"               # TC_F_18
    link.wait_for("FirmwareStatusNotification", lambda p: len(sent(link, "FirmwareStatusNotification")) == 2)
    assert [p["status"] for p in sent(link, "FirmwareStatusNotification")] == ["Idle", "Idle"]
    n = len(link.received)
    assert trigger("MeterValues") == "Accepted"                              # TC_F_12: all EVSEs
    mv = link.wait_for("MeterValues", after=n)
    assert mv["meterValue"][0]["sampledValue"][0]["context"] == "Trigger"

    st.cmd("plug 1")                                                         # EVConnectedPreSession
    st.wait(lambda s: s["evses"][0]["state"] == "WaitingForAuthentication", what="plugged")
    n = len(link.received)
    assert trigger("StatusNotification", {"id": 1, "connectorId": 1}) == "Accepted"   # TC_F_24
    sn = link.wait_for("StatusNotification", after=n)
    assert (sn["evseId"], sn["connectorStatus"]) == (1, "Occupied")
    assert unlock(1) == "Unlocked"                                           # TC_F_06: cable, no tx

    # TC_F_03: AuthorizeRemoteStart false (the default): no Authorize, the transaction starts
    res = link.call("RequestStartTransaction", {"evseId": 1, "remoteStartId": 3,
                    "idToken": {"idToken": "REMOTEF03", "type": "Central"}})
    assert res["status"] == "Accepted"
    started = link.wait_for("TransactionEvent", _started, timeout=15)
    assert started["triggerReason"] == "RemoteStart" and started["transactionInfo"]["remoteStartId"] == 3
    tid = started["transactionInfo"]["transactionId"]
    link.wait_for("TransactionEvent", lambda p: p["transactionInfo"].get("chargingState") == "Charging",
                  timeout=15)
    assert sent(link, "Authorize") == []
    n = len(link.received)
    assert trigger("TransactionEvent", {"id": 1}) == "Accepted"              # TC_F_13
    te = link.wait_for("TransactionEvent", lambda p: p["triggerReason"] == "Trigger", after=n)
    assert te["transactionInfo"]["transactionId"] == tid and te["transactionInfo"]["chargingState"] == "Charging"
    assert te["meterValue"][0]["sampledValue"][0]["context"] == "Trigger"
    assert te.get("evse", {"id": 1})["id"] == 1
    assert unlock(1) == "OngoingAuthorizedTransaction"                       # TC_F_05
    assert st.evse(1)["lock"] is True
    assert link.call("RequestStopTransaction", {"transactionId": tid + "x"})["status"] == "Rejected"  # TC_F_09
    assert st.evse(1)["relay"]

    # TC_E_13: TxStartPoint Authorized, AuthorizeRemoteStart true: Authorize, then Started
    # (RemoteStart, remoteStartId) before the cable
    _set(link, "TxCtrlr", "TxStartPoint", "Authorized")
    _set(link, "AuthCtrlr", "AuthorizeRemoteStart", "true")
    n = len(link.received)
    res = link.call("RequestStartTransaction", {"evseId": 2, "remoteStartId": 13,
                    "idToken": {"idToken": "REMOTEE13", "type": "Central"}})
    assert res["status"] == "Accepted"
    auth = link.wait_for("Authorize", after=n, timeout=15)
    assert auth["idToken"] == {"idToken": "REMOTEE13", "type": "Central"}
    started2 = link.wait_for("TransactionEvent", lambda p: _started(p) and p["evse"]["id"] == 2, after=n, timeout=15)
    assert started2["triggerReason"] == "RemoteStart" and started2["transactionInfo"]["remoteStartId"] == 13
    assert started2["idToken"] == {"idToken": "REMOTEE13", "type": "Central"}
    order = [a for a, p in link.received[n:] if p is auth or p is started2]
    assert order == ["Authorize", "TransactionEvent"]
    st.cmd("plug 2")
    tid2 = started2["transactionInfo"]["transactionId"]
    link.wait_for("TransactionEvent", lambda p: p["transactionInfo"]["transactionId"] == tid2 and
                  p["transactionInfo"].get("chargingState") == "Charging", after=n, timeout=15)
    n = len(link.received)
    assert trigger("TransactionEvent") == "Accepted"                         # TC_F_14: every EVSE
    triggered = lambda: [p for a, p in link.received[n:] if a == "TransactionEvent" and p["triggerReason"] == "Trigger"]
    link.wait_for("TransactionEvent", lambda p: len(triggered()) == 2, after=n, timeout=15)
    got = triggered()
    assert sorted(p["transactionInfo"]["transactionId"] for p in got) == sorted([tid, tid2])
    assert all(p["transactionInfo"]["chargingState"] == "Charging" and
               p["meterValue"][0]["sampledValue"][0]["context"] == "Trigger" for p in got)


def test_TC_F_16_TC_F_19_trigger_while_uploading_and_downloading(csms, station, tmp_path):
    """A file server that takes the connection and never answers keeps the log upload
    in Uploading and the firmware download in Downloading: a TriggerMessage reports
    that status again (TC_F_16, TC_F_19)."""
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(4)                                   # connections wait in the backlog, unanswered
    url = "http://127.0.0.1:%d/" % srv.getsockname()[1]
    try:
        st = station("2.0.1")
        link = accepted(csms, st)
        res = link.call("GetLog", {"logType": "DiagnosticsLog", "requestId": 16,
                                   "log": {"remoteLocation": url + "up"}})
        assert res["status"] == "Accepted"
        first = link.wait_for("LogStatusNotification", timeout=15)
        assert (first["status"], first.get("requestId")) == ("Uploading", 16)
        assert link.call("TriggerMessage", {"requestedMessage": "LogStatusNotification"})["status"] == "Accepted"
        link.wait_for("LogStatusNotification", lambda p: p is not first, timeout=15)
        assert [(p["status"], p.get("requestId")) for p in sent(link, "LogStatusNotification")] == \
            [("Uploading", 16)] * 2
        past = datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(minutes=1)
        # a secure update (an unsigned one is Rejected, TC_L_18): a signing certificate that
        # chains to an installed ManufacturerRootCertificate; the signature is only checked
        # after a download that never ends here
        from tools.fwupd.bundle import dev_pki
        _, cert_pem, root_pem = dev_pki(str(tmp_path / "dev-key.pem"))
        res = link.call("InstallCertificate", {"certificateType": "ManufacturerRootCertificate",
                                               "certificate": root_pem})
        assert res["status"] == "Accepted"
        res = link.call("UpdateFirmware", {"requestId": 19, "firmware": {
            "location": url + "fw.bin", "retrieveDateTime": past.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "signingCertificate": cert_pem, "signature": "AAAA"}})
        assert res["status"] == "Accepted"
        first = link.wait_for("FirmwareStatusNotification", lambda p: p["status"] == "Downloading", timeout=15)
        assert first.get("requestId") == 19
        n = len(link.received)
        assert link.call("TriggerMessage", {"requestedMessage": "FirmwareStatusNotification"})["status"] == "Accepted"
        assert link.wait_for("FirmwareStatusNotification", after=n, timeout=15)["status"] == "Downloading"
    finally:
        srv.close()
