"""Registration in all three states, heartbeat and the clock (OCPP 1.6 4.2/4.6,
OCTT 1.6 TC_001/TC_002; OCPP 2.0.1 B01-B03, TC_B_01_CS, TC_B_02_CS, TC_B_03_CS,
TC_B_30_CS)."""
import time

import pytest

from tests.integration.conftest import sent, statuses

VERSIONS = ("1.6", "2.0.1")


@pytest.mark.parametrize("version", VERSIONS)
def test_TC_B_01_TC_001_boot_accepted_status_heartbeat(csms, station, version):
    """TC_B_01_CS / TC_001: Accepted -> status of every connector, heartbeat at the
    interval from the boot response."""
    csms.boot_interval = 2
    st = station(version, evses=2)
    link = csms.station(st.ident)
    boot = link.wait_for("BootNotification")
    if version == "1.6":
        assert boot["chargePointVendor"] == "MicroEVSE"
    else:
        assert boot["reason"] == "PowerUp" and boot["chargingStation"]["vendorName"] == "MicroEVSE"
    link.wait_for("Heartbeat", timeout=8)
    st.wait(lambda s: s["registration"] == "Accepted" and s["connected"], what="accepted")
    if version == "1.6":
        conns = sorted(p["connectorId"] for p in sent(link, "StatusNotification"))
        assert conns[:3] == [0, 1, 2]
        assert all(p["status"] == "Available" and p["errorCode"] == "NoError"
                   for p in sent(link, "StatusNotification"))
    else:
        evs = sorted(p["evseId"] for p in sent(link, "StatusNotification"))
        assert evs[:2] == [1, 2]
        ev = link.wait_for("SecurityEventNotification")
        assert ev["type"] == "StartupOfTheDevice"
    # the boot answer precedes everything else
    assert link.received[0][0] == "BootNotification"


@pytest.mark.parametrize("version", VERSIONS)
def test_TC_B_02_TC_002_boot_pending_then_accepted(csms, station, version):
    """TC_B_02_CS / TC_002: Pending -> boot repeated after interval, CSMS configuration
    calls answered, nothing unsolicited sent until Accepted."""
    csms.boot_status = "Pending"
    csms.boot_interval = 2
    st = station(version)
    link = csms.station(st.ident)
    link.wait_for("BootNotification")
    if version == "1.6":
        res = link.call("GetConfiguration", {"key": ["HeartbeatInterval"]})
        assert res["configurationKey"][0]["key"] == "HeartbeatInterval"
        res = link.call("RemoteStartTransaction", {"idTag": "X"})
        assert res["status"] == "Rejected"
    else:
        res = link.call("GetVariables", {"getVariableData": [
            {"component": {"name": "OCPPCommCtrlr"}, "variable": {"name": "HeartbeatInterval"}}]})
        assert res["getVariableResult"][0]["attributeStatus"] == "Accepted"
        with pytest.raises(Exception) as ei:
            link.call("ClearCache", {})
        assert getattr(ei.value, "code", None) == "SecurityError"
    t0 = time.monotonic()
    link.wait_for("BootNotification", after=1, timeout=6)
    assert time.monotonic() - t0 >= 0.5
    assert {a for a, _ in link.received} == {"BootNotification"}
    csms.boot_status = "Accepted"
    link.wait_for("StatusNotification", timeout=8)
    st.wait(lambda s: s["registration"] == "Accepted", what="accepted")


@pytest.mark.parametrize("version", VERSIONS)
def test_TC_B_03_30_boot_rejected(csms, station, version):
    """TC_B_03_CS / TC_B_30_CS: Rejected -> only BootNotification after the interval;
    1.6 answers nothing, 2.0.1 answers SecurityError."""
    csms.boot_status = "Rejected"
    csms.boot_interval = 2
    st = station(version)
    link = csms.station(st.ident)
    link.wait_for("BootNotification")
    if version == "1.6":
        with pytest.raises(Exception):
            link.call("GetConfiguration", {}, timeout=2)
    else:
        with pytest.raises(Exception) as ei:
            link.call("GetVariables", {"getVariableData": [
                {"component": {"name": "OCPPCommCtrlr"}, "variable": {"name": "HeartbeatInterval"}}]})
        assert getattr(ei.value, "code", None) == "SecurityError"
    link.wait_for("BootNotification", after=1, timeout=6)
    assert {a for a, _ in link.received} == {"BootNotification"}
    assert st.status()["registration"] == "Rejected"
    csms.boot_status = "Accepted"
    link.wait_for("StatusNotification", timeout=8)


@pytest.mark.parametrize("version", VERSIONS)
def test_boot_not_answered_station_keeps_running(csms, station, version):
    """A CSMS that never answers the boot: the kernel keeps running (the boot is retried
    after MessageTimeout plus the retry wait)."""
    from tools.csms import NO_REPLY
    csms.set_reply("BootNotification", NO_REPLY)
    st = station(version)
    link = csms.station(st.ident)
    link.wait_for("BootNotification")
    assert st.status()["registration"] != "Accepted"
    st.cmd("plug 1")
    st.wait(lambda s: s["evses"][0]["pilot"] in "BC", what="pilot responds while unregistered")
