"""SecurityEventNotification (OCPP 1.6 security extension section 8 / 2.0.1 A04): the
startup event after every boot in both versions, critical events with guaranteed
delivery (through the transaction journal: a lost link or a reboot does not lose them),
SettingSystemTime when the CSMS moves the clock."""
import datetime

import pytest

from tests.integration.conftest import accepted, sent
from tools.csms import NO_REPLY

VERSIONS = ("1.6", "2.0.1")


@pytest.mark.slow
@pytest.mark.parametrize("version", VERSIONS)
def test_startup_event_survives_a_lost_link(csms, station, version):
    """StartupOfTheDevice is critical: unanswered on the first link, it is sent again on
    the next one (SW16 A04.FR.02: guaranteed delivery)."""
    csms.set_reply("SecurityEventNotification", NO_REPLY)
    st = station(version)
    link = accepted(csms, st)
    ev = link.wait_for("SecurityEventNotification", timeout=15)
    assert ev["type"] == "StartupOfTheDevice"
    csms.set_reply("SecurityEventNotification", None)
    link.close(1000)
    link2 = csms.station(st.ident, newer_than=link, timeout=30)
    again = link2.wait_for("SecurityEventNotification", timeout=30)
    assert again == ev                                     # the same message, sent again


@pytest.mark.parametrize("version", VERSIONS)
def test_setting_system_time_is_reported(csms, station, version):
    """A clock moved by more than a minute after the boot's first setting: critical
    SettingSystemTime with the jump in techInfo."""
    st = station(version)
    link = accepted(csms, st)
    link.wait_for("SecurityEventNotification", timeout=15)
    later = (datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(hours=2))
    link.set_reply("Heartbeat", {"currentTime": later.strftime("%Y-%m-%dT%H:%M:%SZ")})
    res = link.call("TriggerMessage", {"requestedMessage": "Heartbeat"})
    assert res["status"] == "Accepted"
    ev = link.wait_for("SecurityEventNotification", lambda p: p["type"] == "SettingSystemTime",
                       timeout=15)
    assert ev["techInfo"].startswith("jump ") and int(ev["techInfo"].split()[1]) > 7000
    types = [p["type"] for p in sent(link, "SecurityEventNotification")]
    assert types.count("StartupOfTheDevice") == 1
