"""Bad input from the CSMS is answered as the specs say and the station keeps running:
malformed JSON, unknown actions, wrong types, oversized frames, a CSMS that never
answers, a CSMS that drops the link mid-call (OCPP-J 1.6 4.2.3, 2.0.1 Part 4 4.2.3)."""
import json
import time

import pytest

from tests.integration.conftest import accepted, roundtrip

from tools.csms import NO_REPLY

VERSIONS = ("1.6", "2.0.1")




def _reply_to(link, msg_id, timeout=5):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for d, text in link.frames:
            if d != "->":
                try:
                    m = json.loads(text)
                except ValueError:
                    continue
                if isinstance(m, list) and len(m) >= 2 and m[0] in (3, 4) and m[1] == msg_id:
                    return m
        time.sleep(0.05)
    raise AssertionError("no reply to %s; frames %r" % (msg_id, link.frames[-5:]))


@pytest.mark.parametrize("version", VERSIONS)
def test_malformed_frames(csms, station, version):
    st = station(version)
    link = accepted(csms, st)
    link.send_raw('[2, "m1", "Heartbeat", {')                      # not JSON
    err = _reply_to(link, "-1")
    assert err[0] == 4 and err[2] == ("FormationViolation" if version == "1.6" else "RpcFrameworkError")
    link.send_raw('[2, "m2", "NoSuchAction", {}]')
    assert _reply_to(link, "m2")[2] == "NotImplemented"
    if version == "1.6":
        link.send_raw('[2, "m3", "ChangeAvailability", {"connectorId": "one", "type": "Operative"}]')
        assert _reply_to(link, "m3")[2] == "TypeConstraintViolation"
        link.send_raw('[2, "m4", "ChangeAvailability", {"type": "Operative"}]')
        assert _reply_to(link, "m4")[2] == "OccurenceConstraintViolation"
        link.send_raw('[2, "m5", "ChangeAvailability", {"connectorId": 1, "type": "Sideways"}]')
        assert _reply_to(link, "m5")[2] == "PropertyConstraintViolation"
        link.send_raw('[2, "m6", "ChangeAvailability", {"connectorId": 1, "type": "Operative", "x": 1}]')
        assert _reply_to(link, "m6")[2] == "FormationViolation"
    else:
        link.send_raw('[2, "m3", "ChangeAvailability", {"operationalStatus": 5}]')
        assert _reply_to(link, "m3")[2] == "TypeConstraintViolation"
        link.send_raw('[2, "m4", "ChangeAvailability", {}]')
        assert _reply_to(link, "m4")[2] == "OccurrenceConstraintViolation"
        link.send_raw('[2, "m5", "ChangeAvailability", {"operationalStatus": "Sideways"}]')
        assert _reply_to(link, "m5")[2] == "PropertyConstraintViolation"
        link.send_raw('[2, "m6", "ChangeAvailability", {"operationalStatus": "Operative", "x": 1}]')
        assert _reply_to(link, "m6")[2] == "FormatViolation"
        link.send_raw('[9, "m7"]')
        assert _reply_to(link, "m7")[2] == "MessageTypeNotSupported"
    link.send_raw('[3, "nobody-asked", {}]')                       # dropped, never answered
    # still alive and serving
    res = link.call("TriggerMessage", {"requestedMessage": "Heartbeat"})
    assert res["status"] == "Accepted"
    link.wait_for("Heartbeat")
    assert not link.closed


@pytest.mark.slow
@pytest.mark.parametrize("version", VERSIONS)
def test_oversized_frame_closes_1009_and_reconnects(csms, station, version):
    st = station(version)
    link = accepted(csms, st)
    link.send_raw(json.dumps([2, "big", "DataTransfer", {"vendorId": "x", "data": "y" * 20000}]))
    link.wait_closed(timeout=10)
    assert link.close_code == 1009
    link2 = csms.station(st.ident, newer_than=link, timeout=30)
    # a reconnect is no reboot: no new BootNotification (a boot's first message) before
    # a round trip on the new link
    st.wait(lambda s: s["connected"], what="reconnected")
    roundtrip(link2)
    assert "BootNotification" not in [a for a, _ in link2.received]


@pytest.mark.slow
@pytest.mark.parametrize("version", VERSIONS)
def test_link_dropped_mid_call(csms, station, version):
    """The CSMS drops the link while the station waits for a StatusNotification answer:
    the station reconnects and delivers the status on the new link."""
    st = station(version)
    link = accepted(csms, st)
    link.set_reply("StatusNotification", NO_REPLY)
    n = len(link.received)
    st.cmd("plug 1")
    link.wait_for("StatusNotification", after=n)
    link.close(1011)
    link2 = csms.station(st.ident, newer_than=link, timeout=30)
    want = "Occupied" if version == "2.0.1" else None
    p = link2.wait_for("StatusNotification", timeout=15)
    if want:
        assert p["connectorStatus"] == want
    else:
        assert p["status"] in ("Preparing", "Charging")
    assert "BootNotification" not in [a for a, _ in link2.received]


def test_csms_never_answers(csms, station):
    """Calls time out after MessageTimeout; the station keeps running, keeps its link and
    delivers the status once the CSMS answers again."""
    st = station("2.0.1", extra=("--set", "MessageTimeout=2"))     # read-only over OCPP (TC_B_39)
    link = accepted(csms, st)
    link.set_reply("StatusNotification", NO_REPLY)
    n = len(link.received)
    st.cmd("plug 1")
    link.wait_for("StatusNotification", after=n)
    st.wait(lambda s: s["evses"][0]["relay"], what="charging goes on without the CSMS")
    link.wait_for("StatusNotification", after=n + 1, timeout=10)    # retried after the timeout
    link.set_reply("StatusNotification", None)
    assert st.status()["connected"]
    assert st.cmd("status")["ok"]


@pytest.mark.slow
@pytest.mark.parametrize("version", VERSIONS)
def test_fuzz_hostile_frames_station(csms, station, version):
    """Seeded hostile frames (tools/fuzz/frames.py, the valid-UTF-8 text ones: a raw
    WebSocket peer) to a running station: each frame that must be answered is, once,
    before the next goes out; the link stays up (the CSMS's websockets would close it on
    invalid UTF-8), nothing reconnects or reboots, and the station still serves a CALL.
    The frame-level fuzz (all kinds, 3,000 a version) is tests/unit/test_hostile.py."""
    from tools.fuzz import frames as F
    st = station(version)
    link = accepted(csms, st)

    def answers():
        n = 0
        for d, text in list(link.frames):
            if d != "->" and text[:2] in ("[3", "[4"):
                n += 1
        return n

    # frames within the station's max_message (8192: a bigger one closes with 1009, above)
    fr = [b for k, b in F.frames(version, 600, seed=7, skip=("Reset",))
          if k == "t" and len(b) <= 8000]
    fr = [b.decode() for b in fr if F.judge(version, "t", b, None) is not None]
    want = answers()
    for text in fr:
        must, _ = F.expect(version, "t", text.encode())
        link.send_raw(text)
        if must:
            want += 1
            deadline = time.monotonic() + 30
            while answers() < want and time.monotonic() < deadline and not link.closed:
                time.sleep(0.005)
            assert not link.closed, "link closed (%s) at %r" % (link.close_code, text[:200])
            assert answers() == want, "no answer to %r" % text[:200]
    res = link.call("TriggerMessage", {"requestedMessage": "Heartbeat"})
    assert res["status"] == "Accepted"
    link.wait_for("Heartbeat")
    assert answers() == want + 1, "answers to frames that must not be answered"
    assert not link.closed and len(csms.links(st.ident)) == 1
    assert [a for a, _ in link.received].count("BootNotification") == 1
    assert st.proc.poll() is None
