"""OCTT 2.0.1 block G (availability) cases not covered elsewhere, chained on one
two-EVSE station: ChangeAvailability of a connector, an EVSE and the station, to the
state it is already in and to the other, during a transaction, and across reboots.
Covered elsewhere (named in their tests): test_status_meter.py (TC_G_01/02),
test_availability_config.py (TC_G_03/04/11, 06/14, 18)."""
from tests.integration.conftest import accepted


def _avail(link, operative, evse=None, connector=None):
    p = {"operationalStatus": "Operative" if operative else "Inoperative"}
    if evse is not None:
        p["evse"] = {"id": evse}
        if connector is not None:
            p["evse"]["connectorId"] = connector
    return link.call("ChangeAvailability", p)["status"]


def _status(link, k, want, after=0, timeout=20):
    return link.wait_for("StatusNotification", lambda p: p["evseId"] == k and
                         p["connectorStatus"] == want, after=after, timeout=timeout)


def _rebooted(csms, st, link):
    """Reset Immediate -> the new link, its boot and startup security event checked."""
    assert link.call("Reset", {"type": "Immediate"})["status"] == "Accepted"
    link2 = csms.station(st.ident, newer_than=link, timeout=30)
    link2.wait_for("BootNotification")
    ev = link2.wait_for("SecurityEventNotification", timeout=20)
    assert ev["type"] in ("StartupOfTheDevice", "ResetOrReboot")
    return link2


def test_TC_G_09_12_15_07_16_10_08_17_19_05_13_21_change_availability(csms, station):
    st = station("2.0.1", evses=2)
    link = accepted(csms, st)
    _status(link, 1, "Available")
    _status(link, 2, "Available")
    assert _avail(link, True, 1) == "Accepted"                # TC_G_09: EVSE, already operative
    assert _avail(link, True) == "Accepted"                   # TC_G_12: station, already
    assert _avail(link, True, 1, 1) == "Accepted"             # TC_G_15: connector, already
    n = len(link.received)
    assert _avail(link, False, 1, 1) == "Accepted"            # TC_G_07: connector inoperative
    sn = _status(link, 1, "Unavailable", after=n)
    assert sn["connectorId"] == 1
    assert _avail(link, False, 1, 1) == "Accepted"            # TC_G_16: connector, already
    assert _avail(link, False, 1) == "Accepted"               # TC_G_10: its EVSE, already
    assert st.evse(1)["ocpp_status"] == "Unavailable"
    n = len(link.received)
    assert _avail(link, True, 1, 1) == "Accepted"             # TC_G_08: connector operative
    _status(link, 1, "Available", after=n)

    # TC_G_17: connector of a charging EVSE: Scheduled, applied when the transaction ends
    st.cmd("plug 2")
    st.wait(lambda s: s["evses"][1]["relay"], what="charging on 2")
    assert _avail(link, False, 2, 1) == "Scheduled"
    assert st.evse(2)["relay"]
    n = len(link.received)
    st.cmd("unplug 2")
    link.wait_for("TransactionEvent", lambda p: p["eventType"] == "Ended", after=n, timeout=15)
    _status(link, 2, "Unavailable", after=n)
    n = len(link.received)
    assert _avail(link, True, 2, 1) == "Accepted"
    _status(link, 2, "Available", after=n)

    # TC_G_19: a connector made inoperative stays so over a reboot, the others not
    assert _avail(link, False, 1, 1) == "Accepted"
    _status(link, 1, "Unavailable", after=n)
    link = _rebooted(csms, st, link)
    _status(link, 1, "Unavailable")
    _status(link, 2, "Available")
    n = len(link.received)
    assert _avail(link, True, 1, 1) == "Accepted"
    _status(link, 1, "Available", after=n)

    n = len(link.received)
    assert _avail(link, False) == "Accepted"                  # TC_G_05: station inoperative
    _status(link, 1, "Unavailable", after=n)
    _status(link, 2, "Unavailable", after=n)
    assert _avail(link, False) == "Accepted"                  # TC_G_13: station, already
    link = _rebooted(csms, st, link)                          # TC_G_21: kept over a reboot
    _status(link, 1, "Unavailable")
    _status(link, 2, "Unavailable")
    st.cmd("plug 1")
    st.wait(lambda s: s["evses"][0]["pilot"] == "B", what="plugged")
    assert not st.evse(1)["relay"]                            # an inoperative station never charges
    n = len(link.received)
    assert _avail(link, True) == "Accepted"
    _status(link, 2, "Available", after=n)
