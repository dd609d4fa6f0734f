"""ChangeAvailability (OCPP 1.6 5.2, OCTT TC_026-028 family; 2.0.1 G03/G04,
TC_G_*), configuration (1.6 5.8/5.3, TC_019/021/040; 2.0.1 B05/B06, TC_B_06/07/32-37)
and a reset that keeps settings (TC_B_20-23, TC_013-016)."""
import pytest

from tests.integration.conftest import accepted, avail_events, dedup, sent, statuses

VERSIONS = ("1.6", "2.0.1")




def _avail(link, version, evse, operative):
    if version == "1.6":
        return link.call("ChangeAvailability", {"connectorId": evse, "type": operative})["status"]
    p = {"operationalStatus": operative}
    if evse:
        p["evse"] = {"id": evse}
    return link.call("ChangeAvailability", p)["status"]


@pytest.mark.parametrize("version", VERSIONS)
def test_TC_G_03_04_11_change_availability_idle_and_scheduled(csms, station, version):
    st = station(version)
    link = accepted(csms, st)
    assert _avail(link, version, 1, "Inoperative") == "Accepted"
    link.wait_for("StatusNotification", lambda p: (p.get("status") or p.get("connectorStatus")) == "Unavailable")
    st.cmd("plug 1")
    st.wait(lambda s: s["evses"][0]["pilot"] == "B", what="plugged")
    assert not st.evse(1)["relay"]                 # an unavailable EVSE never charges
    assert _avail(link, version, 1, "Operative") == "Accepted"
    st.wait(lambda s: s["evses"][0]["relay"], what="charging once operative")
    # in a session: Scheduled, applied when it ends
    assert _avail(link, version, 1, "Inoperative") == "Scheduled"
    assert st.evse(1)["relay"]
    st.cmd("unplug 1")
    link.wait_for("StatusNotification", lambda p: (p.get("status") or p.get("connectorStatus")) == "Unavailable",
                  after=len(link.received) - 1, timeout=8)
    assert dedup(statuses(link, version))[-1] == "Unavailable"
    assert _avail(link, version, 5, "Inoperative") == "Rejected"
    if version == "2.0.1":                  # G03: NotifyEvent AvailabilityState as well
        link.wait_for("NotifyEvent", lambda p: avail_events(link)[-1:] == ["Unavailable"])
        assert dedup(avail_events(link, component="EVSE")) == dedup(statuses(link, version))
        assert avail_events(link, evse=None, component="ChargingStation") == ["Available"]


@pytest.mark.parametrize("version", VERSIONS)
def test_TC_B_23_TC_G_18_availability_and_settings_survive_reset(csms, station, version):
    """TC_B_23 / TC_G_18-21: an Inoperative EVSE stays so over a reboot; settings too."""
    st = station(version)
    link = accepted(csms, st)
    assert _avail(link, version, 1, "Inoperative") == "Accepted"
    if version == "1.6":
        assert link.call("ChangeConfiguration", {"key": "MeterValueSampleInterval", "value": "17"})["status"] == "Accepted"
        assert link.call("Reset", {"type": "Hard"})["status"] == "Accepted"
    else:
        res = link.call("SetVariables", {"setVariableData": [{"component": {"name": "SampledDataCtrlr"},
                        "variable": {"name": "TxUpdatedInterval"}, "attributeValue": "17"}]})
        assert res["setVariableResult"][0]["attributeStatus"] == "Accepted"
        assert link.call("Reset", {"type": "Immediate"})["status"] == "Accepted"
    link.wait_closed(timeout=10)
    link2 = csms.station(st.ident, newer_than=link, timeout=20)
    boot = link2.wait_for("BootNotification")
    if version == "2.0.1":
        assert boot["reason"] == "RemoteReset"
        assert link2.wait_for("SecurityEventNotification")["type"] == "ResetOrReboot"
    link2.wait_for("StatusNotification", lambda p: (p.get("status") or p.get("connectorStatus")) == "Unavailable")
    if version == "1.6":
        res = link2.call("GetConfiguration", {"key": ["MeterValueSampleInterval"]})
        assert res["configurationKey"][0]["value"] == "17"
    else:
        res = link2.call("GetVariables", {"getVariableData": [{"component": {"name": "SampledDataCtrlr"},
                         "variable": {"name": "TxUpdatedInterval"}}]})
        assert res["getVariableResult"][0]["attributeValue"] == "17"


def test_TC_B_21_reset_on_idle_scheduled_during_session(csms, station):
    """TC_B_21_CS: OnIdle during a session -> Scheduled; reboots when it ends, reason
    ScheduledReset."""
    st = station("2.0.1")
    link = accepted(csms, st)
    st.cmd("plug 1")
    st.wait(lambda s: s["evses"][0]["relay"], what="charging")
    assert link.call("Reset", {"type": "OnIdle"})["status"] == "Scheduled"
    assert st.evse(1)["relay"]
    st.cmd("unplug 1")
    link2 = csms.station(st.ident, newer_than=link, timeout=20)
    assert link2.wait_for("BootNotification")["reason"] == "ScheduledReset"


def test_TC_019_TC_021_TC_040_1_TC_040_2_get_change_configuration_16(csms, station):
    st = station("1.6")
    link = accepted(csms, st)
    allk = {c["key"]: c for c in link.call("GetConfiguration", {})["configurationKey"]}
    for key in ("HeartbeatInterval", "MeterValueSampleInterval", "MeterValuesSampledData",
                "WebSocketPingInterval", "ConnectionTimeOut", "NumberOfConnectors",
                "ClockAlignedDataInterval", "MeterValuesAlignedData", "GetConfigurationMaxKeys",
                "SupportedFeatureProfiles", "StopTxnSampledData", "TransactionMessageAttempts"):
        assert key in allk, key
    assert "AuthorizationKey" not in allk          # write-only, never read back
    assert allk["NumberOfConnectors"] == {"key": "NumberOfConnectors", "readonly": True, "value": "1"}
    res = link.call("GetConfiguration", {"key": ["HeartbeatInterval", "NoSuchKey"]})
    assert res["unknownKey"] == ["NoSuchKey"] and res["configurationKey"][0]["key"] == "HeartbeatInterval"
    ch = lambda k, v: link.call("ChangeConfiguration", {"key": k, "value": v})["status"]
    assert ch("NoSuchKey", "1") == "NotSupported"
    assert ch("NumberOfConnectors", "3") == "Rejected"
    assert ch("GetConfigurationMaxKeys", "3") == "Rejected"
    assert ch("HeartbeatInterval", "abc") == "Rejected"
    assert ch("WebSocketPingInterval", "-5") == "Rejected"
    assert ch("MeterValuesSampledData", "Energy.Active.Import.Register,Bogus") == "Rejected"
    assert ch("HeartbeatInterval", "120") == "Accepted"
    assert link.call("GetConfiguration", {"key": ["HeartbeatInterval"]})["configurationKey"][0]["value"] == "120"


def _gv(comp, var, **kw):
    d = {"component": comp if isinstance(comp, dict) else {"name": comp},
         "variable": var if isinstance(var, dict) else {"name": var}}
    d.update(kw)
    return d


def test_TC_B_06_07_08_09_10_32_33_34_35_36_37_get_set_variables_201(csms, station):
    """TC_B_06/07 (single, multiple), TC_B_32/33/34 (unknown component, unknown
    variable, attribute type), TC_B_09/10/35/36/37 for SetVariables, TC_B_08 limit."""
    st = station("2.0.1")
    link = accepted(csms, st)
    res = link.call("GetVariables", {"getVariableData": [
        _gv("OCPPCommCtrlr", "HeartbeatInterval"),
        _gv("NoSuchCtrlr", "HeartbeatInterval"),
        _gv("OCPPCommCtrlr", "NoSuchVariable"),
        _gv("OCPPCommCtrlr", "HeartbeatInterval", attributeType="Target"),
        _gv("SecurityCtrlr", "BasicAuthPassword"),
        _gv({"name": "EVSE", "evse": {"id": 1}}, "AvailabilityState"),
        _gv("ClockCtrlr", "DateTime"),
        _gv("OCPPCommCtrlr", {"name": "MessageAttempts", "instance": "TransactionEvent"}),
    ]})["getVariableResult"]
    assert [r["attributeStatus"] for r in res] == [
        "Accepted", "UnknownComponent", "UnknownVariable", "NotSupportedAttributeType",
        "Rejected", "Accepted", "Accepted", "Accepted"]
    assert res[0]["attributeValue"] == "300"
    assert res[5]["attributeValue"] == "Available"
    res = link.call("SetVariables", {"setVariableData": [
        _gv("OCPPCommCtrlr", "HeartbeatInterval", attributeValue="90"),
        _gv("NoSuchCtrlr", "X", attributeValue="1"),
        _gv("OCPPCommCtrlr", "NoSuchVariable", attributeValue="1"),
        _gv("OCPPCommCtrlr", "HeartbeatInterval", attributeValue="1", attributeType="MaxSet"),
        _gv("OCPPCommCtrlr", "HeartbeatInterval", attributeValue="ninety"),
        _gv("DeviceDataCtrlr", {"name": "ItemsPerMessage", "instance": "GetVariables"}, attributeValue="99"),
    ]})["setVariableResult"]
    assert [r["attributeStatus"] for r in res] == [
        "Accepted", "UnknownComponent", "UnknownVariable", "NotSupportedAttributeType",
        "Rejected", "Rejected"]
    res = link.call("GetVariables", {"getVariableData": [_gv("OCPPCommCtrlr", "HeartbeatInterval")]})
    assert res["getVariableResult"][0]["attributeValue"] == "90"
    with pytest.raises(Exception) as ei:
        link.call("GetVariables", {"getVariableData": [_gv("OCPPCommCtrlr", "HeartbeatInterval")] * 40})
    assert getattr(ei.value, "code", None) == "OccurrenceConstraintViolation"


def test_TC_B_12_13_get_base_report_201(csms, station):
    """B07 / TC_B_12/13: NotifyReport in parts, tbc and seqNo right."""
    st = station("2.0.1")
    link = accepted(csms, st)
    assert link.call("GetBaseReport", {"requestId": 7, "reportBase": "FullInventory"})["status"] == "Accepted"
    last = link.wait_for("NotifyReport", lambda p: not p["tbc"], timeout=10)
    parts = [p for p in sent(link, "NotifyReport") if p["requestId"] == 7]
    assert [p["seqNo"] for p in parts] == list(range(len(parts))) and last is parts[-1] or last == parts[-1]
    names = {(d["component"]["name"], d["variable"]["name"]) for p in parts for d in p["reportData"]}
    assert ("OCPPCommCtrlr", "HeartbeatInterval") in names and ("EVSE", "AvailabilityState") in names
    pw = [d for p in parts for d in p["reportData"] if d["variable"]["name"] == "BasicAuthPassword"]
    assert pw and "value" not in pw[0]["variableAttribute"][0]
    assert link.call("GetBaseReport", {"requestId": 8, "reportBase": "SummaryInventory"})["status"] == "NotSupported"


@pytest.mark.parametrize("version", VERSIONS)
def test_TC_G_06_14_station_level_availability(csms, station, version):
    """Connector 0 (1.6) / no evse (2.0.1): every EVSE; a charging one is Scheduled."""
    st = station(version, evses=2)
    link = accepted(csms, st)
    st.cmd("plug 1")
    st.wait(lambda s: s["evses"][0]["relay"], what="charging on 1")
    assert _avail(link, version, 0, "Inoperative") == "Scheduled"
    if version == "2.0.1":                  # G04: the ChargingStation's AvailabilityState
        link.wait_for("NotifyEvent", lambda p: avail_events(link, None, "ChargingStation")[-1:] ==
                      ["Unavailable"])
    key = "connectorId" if version == "1.6" else "evseId"
    link.wait_for("StatusNotification", lambda p: p[key] == 2 and
                  (p.get("status") or p.get("connectorStatus")) == "Unavailable")
    assert st.evse(1)["relay"]
    st.cmd("unplug 1")
    link.wait_for("StatusNotification", lambda p: p[key] == 1 and
                  (p.get("status") or p.get("connectorStatus")) == "Unavailable", timeout=8)
    assert _avail(link, version, 0, "Operative") == "Accepted"
    link.wait_for("StatusNotification", lambda p: p[key] == 2 and
                  (p.get("status") or p.get("connectorStatus")) == "Available",
                  after=len(link.received) - 3)


def test_control_channel_log(csms, station):
    st = station("1.6")
    accepted(csms, st)
    res = st.cmd("log 10")
    assert res["ok"] and any("boot Accepted" in line for line in res["lines"])
