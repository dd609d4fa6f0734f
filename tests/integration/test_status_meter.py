"""Connector status on plug-in and unplug, and meter values (OCPP 1.6 4.7/4.9,
OCTT 1.6 TC_003; OCPP 2.0.1 G01, J01/J02, TC_B_01_CS)."""
import pytest

from tests.integration.conftest import accepted, avail_events, dedup, sent, statuses, wait_avail

VERSIONS = ("1.6", "2.0.1")




@pytest.mark.parametrize("version", VERSIONS)
def test_TC_G_01_02_status_on_plug_charge_unplug(csms, station, version):
    st = station(version)
    link = accepted(csms, st)
    st.cmd("plug 1")
    st.wait(lambda s: s["evses"][0]["relay"] and s["evses"][0]["energy_wh"] > 0, what="charging")
    n = len(link.received)
    st.cmd("unplug 1")
    link.wait_for("StatusNotification", lambda p: (p.get("status") or p.get("connectorStatus")) == "Available",
                  after=n, timeout=8)
    seq = dedup(statuses(link, version))
    if version == "1.6":
        assert seq == ["Available", "Preparing", "Charging", "Available"]
    else:
        assert seq == ["Available", "Occupied", "Available"]
        wait_avail(link, "Available", after=n)      # beside the StatusNotification (G01)
        assert avail_events(link) == seq and avail_events(link, component="EVSE") == seq
    ev = st.evse(1)
    assert ev["pilot"] == "A" and not ev["relay"]


def test_ev_pause_is_suspended_ev(csms, station):
    """1.6: the EV pausing (C -> B) is SuspendedEV (2.0.1 stays Occupied)."""
    st = station("1.6")
    link = accepted(csms, st)
    st.cmd("plug 1")
    st.wait(lambda s: s["evses"][0]["ocpp_status"] == "Charging", what="charging")
    st.cmd("ev 1 B")
    link.wait_for("StatusNotification", lambda p: p["status"] == "SuspendedEV", timeout=8)
    assert not st.evse(1)["relay"]


def _meter_setup(link, version, interval, measurands):
    if version == "1.6":
        for k, v in (("MeterValueSampleInterval", str(interval)), ("MeterValuesSampledData", measurands)):
            assert link.call("ChangeConfiguration", {"key": k, "value": v})["status"] == "Accepted"
    else:
        res = link.call("SetVariables", {"setVariableData": [
            {"component": {"name": "SampledDataCtrlr"}, "variable": {"name": "TxUpdatedInterval"},
             "attributeValue": str(interval)},
            {"component": {"name": "SampledDataCtrlr"}, "variable": {"name": "TxUpdatedMeasurands"},
             "attributeValue": measurands}]})
        assert [r["attributeStatus"] for r in res["setVariableResult"]] == ["Accepted", "Accepted"]


@pytest.mark.parametrize("version", VERSIONS)
def test_TC_J_09_TC_070_sampled_meter_values(csms, station, version):
    """MeterValueSampleInterval / SampledDataCtrlr.TxUpdatedInterval: the configured
    measurands, energy rising. During a transaction they travel in MeterValues with the
    transactionId (1.6) or in TransactionEvent Updated (2.0.1 E02/J02)."""
    st = station(version)
    link = accepted(csms, st)
    _meter_setup(link, version, 1, "Energy.Active.Import.Register,Power.Active.Import,Current.Import,Voltage")
    st.cmd("plug 1")
    st.wait(lambda s: s["evses"][0]["relay"], what="charging")
    if version == "1.6":
        action, pick = "MeterValues", lambda p: p["meterValue"]
    else:
        action = "TransactionEvent"
        pick = lambda p: p.get("meterValue") if p["triggerReason"] == "MeterValuePeriodic" else None
    n = len(link.received)
    link.wait_for(action, lambda p: pick(p), after=n, timeout=6)
    link.wait_for(action, lambda p: pick(p), after=len(link.received), timeout=6)
    mvs = [pick(p) for p in sent(link, action) if pick(p)]
    last = mvs[-1][0]["sampledValue"]
    ms = [(s["measurand"], s.get("phase")) for s in last]
    assert ("Energy.Active.Import.Register", None) in ms and ("Power.Active.Import", None) in ms
    assert ("Current.Import", "L1") in ms and ("Voltage", "L1-N") in ms
    assert all(s["context"] == "Sample.Periodic" for s in last)
    energies = [float(s["value"]) for mv in mvs for s in mv[0]["sampledValue"]
                if s["measurand"] == "Energy.Active.Import.Register"]
    assert energies[-1] > energies[0] >= 0
    if version == "1.6":
        p = [p for p in sent(link, "MeterValues") if p["meterValue"]][-1]
        assert p["connectorId"] == 1 and p["transactionId"] == 1
        assert {s["unit"] for s in last if s["measurand"] == "Energy.Active.Import.Register"} == {"Wh"}


@pytest.mark.parametrize("version", VERSIONS)
def test_TC_J_01_TC_071_clock_aligned_meter_values_include_main_meter(csms, station, version):
    """ClockAlignedDataInterval / AlignedDataCtrlr.Interval: every connector and the main
    meter (1.6 connector 0, 2.0.1 evseId 0)."""
    st = station(version, evses=2)
    link = accepted(csms, st)
    if version == "1.6":
        assert link.call("ChangeConfiguration", {"key": "ClockAlignedDataInterval", "value": "2"})["status"] == "Accepted"
    else:
        res = link.call("SetVariables", {"setVariableData": [
            {"component": {"name": "AlignedDataCtrlr"}, "variable": {"name": "Interval"}, "attributeValue": "2"}]})
        assert res["setVariableResult"][0]["attributeStatus"] == "Accepted"
    key = "connectorId" if version == "1.6" else "evseId"
    link.wait_for("MeterValues", lambda p: p[key] == 0, timeout=8)
    link.wait_for("MeterValues", lambda p: p[key] == 2, timeout=8)
    mv = [p for p in sent(link, "MeterValues") if p[key] == 0][0]
    assert mv["meterValue"][0]["sampledValue"][0]["context"] == "Sample.Clock"


@pytest.mark.parametrize("version", VERSIONS)
def test_TC_F_11_20_23_26_27_TC_054_TC_055_trigger_message(csms, station, version):
    """TC_054/055 (1.6), F06 (2.0.1): triggered Heartbeat, StatusNotification, MeterValues;
    BootNotification refused after Accepted; the diagnostics and firmware statuses (Idle)."""
    st = station(version)
    link = accepted(csms, st)
    if version == "1.6":
        trig = lambda m, **kw: link.call("TriggerMessage", dict(requestedMessage=m, **kw))["status"]
        assert trig("Heartbeat") == "Accepted"
        link.wait_for("Heartbeat")
        n = len(link.received)
        assert trig("StatusNotification", connectorId=1) == "Accepted"
        link.wait_for("StatusNotification", after=n)
        assert trig("MeterValues", connectorId=1) == "Accepted"
        mv = link.wait_for("MeterValues")
        assert mv["meterValue"][0]["sampledValue"][0]["context"] == "Trigger"
        assert trig("BootNotification") == "Rejected"
        n = len(link.received)
        assert trig("DiagnosticsStatusNotification") == "Accepted"      # no upload: Idle
        assert link.wait_for("DiagnosticsStatusNotification", after=n) == {"status": "Idle"}
        n = len(link.received)
        assert trig("FirmwareStatusNotification") == "Accepted"          # no update: Idle
        assert link.wait_for("FirmwareStatusNotification", after=n) == {"status": "Idle"}
        assert trig("StatusNotification", connectorId=7) == "Rejected"
    else:
        trig = lambda m, **kw: link.call("TriggerMessage", dict(requestedMessage=m, **kw))["status"]
        assert trig("Heartbeat") == "Accepted"
        link.wait_for("Heartbeat")
        n = len(link.received)
        assert trig("StatusNotification", evse={"id": 1, "connectorId": 1}) == "Accepted"
        link.wait_for("StatusNotification", after=n)
        wait_avail(link, "Available", after=n)              # TC_F_23: NotifyEvent too
        assert trig("MeterValues", evse={"id": 1}) == "Accepted"
        mv = link.wait_for("MeterValues")
        assert mv["meterValue"][0]["sampledValue"][0]["context"] == "Trigger"
        assert trig("BootNotification") == "Rejected"
        n = len(link.received)
        assert trig("LogStatusNotification") == "Accepted"              # no upload: Idle
        assert link.wait_for("LogStatusNotification", after=n) == {"status": "Idle"}
        assert trig("PublishFirmwareStatusNotification") == "NotImplemented"
        assert trig("StatusNotification", evse={"id": 9}) == "Rejected"


@pytest.mark.parametrize("version", VERSIONS)
def test_TC_041_fault_reports_faulted(csms, station, version):
    """A residual-current trip while charging: relay open at once, Faulted with
    GroundFailure (1.6) / Faulted (2.0.1); cleared by unplugging (IEC 61851-1)."""
    st = station(version)
    link = accepted(csms, st)
    st.cmd("plug 1")
    st.wait(lambda s: s["evses"][0]["relay"], what="charging")
    st.cmd("fault 1 rcd")
    p = link.wait_for("StatusNotification",
                      lambda p: (p.get("status") or p.get("connectorStatus")) == "Faulted", timeout=8)
    if version == "1.6":
        assert p["errorCode"] == "GroundFailure"
    else:
        ne = link.wait_for("NotifyEvent", lambda p: p["eventData"][0].get("techCode") == "GroundFailure")
        d = ne["eventData"][0]
        assert d["actualValue"] == "true" and d["component"]["evse"]["id"] == 1
        wait_avail(link, "Faulted")
    # the world times the open at its next step, which may come after this status
    st.wait(lambda s: not s["evses"][0]["relay"] and s["evses"][0]["fault_to_open_ms"] is not None,
            timeout=2, what="relay open, timed")
    st.cmd("clear 1 rcd")
    st.cmd("unplug 1")
    link.wait_for("StatusNotification",
                  lambda p: (p.get("status") or p.get("connectorStatus")) == "Available",
                  after=len(link.received) - 1, timeout=8)
