"""Integration fixtures: the dev CSMS (tools/csms, `ocpp` package with schema
validation on) in-process, and simulated stations (tools/harness/sim) as processes."""
import itertools

import pytest

from tools.csms import CsmsThread
from tools.harness.simctl import SimStation

_ids = itertools.count(1)


@pytest.fixture
def csms():
    with CsmsThread(host="127.0.0.1", port=0, boot_interval=300) as c:
        yield c


@pytest.fixture
def station(csms, tmp_path):
    """station(ocpp, evses=1, extra=(...)) -> a started SimStation; stopped afterwards,
    and every message it sent must have passed the CSMS's schema validation."""
    made = []

    def make(ocpp, evses=1, extra=(), ident=None, start=True, heap="512k"):
        ident = ident or "CS%d" % next(_ids)
        st = SimStation(csms.url + "ocpp", ident, ocpp, tmp_path, evses=evses, extra=extra,
                        heap=heap)
        made.append(st)
        if start:
            st.start()
        return st

    yield make
    for st in made:
        st.stop()
    for st in made:
        for link in csms.links(st.ident):
            assert link.violations == [], "schema violations from %s: %r" % (st.ident, link.violations)


def sent(link, action):
    """Payloads of `action` the station sent on this link, in order."""
    return [p for a, p in link.received if a == action]


def statuses(link, version, connector=1):
    out = []
    for p in sent(link, "StatusNotification"):
        if version == "1.6" and p["connectorId"] == connector:
            out.append(p["status"])
        elif version == "2.0.1" and p["evseId"] == connector:
            out.append(p["connectorStatus"])
    return out


def avail_events(link, evse=1, component="Connector", after=0):
    """2.0.1: the AvailabilityState values NotifyEvent reported for `component` of EVSE
    `evse` (evse None: the ChargingStation), in order; each checked for the fields the
    OCTT expects (trigger Delta, HardWiredNotification, the evse ids)."""
    out = []
    for a, p in link.received[after:]:
        if a != "NotifyEvent":
            continue
        for d in p["eventData"]:
            if d["variable"]["name"] != "AvailabilityState" or d["component"]["name"] != component:
                continue
            ev = d["component"].get("evse")
            if (ev or {}).get("id") != evse:
                continue
            assert d["trigger"] == "Delta" and d["eventNotificationType"] == "HardWiredNotification", d
            assert component != "Connector" or ev["connectorId"] == 1, d
            out.append(d["actualValue"])
    return out


def wait_avail(link, value, evse=1, after=0, timeout=10):
    """2.0.1: wait for a NotifyEvent whose first event is the Connector of `evse` (the
    OCTT's eventData[0]) reaching AvailabilityState `value`; its payload."""
    def match(p):
        d = p["eventData"][0]
        return d["variable"]["name"] == "AvailabilityState" and d["actualValue"] == value and \
            d["component"]["name"] == "Connector" and d["component"]["evse"]["id"] == evse
    return link.wait_for("NotifyEvent", match, after=after, timeout=timeout)


def dedup(seq):
    out = []
    for x in seq:
        if not out or out[-1] != x:
            out.append(x)
    return out


def accepted(csms, st, newer_than=None):
    """The station's link once it is registered (first StatusNotification seen)."""
    link = csms.station(st.ident, newer_than=newer_than, timeout=20)
    link.wait_for("StatusNotification")
    st.wait(lambda s: s["registration"] == "Accepted" and s["connected"], what="accepted")
    return link


def roundtrip(link, timeout=20):
    """A TriggerMessage(Heartbeat) answered and its Heartbeat received: everything the
    station was given before it has been processed and what it sent before has arrived
    (one loop, one link, messages in order). The later event a "nothing happened" check
    waits for instead of sleeping."""
    n = len(link.received)
    assert link.call("TriggerMessage", {"requestedMessage": "Heartbeat"})["status"] == "Accepted"
    link.wait_for("Heartbeat", after=n, timeout=timeout)
