"""Logs and diagnostics (issue 17): OCPP 2.0.1 GetLog (N01; OCTT TC_N_25 diagnostics log,
TC_N_26 upload failed, TC_N_35 security log, TC_N_36 second request), 1.6 GetDiagnostics
(Firmware Management profile: TC_045_1, TC_045_2 upload failed) and the 1.6 security
extension's GetLog (TC_079), with their status notifications (kept while offline) and
TriggerMessage / ExtendedTriggerMessage for them.

The station uploads to the dev CSMS's file server (tools/csms/files.py) over http and
https (its certificate from the CA the station was provisioned with): PUT, or POST
multipart when the server refuses PUT with 405. What arrives must be the log, readable
(a header, timestamped lines the station logged), inside the time window asked, and
without the passwords the station was given and changed (firmware.diag.flashlog masks
them; the unit test tests/unit/test_flashlog.py covers the flash log's bounds and cuts)."""
import datetime
import time

import pytest

from tests import certs
from tests.integration.conftest import accepted, sent
from tools.csms import NO_REPLY
from tools.csms.files import FileServer

PW = "Sup3rSecretPassw0rd"          # --password (profile 0: Basic auth all the same)
PW2 = "An0therSecretPassw0rd!"      # set by the CSMS


def _iso(dt):
    return dt.strftime("%Y-%m-%dT%H:%M:%SZ")


def _now():
    return datetime.datetime.now(datetime.timezone.utc)


@pytest.fixture
def files(tmp_path):
    made = []

    def make(tls=None):
        root = tmp_path / "files"
        root.mkdir(exist_ok=True)
        srv = FileServer(root, tls=tls).start()
        made.append(srv)
        return srv

    yield make
    for s in made:
        s.stop()


def _statuses(link, action, rid=None):
    return [p["status"] for p in sent(link, action) if rid is None or p.get("requestId") == rid]


def _text(upload):
    return upload[3].decode()


def _boot(csms, station, version, extra=()):
    st = station(version, extra=("--password", PW, "--log", "debug") + tuple(extra))
    link = accepted(csms, st)
    link.wait_for("SecurityEventNotification", timeout=20)     # StartupOfTheDevice
    return st, link


def _change_password(link, version):
    if version == "1.6":
        res = link.call("ChangeConfiguration", {"key": "AuthorizationKey",
                                                "value": PW2.encode().hex()})
    else:
        res = link.call("SetVariables", {"setVariableData": [{
            "attributeValue": PW2, "component": {"name": "SecurityCtrlr"},
            "variable": {"name": "BasicAuthPassword"}}]})["setVariableResult"][0]
        res = {"status": res["attributeStatus"]}
    assert res["status"] in ("Accepted", "RebootRequired")


def _no_secrets(text):
    for s in (PW, PW2, PW2.encode().hex()):
        assert s not in text and s.lower() not in text.lower()


def test_TC_N_25_diagnostics_log_uploaded_over_http(csms, station, files):
    """GetLog DiagnosticsLog (a time window around now) to a directory URL: PUT of the
    named file, Uploading then Uploaded with the requestId; the file is the station's log,
    without its passwords."""
    srv = files()
    st, link = _boot(csms, station, "2.0.1")
    _change_password(link, "2.0.1")
    now = _now()
    res = link.call("GetLog", {"logType": "DiagnosticsLog", "requestId": 25, "retries": 0,
                               "log": {"remoteLocation": srv.url + "/logs/",
                                       "oldestTimestamp": _iso(now - datetime.timedelta(hours=1)),
                                       "latestTimestamp": _iso(now + datetime.timedelta(hours=1))}})
    assert res["status"] == "Accepted" and res["filename"].endswith(".log")
    link.wait_for("LogStatusNotification", lambda p: p["status"] == "Uploaded", timeout=30)
    assert _statuses(link, "LogStatusNotification") == ["Uploading", "Uploaded"]
    assert [p["requestId"] for p in sent(link, "LogStatusNotification")] == [25, 25]
    method, path, name, body = srv.uploads[-1]
    assert (method, path, name) == ("PUT", "/logs/" + res["filename"], res["filename"])
    text = body.decode()
    lines = text.splitlines()
    assert lines[0].startswith("# %s diagnostics log" % st.ident)
    assert all(ln[4] == "-" and ln[19:21] == "Z " for ln in lines[1:])
    assert any(" I ocpp: boot Accepted" in ln for ln in lines)
    assert any("BasicAuthPassword" in ln for ln in lines)      # the change is logged ...
    _no_secrets(text)                                          # ... its value is not


def test_TC_N_35_security_log_over_https_post(csms, station, files, tmp_path):
    """GetLog SecurityLog to an https URL the station verifies with its CSMS root; the
    server refuses PUT (405), the station POSTs the file as multipart/form-data."""
    ca = certs.make_ca()
    server = certs.make_server_cert(ca)
    pem = server.write(tmp_path, "files")
    srv = files(tls=(pem["cert"], pem["key"]))
    ca_path = tmp_path / "ca.pem"
    ca_path.write_bytes(ca.cert_pem)
    st, link = _boot(csms, station, "2.0.1", extra=("--ca", str(ca_path)))
    srv.fail("/upload", status=405, times=1)
    res = link.call("GetLog", {"logType": "SecurityLog", "requestId": 35, "retries": 0,
                               "log": {"remoteLocation": srv.url + "/upload"}})
    assert res["status"] == "Accepted"
    link.wait_for("LogStatusNotification", lambda p: p["status"] in ("Uploaded", "UploadFailure"),
                  timeout=30)
    assert _statuses(link, "LogStatusNotification", 35) == ["Uploading", "Uploaded"]
    assert [r[0] for r in srv.requests if r[1] == "/upload"] == ["PUT", "POST"]
    method, path, name, body = srv.uploads[-1]
    assert (method, name) == ("POST", res["filename"]) and "-security-" in name
    lines = body.decode().splitlines()
    assert lines[0].startswith("# %s security log" % st.ident)
    assert any(ln[19:].startswith("Z StartupOfTheDevice") for ln in lines[1:])
    assert not any(" ocpp: " in ln for ln in lines)             # the security log only


@pytest.mark.slow
@pytest.mark.parametrize("version", ("1.6", "2.0.1"))
def test_TC_N_26_TC_045_2_upload_failure_after_the_retries(csms, station, files, version):
    """Every attempt answered 500: retries + 1 attempts retryInterval apart, then
    UploadFailure (1.6 GetDiagnostics: UploadFailed)."""
    srv = files()
    st, link = _boot(csms, station, version)
    srv.fail("/fail", status=500, times=100)
    if version == "1.6":
        res = link.call("GetDiagnostics", {"location": srv.url + "/fail", "retries": 2,
                                           "retryInterval": 1})
        assert res["fileName"].endswith(".log")
        action, final = "DiagnosticsStatusNotification", "UploadFailed"
    else:
        res = link.call("GetLog", {"logType": "DiagnosticsLog", "requestId": 26, "retries": 2,
                                   "retryInterval": 1,
                                   "log": {"remoteLocation": srv.url + "/fail"}})
        assert res["status"] == "Accepted"
        action, final = "LogStatusNotification", "UploadFailure"
    link.wait_for(action, lambda p: p["status"] == final, timeout=60)
    assert _statuses(link, action) == ["Uploading", final]
    assert [r[0] for r in srv.requests if r[1] == "/fail"] == ["PUT"] * 3
    assert srv.uploads == []


@pytest.mark.slow
def test_TC_N_36_second_request_cancels_the_first(csms, station, files):
    """A GetLog while one waits to retry: AcceptedCanceled, the first reported
    AcceptedCanceled, the second uploaded; TriggerMessage LogStatusNotification says
    Uploading with the running requestId, Idle when none runs."""
    srv = files()
    st, link = _boot(csms, station, "2.0.1")
    assert link.call("TriggerMessage", {"requestedMessage": "LogStatusNotification"}) == \
        {"status": "Accepted"}
    assert link.wait_for("LogStatusNotification", timeout=15) == {"status": "Idle"}
    srv.fail("/first", status=503, times=100)
    res = link.call("GetLog", {"logType": "DiagnosticsLog", "requestId": 1, "retries": 5,
                               "retryInterval": 600,
                               "log": {"remoteLocation": srv.url + "/first"}})
    assert res["status"] == "Accepted"
    link.wait_for("LogStatusNotification", lambda p: p.get("requestId") == 1, timeout=15)
    end = time.monotonic() + 30
    while not any(r[1] == "/first" for r in srv.requests):
        assert time.monotonic() < end, "no attempt at /first"
        time.sleep(0.05)
    n0 = len(sent(link, "LogStatusNotification"))
    assert link.call("TriggerMessage", {"requestedMessage": "LogStatusNotification"}) == \
        {"status": "Accepted"}
    assert link.wait_for("LogStatusNotification", after=n0,
                         pred=lambda p: p == {"status": "Uploading", "requestId": 1}, timeout=15)
    res = link.call("GetLog", {"logType": "DiagnosticsLog", "requestId": 2, "retries": 0,
                               "log": {"remoteLocation": srv.url + "/second"}})
    assert res["status"] == "AcceptedCanceled"
    link.wait_for("LogStatusNotification", lambda p: p.get("requestId") == 2 and
                  p["status"] == "Uploaded", timeout=30)
    got = [(p["status"], p.get("requestId")) for p in sent(link, "LogStatusNotification")]
    assert got == [("Idle", None), ("Uploading", 1), ("Uploading", 1), ("AcceptedCanceled", 1),
                   ("Uploading", 2), ("Uploaded", 2)]
    assert [u[1] for u in srv.uploads] == ["/second"]


def test_log_statuses_kept_while_offline_sent_after_the_reconnect(csms, station, files):
    """The link is lost while an upload runs (the CSMS never answers Uploading, then
    closes the link and refuses the station until the file has arrived): Uploading and
    Uploaded are kept and go out in order on the next connection (firmware.ocpp.dmq)."""
    srv = files()
    st, link = _boot(csms, station, "2.0.1")
    link.set_reply("LogStatusNotification", NO_REPLY)
    csms.csms.passwords = {st.ident: "NotTheStationsPassword"}     # 401 until restored
    try:
        res = link.call("GetLog", {"logType": "DiagnosticsLog", "requestId": 7, "retries": 0,
                                   "log": {"remoteLocation": srv.url + "/logs/"}})
        assert res["status"] == "Accepted"
        link.wait_for("LogStatusNotification", lambda p: p["status"] == "Uploading", timeout=30)
        link.close()
        assert srv.wait_upload(timeout=60) is not None     # done while the station is offline
        st.wait(lambda s: not s["connected"], what="offline")
    finally:
        csms.csms.passwords = None
    new = csms.station(st.ident, newer_than=link, timeout=120)
    new.wait_for("LogStatusNotification", lambda p: p["status"] == "Uploaded", timeout=60)
    assert [(p["status"], p["requestId"]) for p in sent(new, "LogStatusNotification")] == \
        [("Uploading", 7), ("Uploaded", 7)]


def test_TC_045_1_get_diagnostics_time_window_and_trigger(csms, station, files):
    """1.6 GetDiagnostics: startTime/stopTime honoured (a window in the past or the
    future holds the header only, one around now the log), DiagnosticsStatusNotification
    Uploading then Uploaded; TriggerMessage DiagnosticsStatusNotification: Idle. The
    upload's protocols are the configuration's SupportedFileTransferProtocols."""
    srv = files()
    st, link = _boot(csms, station, "1.6")
    conf = link.call("GetConfiguration", {"key": ["SupportedFileTransferProtocols"]})
    assert [(k["key"], k["value"], k["readonly"]) for k in conf["configurationKey"]] == \
        [("SupportedFileTransferProtocols", "HTTP,HTTPS", True)]
    now = _now()
    windows = [({"startTime": _iso(now + datetime.timedelta(hours=1))}, False),
               ({"stopTime": _iso(now - datetime.timedelta(hours=1))}, False),
               ({"startTime": _iso(now - datetime.timedelta(hours=1)),
                 "stopTime": _iso(now + datetime.timedelta(hours=1))}, True)]
    for i, (w, full) in enumerate(windows):
        res = link.call("GetDiagnostics", dict(w, location=srv.url + "/diag/", retries=0))
        up = srv.wait_upload(i + 1, timeout=30)
        assert up is not None and up[2] == res["fileName"]
        link.wait_for("DiagnosticsStatusNotification", lambda p: p["status"] == "Uploaded",
                      timeout=30, after=0)
        lines = _text(up).splitlines()
        assert lines[0].startswith("# %s diagnostics log" % st.ident)
        assert (len(lines) > 5) == full, (w, lines[:3])
        _no_secrets(_text(up))
    link.wait_for("DiagnosticsStatusNotification", lambda p: p["status"] == "Uploaded",
                  timeout=30)
    assert link.call("TriggerMessage", {"requestedMessage": "DiagnosticsStatusNotification"}) \
        == {"status": "Accepted"}
    link.wait_for("DiagnosticsStatusNotification", lambda p: p["status"] == "Idle", timeout=15)
    assert _statuses(link, "DiagnosticsStatusNotification") == \
        ["Uploading", "Uploaded"] * 3 + ["Idle"]


def test_TC_079_get_security_log_1_6(csms, station, files):
    """1.6 security extension GetLog SecurityLog with LogStatusNotification (requestId);
    ExtendedTriggerMessage LogStatusNotification: Idle; a location that is not http(s):
    Rejected."""
    srv = files()
    st, link = _boot(csms, station, "1.6")
    res = link.call("GetLog", {"logType": "SecurityLog", "requestId": 79,
                               "log": {"remoteLocation": "ftp://127.0.0.1/logs/"}})
    assert res == {"status": "Rejected"}
    res = link.call("GetLog", {"logType": "SecurityLog", "requestId": 79, "retries": 0,
                               "log": {"remoteLocation": srv.url + "/sec/"}})
    assert res["status"] == "Accepted"
    link.wait_for("LogStatusNotification", lambda p: p["status"] == "Uploaded", timeout=30)
    assert [(p["status"], p["requestId"]) for p in sent(link, "LogStatusNotification")] == \
        [("Uploading", 79), ("Uploaded", 79)]
    text = _text(srv.uploads[-1])
    assert "StartupOfTheDevice" in text and text.startswith("# %s security log" % st.ident)
    assert link.call("ExtendedTriggerMessage", {"requestedMessage": "LogStatusNotification"}) \
        == {"status": "Accepted"}
    link.wait_for("LogStatusNotification", lambda p: p["status"] == "Idle", timeout=15)


@pytest.mark.slow
def test_flash_log_survives_a_restart(csms, station, files):
    """A line logged before a Reset and a killed process is in the log uploaded after
    the station is started again on the same flash image."""
    srv = files()
    st, link = _boot(csms, station, "2.0.1")
    st.cmd("tag 1 MARKER17")
    st.wait_log("tag MARKER17 at evse 1")
    assert link.call("Reset", {"type": "Immediate"})["status"] == "Accepted"
    link = csms.station(st.ident, newer_than=link, timeout=30)
    link.wait_for("StatusNotification", timeout=30)
    st.kill()
    st.start()
    link = csms.station(st.ident, newer_than=link, timeout=30)
    link.wait_for("StatusNotification", timeout=30)
    res = link.call("GetLog", {"logType": "DiagnosticsLog", "requestId": 17, "retries": 0,
                               "log": {"remoteLocation": srv.url + "/after/"}})
    assert res["status"] == "Accepted"
    up = srv.wait_upload(1, timeout=30)
    assert up is not None
    text = _text(up)
    assert "tag MARKER17 at evse 1" in text and "main: reset: RemoteReset" in text


@pytest.mark.slow
def test_failed_flash_log_writes_do_not_stop_the_station(csms, station, files):
    """The flash log's appends fail (no heap for littlefs's file buffer, `nomem`, then a
    failed program, `eio`): the failure is logged once, the station stays connected and
    keeps charging, and once the flash works again the lines held in RAM are written
    and uploaded."""
    srv = files()
    st, link = _boot(csms, station, "1.6")
    st.cmd("nomem 1000")
    st.cmd("tag 1 DURING-NOMEM")
    st.wait_log("flashlog: write failed: MemoryError")
    st.cmd("plug 1")
    st.wait(lambda s: s["evses"][0]["state"] == "Charging" and s["connected"], timeout=30,
            what="charging while the flash log fails")
    st.cmd("nomem 0")
    st.cmd("eio 1")
    res = link.call("GetLog", {"logType": "DiagnosticsLog", "requestId": 3, "retries": 1,
                               "retryInterval": 1, "log": {"remoteLocation": srv.url + "/l/"}})
    assert res["status"] == "Accepted"
    link.wait_for("LogStatusNotification", lambda p: p["status"] == "Uploaded", timeout=30)
    text = _text(srv.uploads[-1])
    assert "tag DURING-NOMEM at evse 1" in text and "flashlog: write failed" in text
    assert st.log_count("flashlog: write failed") <= 2        # once a failing streak
    assert st.status()["connected"]
