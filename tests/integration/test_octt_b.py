"""OCTT 2.0.1 block B (provisioning) cases not covered elsewhere, the steps chained on
one station per test: read-only variables, base reports, resets (the station does not
reset single EVSEs: Reset with an evseId is Rejected, B11.FR.09 / B12.FR.09), status
after an offline period (B04), migration to new network connection profiles (B10:
fall-back after NetworkProfileConnectionAttempts, a new CSMS with a new root). Covered elsewhere (named in their tests): test_boot.py,
test_availability_config.py, test_deviations.py, test_network_profiles.py."""
from tests.integration.conftest import accepted, sent
from tools.csms import CsmsThread
from tools.harness.simctl import SimStation, free_port

# OCTT TC_B_53_CS, "Required Core components/variables": (component, variable, instance,
# mutabilities the case accepts)
_RW, _RO = ("ReadWrite",), ("ReadOnly",)
_REQUIRED = (
    ("AlignedDataCtrlr", "Interval", None, _RW), ("AlignedDataCtrlr", "Measurands", None, _RW),
    ("AlignedDataCtrlr", "TxEndedInterval", None, _RW),
    ("AlignedDataCtrlr", "TxEndedMeasurands", None, _RW),
    ("AuthCtrlr", "AuthorizeRemoteStart", None, _RO + _RW),
    ("AuthCtrlr", "LocalAuthorizeOffline", None, _RW), ("AuthCtrlr", "LocalPreAuthorize", None, _RW),
    ("ChargingStation", "AvailabilityState", None, _RO), ("ChargingStation", "Available", None, _RO),
    ("ChargingStation", "SupplyPhases", None, _RO),
    ("ClockCtrlr", "DateTime", None, _RO), ("ClockCtrlr", "TimeSource", None, _RW),
    ("Connector", "AvailabilityState", None, _RO), ("Connector", "Available", None, _RO),
    ("Connector", "ConnectorType", None, _RO), ("Connector", "SupplyPhases", None, _RO),
    ("DeviceDataCtrlr", "BytesPerMessage", "GetReport", _RO),
    ("DeviceDataCtrlr", "BytesPerMessage", "GetVariables", _RO),
    ("DeviceDataCtrlr", "BytesPerMessage", "SetVariables", _RO),
    ("DeviceDataCtrlr", "ItemsPerMessage", "GetReport", _RO),
    ("DeviceDataCtrlr", "ItemsPerMessage", "GetVariables", _RO),
    ("DeviceDataCtrlr", "ItemsPerMessage", "SetVariables", _RO),
    ("EVSE", "AvailabilityState", None, _RO), ("EVSE", "Available", None, _RO),
    ("EVSE", "Power", None, _RO), ("EVSE", "SupplyPhases", None, _RO),
    ("OCPPCommCtrlr", "FileTransferProtocols", None, _RO),
    ("OCPPCommCtrlr", "MessageTimeout", "Default", _RO),
    ("OCPPCommCtrlr", "MessageAttemptInterval", "TransactionEvent", _RW),
    ("OCPPCommCtrlr", "MessageAttempts", "TransactionEvent", _RW),
    ("OCPPCommCtrlr", "NetworkConfigurationPriority", None, _RW),
    ("OCPPCommCtrlr", "NetworkProfileConnectionAttempts", None, _RW),
    ("OCPPCommCtrlr", "OfflineThreshold", None, _RW), ("OCPPCommCtrlr", "ResetRetries", None, _RW),
    ("OCPPCommCtrlr", "UnlockOnEVSideDisconnect", None, _RO + _RW),
    ("SampledDataCtrlr", "TxEndedInterval", None, _RW),
    ("SampledDataCtrlr", "TxEndedMeasurands", None, _RW),
    ("SampledDataCtrlr", "TxStartedMeasurands", None, _RW),
    ("SampledDataCtrlr", "TxUpdatedInterval", None, _RW),
    ("SampledDataCtrlr", "TxUpdatedMeasurands", None, _RW),
    ("SecurityCtrlr", "CertificateEntries", None, _RO),
    ("SecurityCtrlr", "OrganizationName", None, _RW), ("SecurityCtrlr", "SecurityProfile", None, _RO),
    ("TxCtrlr", "EVConnectionTimeOut", None, _RW),
    ("TxCtrlr", "StopTxOnEVSideDisconnect", None, _RO + _RW),
    ("TxCtrlr", "StopTxOnInvalidId", None, _RW),
    ("TxCtrlr", "TxStartPoint", None, _RO + _RW), ("TxCtrlr", "TxStopPoint", None, _RO + _RW),
    # the optional blocks this station has (LocalAuthListCtrlr, SmartChargingCtrlr)
    ("LocalAuthListCtrlr", "BytesPerMessage", None, _RO), ("LocalAuthListCtrlr", "Entries", None, _RO),
    ("LocalAuthListCtrlr", "ItemsPerMessage", None, _RO),
    ("SmartChargingCtrlr", "Entries", "ChargingProfiles", _RO),
    ("SmartChargingCtrlr", "LimitChangeSignificance", None, _RW),
    ("SmartChargingCtrlr", "PeriodsPerSchedule", None, _RO),
    ("SmartChargingCtrlr", "ProfileStackLevel", None, _RO),
    ("SmartChargingCtrlr", "RateUnit", None, _RO),
)


def _status(link, k, want, after=0, timeout=20):
    return link.wait_for("StatusNotification", lambda p: p["evseId"] == k and
                         p["connectorStatus"] == want, after=after, timeout=timeout)


def _statuses_after(link, n, k):
    return [p["connectorStatus"] for a, p in link.received[n:] if a == "StatusNotification"
            and p["evseId"] == k]


def test_TC_B_39_15_53_28_29_41_20_read_only_reports_and_resets(csms, station):
    st = station("2.0.1", evses=2)
    link = accepted(csms, st)
    # TC_B_39: MessageTimeout[Default] is read-only (it comes with the network profile)
    res = link.call("SetVariables", {"setVariableData": [{"component": {"name": "OCPPCommCtrlr"},
                    "variable": {"name": "MessageTimeout", "instance": "Default"},
                    "attributeValue": "45"}]})["setVariableResult"]
    assert res[0]["attributeStatus"] == "Rejected"
    assert res[0]["component"]["name"] == "OCPPCommCtrlr"
    assert res[0]["variable"] == {"name": "MessageTimeout", "instance": "Default"}
    # ClockCtrlr.TimeSource is ReadWrite (TC_B_53) but only the sources the station has
    res = link.call("SetVariables", {"setVariableData": [
        {"component": {"name": "ClockCtrlr"}, "variable": {"name": "TimeSource"}, "attributeValue": v}
        for v in ("NTP,Heartbeat", "Heartbeat")]})["setVariableResult"]
    assert [r["attributeStatus"] for r in res] == ["Rejected", "Accepted"]
    # TC_B_15: SummaryInventory is not supported (B07.FR.02), no report follows
    res = link.call("GetBaseReport", {"requestId": 15, "reportBase": "SummaryInventory"})
    assert res["status"] == "NotSupported"
    assert res.get("statusInfo", {"reasonCode": "UnsupportedParam"})["reasonCode"] == "UnsupportedParam"
    # TC_B_53: FullInventory reports every required variable, with its mutability
    assert link.call("GetBaseReport", {"requestId": 53, "reportBase": "FullInventory"})["status"] == "Accepted"
    link.wait_for("NotifyReport", lambda p: p["requestId"] == 53 and not p["tbc"], timeout=20)
    parts = [p for p in sent(link, "NotifyReport") if p["requestId"] == 53]
    assert [p["seqNo"] for p in parts] == list(range(len(parts)))
    got = {}
    for p in parts:
        for d in p["reportData"]:
            key = (d["component"]["name"], d["variable"]["name"], d["variable"].get("instance"))
            got.setdefault(key, []).append(d)
    wrong = [(comp, var, inst, [d["variableAttribute"][0].get("mutability", "ReadWrite")
                                for d in got.get((comp, var, inst), [])])
             for comp, var, inst, muts in _REQUIRED
             if (comp, var, inst) not in got or any(d["variableAttribute"][0].get(
                 "mutability", "ReadWrite") not in muts for d in got[(comp, var, inst)])]
    assert wrong == []                          # missing ([]) or with the wrong mutability
    assert len(got[("Connector", "AvailabilityState", None)]) == 2       # one per connector
    assert not [p for p in sent(link, "NotifyReport") if p["requestId"] == 15]

    # TC_B_28: a single EVSE is never reset: Rejected
    assert link.call("Reset", {"type": "OnIdle", "evseId": 1})["status"] == "Rejected"
    # TC_B_41: two transactions, OnIdle -> Scheduled; the reboot waits for both to end
    st.cmd("plug 1")
    st.cmd("plug 2")
    st.wait(lambda s: s["evses"][0]["relay"] and s["evses"][1]["relay"], what="both charging")
    # TC_B_29: nor with a transaction on it
    assert link.call("Reset", {"type": "OnIdle", "evseId": 1})["status"] == "Rejected"
    assert link.call("Reset", {"type": "OnIdle"})["status"] == "Scheduled"
    n = len(link.received)
    st.cmd("unplug 1")
    link.wait_for("TransactionEvent", lambda p: p["eventType"] == "Ended", after=n, timeout=15)
    _status(link, 1, "Available", after=n)
    assert not link.closed and st.evse(2)["relay"]        # transaction 2 still runs
    st.cmd("unplug 2")
    link2 = csms.station(st.ident, newer_than=link, timeout=30)
    ended = [p for a, p in link.received[n:] if a == "TransactionEvent" and p["eventType"] == "Ended"]
    assert len(ended) == 2                                 # both ended before the reboot
    assert link2.wait_for("BootNotification")["reason"] == "ScheduledReset"
    _status(link2, 1, "Available")
    _status(link2, 2, "Available")                         # every connector reported
    st.wait(lambda s: s["registration"] == "Accepted" and s["connected"], what="accepted again")
    # TC_B_20: OnIdle without a transaction: Accepted, reboot, every connector reported
    assert link2.call("Reset", {"type": "OnIdle"})["status"] == "Accepted"
    link3 = csms.station(st.ident, newer_than=link2, timeout=30)
    assert link3.wait_for("BootNotification")["reason"] == "RemoteReset"
    _status(link3, 1, "Available")
    _status(link3, 2, "Available")


def test_TC_B_52_51_status_after_an_offline_period(tmp_path):
    """B04: back from an offline period shorter than OfflineThreshold, only the
    connector that changed is reported (TC_B_52); after one longer than it, every
    connector (TC_B_51). OfflineThreshold is a day, then 0, so no test waits for it."""
    port = free_port()
    st = SimStation("ws://127.0.0.1:%d/ocpp" % port, "OFFB52", "2.0.1", tmp_path, evses=2,
                    extra=("--set", "RetryBackOffWaitMinimum=1", "--set", "RetryBackOffRandomRange=0",
                           "--set", "RetryBackOffRepeatTimes=0", "--set", "OfflineThreshold=86400"))
    try:
        with CsmsThread(host="127.0.0.1", port=port) as csms:
            st.start()
            accepted(csms, st)
        st.wait(lambda s: not s["connected"], what="offline")
        st.cmd("plug 1")                                  # starts a transaction offline
        st.wait(lambda s: s["evses"][0]["relay"], what="charging offline")
        with CsmsThread(host="127.0.0.1", port=port) as csms:
            link = csms.station("OFFB52", timeout=30)
            sn = _status(link, 1, "Occupied")
            assert sn["connectorId"] == 1
            # the queued transaction goes after the statuses (Adapter._pump)
            link.wait_for("TransactionEvent", lambda p: p["eventType"] == "Started", timeout=20)
            assert _statuses_after(link, 0, 2) == []      # TC_B_52: EVSE 2 did not change
            assert sent(link, "BootNotification") == []
            res = link.call("SetVariables", {"setVariableData": [{"component": {"name": "OCPPCommCtrlr"},
                            "variable": {"name": "OfflineThreshold"}, "attributeValue": "0"}]})
            assert res["setVariableResult"][0]["attributeStatus"] == "Accepted"
        st.wait(lambda s: not s["connected"], what="offline again")
        st.cmd("unplug 1")
        st.wait(lambda s: s["evses"][0]["tx_id"] is None, what="ended offline")
        with CsmsThread(host="127.0.0.1", port=port) as csms:
            link = csms.station("OFFB52", timeout=30)
            _status(link, 1, "Available")                 # TC_B_51: every connector
            _status(link, 2, "Available")
            assert link.violations == []
    finally:
        st.stop()


_FAST = ("--set", "RetryBackOffWaitMinimum=1", "--set", "RetryBackOffRandomRange=0",
         "--set", "RetryBackOffRepeatTimes=0", "--set", "NetworkProfileConnectionAttempts=1")
_PW = "profile-password-0123456"


def _new_profile(link, url, profile, timeout=30):
    """SetNetworkProfile slot 1 (url, profile, messageTimeout), NetworkConfigurationPriority
    1,0 and a Reset OnIdle (the TC_B_47/49/50 steps 1-6), each accepted."""
    res = link.call("SetNetworkProfile", {"configurationSlot": 1, "connectionData": {
        "ocppVersion": "OCPP20", "ocppTransport": "JSON", "ocppInterface": "Wired0",
        "ocppCsmsUrl": url, "messageTimeout": timeout, "securityProfile": profile}})
    assert res["status"] == "Accepted", res
    res = link.call("SetVariables", {"setVariableData": [{"component": {"name": "OCPPCommCtrlr"},
                    "variable": {"name": "NetworkConfigurationPriority"}, "attributeValue": "1,0"}]})
    assert res["setVariableResult"][0]["attributeStatus"] == "RebootRequired"
    assert link.call("Reset", {"type": "OnIdle"})["status"] == "Accepted"


def _timeout(link):
    res = link.call("GetVariables", {"getVariableData": [{"component": {"name": "OCPPCommCtrlr"},
                    "variable": {"name": "MessageTimeout", "instance": "Default"}}]})
    return res["getVariableResult"][0]["attributeValue"]


def test_TC_B_49_fallback_after_the_attempts_then_back_off(tmp_path):
    """A new profile whose CSMS refuses the connection: after
    NetworkProfileConnectionAttempts (1) the station goes back to the old profile; that
    refused once too, it tries again after RetryBackOffWaitMinimum and is accepted."""
    port, dead = free_port(), free_port()
    st = SimStation("ws://localhost:%d/ocpp" % port, "NPB49", "2.0.1", tmp_path,
                    extra=("--profile", "1", "--password", _PW) + _FAST)
    old_url = "ws://localhost:%d/ocpp" % port
    try:
        with CsmsThread(host="localhost", port=port, passwords={"NPB49": _PW}) as csms:
            st.start()
            link = accepted(csms, st)
            _new_profile(link, "ws://localhost:%d/ocpp" % dead, 1)
            link.wait_closed(timeout=30)             # rebooting
        st.wait_log("connect %s/NPB49 failed" % old_url, timeout=30)   # the old one refused too
        with CsmsThread(host="localhost", port=port, passwords={"NPB49": _PW}) as csms:
            link = csms.station("NPB49", timeout=40)
            assert link.wait_for("BootNotification")["reason"] == "RemoteReset"
            st.wait(lambda s: s["connected"] and s["registration"] == "Accepted", timeout=30,
                    what="accepted on the old profile")
        # after the reboot: the new profile once, back to the old one, refused, a back-off
        # wait, ... (the profiles are tried in turn by priority until one connects)
        lines = [x.split(": ", 1)[1] for x in st.log().splitlines()
                 if "failed: connect" in x or "falling back" in x or "reconnect attempt" in x]
        first = next(i for i, x in enumerate(lines) if "/ocpp/NPB49 failed" in x and str(dead) in x)
        assert "slot 1 failed 1 times: falling back to slot 0" in lines[first + 1]
        assert lines[first + 2].startswith("reconnect attempt") and lines[first + 2].endswith(" in 1000 ms")
        assert lines[first + 3].startswith("connect %s/NPB49 failed" % old_url)
    finally:
        st.stop()


def test_TC_B_47_50_migrate_to_a_new_csms_with_a_new_root(tmp_path):
    """AdditionalRootCertificateCheck on: a new CSMS root (signed by the old one) is
    installed, the old one kept as the fallback; a new profile points at another CSMS.
    TC_B_47: that CSMS still shows a certificate of the old root: the new root alone
    does not verify it, the station goes back to the old profile and connects with the
    fallback root, which it keeps. TC_B_50: the new CSMS shows a certificate of the new
    root: the station connects there and drops the old root."""
    from tests import certs
    from tests.integration.test_certificates import ids, install
    from tests.unit.test_certs import expected_hash
    old, server_old, _ = certs.make_pki()
    new = certs.make_ca(cn="MicroEVSE New Root", issuer=old)
    server_new = certs.make_server_cert(new)
    port, port2 = free_port(), free_port()
    ca_path = tmp_path / "old.pem"
    ca_path.write_bytes(old.cert_pem)
    st = SimStation("wss://localhost:%d/ocpp" % port, "NPB47", "2.0.1", tmp_path,
                    extra=("--profile", "2", "--password", _PW, "--ca", str(ca_path),
                           "--set", "AdditionalRootCertificateCheck=true") + _FAST)
    pw = {"NPB47": _PW}
    try:
        with CsmsThread(host="localhost", port=port, ssl_context=certs.server_ssl_context(server_old),
                        passwords=pw) as csms:
            st.start()
            link = accepted(csms, st)
            assert install(link, "2.0.1", new.cert_pem)["status"] == "Accepted"
            assert len(ids(link, "2.0.1")) == 2                   # new + fallback
            with CsmsThread(host="localhost", port=port2, ssl_context=certs.server_ssl_context(server_old),
                            passwords=pw) as csms2:
                _new_profile(link, "wss://localhost:%d/ocpp" % port2, 2, timeout=45)
                link = csms.station("NPB47", newer_than=link, timeout=60)     # TC_B_47
                assert link.wait_for("BootNotification")["reason"] == "RemoteReset"
                st.wait(lambda s: s["connected"] and s["registration"] == "Accepted", timeout=30,
                        what="back on the old profile")
                assert csms2.links("NPB47") == []
                assert len(ids(link, "2.0.1")) == 2               # the fallback root kept
                assert st.log_count("falling back") == 1
                assert _timeout(link) == "30"                     # the old profile's
            with CsmsThread(host="localhost", port=port2, ssl_context=certs.server_ssl_context(server_new),
                            passwords=pw) as csms2:
                assert link.call("Reset", {"type": "OnIdle"})["status"] == "Accepted"
                link2 = csms2.station("NPB47", timeout=60)                     # TC_B_50
                link2.wait_for("BootNotification")
                st.wait(lambda s: s["connected"] and s["registration"] == "Accepted", timeout=30,
                        what="accepted by the new CSMS")
                got = ids(link2, "2.0.1")
                assert got == [("CSMSRootCertificate", expected_hash(new.cert, old.cert))]
                assert _timeout(link2) == "45"                    # B09: the profile's messageTimeout
                assert link2.violations == []
    finally:
        st.stop()
