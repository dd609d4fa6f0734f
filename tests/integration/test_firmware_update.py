"""Firmware updates end to end against the dev CSMS (schema validation on) and its file
server (tools/csms/files.py), over http and https (docs/firmware-update.md).

OCPP 2.0.1 block L (OCTT TC_L_01 installation, TC_L_02/TC_L_03 install and download
scheduled, TC_L_05 InvalidCertificate, TC_L_06 InvalidSignature, TC_L_07 DownloadFailed,
TC_L_08 InstallVerificationFailed, TC_L_10 AcceptedCanceled, TC_L_14/TC_L_15 a
transaction running, either value of AllowNewSessionsPendingFirmwareUpdate, TC_L_18 no
signature); OCPP 1.6 FirmwareManagement
(TC_044_1 download and install, TC_044_2 download failed, TC_044_3 installation failed)
and the security extension's signed update (TC_080, TC_081 invalid signature); a
resumed download; power cuts of the running station during an update.

The bundles are built once for the module by tools/fwupd/bundle.py (a dev PKI in the
module's temporary folder); the manufacturer root is installed with InstallCertificate.
The station's flash is 2 MiB (--flash-kb 2048): two slots and a download need it."""
import datetime
import os
import shutil

import pytest

from tests import certs
from tests.integration.conftest import accepted, sent, statuses
from tools.csms.files import FileServer
from tools.fwupd import bundle as B

NEW = "9.1.0"
# 2 MiB of flash for the two slots; a 1 MB heap: the simulator reboots in-process, so the
# base firmware's modules compile (64-bit, from source) while the ones of the firmware that
# failed are still being collected — two firmwares in one heap, which a board never has.
FLASH = ("--flash-kb", "2048", "--heap", "1m")


@pytest.fixture(scope="module")
def fw(tmp_path_factory):
    d = tmp_path_factory.mktemp("fw")
    key = str(d / "pki" / "dev-key.pem")
    srv = d / "www"
    out = {"dir": srv,
           "good": B.build(str(srv), NEW, key, name="fw.bin"),
           "import": B.build(str(srv), "9.2.0-broken", key, fail="import", name="broken.bin"),
           "register": B.build(str(srv), "9.3.0-offline", key, fail="register",
                               name="offline.bin")}
    ca = certs.make_ca("Files CA")
    server = certs.make_server_cert(ca)
    out["tls"] = server.write(d, "files")
    out["ca"] = ca.write(d, "ca")
    with open(srv / "fw.bin", "rb") as f:
        data = bytearray(f.read())
    data[-5] ^= 1
    (srv / "tampered.bin").write_bytes(bytes(data))
    return out


@pytest.fixture
def files(fw):
    servers = {}

    def get(scheme="http"):
        if scheme not in servers:
            s = FileServer(fw["dir"], tls=(fw["tls"]["cert"], fw["tls"]["key"])
                           if scheme == "https" else None)
            servers[scheme] = s.start()
        return servers[scheme]
    yield get
    for s in servers.values():
        s.stop()


def _now(dt=0):
    t = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(seconds=dt)
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


def _start(station, csms, fw, version, extra=(), evses=1):
    st = station(version, evses=evses, extra=FLASH + ("--ca", fw["ca"]["cert"]) + tuple(extra))
    link = accepted(csms, st)
    res = link.call("InstallCertificate", {"certificateType": "ManufacturerRootCertificate",
                                           "certificate": fw["good"]["root"]})
    assert res["status"] == "Accepted"
    return st, link


def _update(link, version, url, fwb, rid=42, signed=True, cert=None, sig=None, retries=None,
            interval=None):
    """UpdateFirmware (2.0.1), SignedUpdateFirmware (1.6, signed) or UpdateFirmware (1.6)."""
    if version == "1.6" and not signed:
        p = {"location": url, "retrieveDate": _now(-10)}
        if retries is not None:
            p["retries"], p["retryInterval"] = retries, interval
        return link.call("UpdateFirmware", p)
    f = {"location": url, "retrieveDateTime": _now(-10),
         "signingCertificate": cert or fwb["cert"], "signature": sig or fwb["sig"]}
    p = {"requestId": rid, "firmware": f}
    if retries is not None:
        p["retries"], p["retryInterval"] = retries, interval
    return link.call("SignedUpdateFirmware" if version == "1.6" else "UpdateFirmware", p)


def _msg(version, signed=True):
    return "SignedFirmwareStatusNotification" if version == "1.6" and signed \
        else "FirmwareStatusNotification"


def _statuses(link, version, signed=True):
    return [p["status"] for p in sent(link, _msg(version, signed))]


def _rebooted(csms, st, link, version, want):
    """The link after the reboot into the new firmware; its BootNotification's version."""
    new = csms.station(st.ident, newer_than=link, timeout=120)
    boot = new.wait_for("BootNotification", timeout=60)
    fv = boot["firmwareVersion"] if version == "1.6" else boot["chargingStation"]["firmwareVersion"]
    assert fv == want
    return new, boot


@pytest.mark.slow
@pytest.mark.parametrize("version,scheme", [("2.0.1", "https"), ("2.0.1", "http"),
                                            ("1.6", "https"), ("1.6", "http")])
def test_TC_L_01_TC_080_signed_update_end_to_end(csms, station, fw, files, version, scheme):
    srv = files(scheme)
    st, link = _start(station, csms, fw, version)
    res = _update(link, version, srv.url + "/fw.bin", fw["good"])
    assert res["status"] == "Accepted"
    link.wait_for(_msg(version), lambda p: p["status"] == "InstallRebooting", timeout=120)
    assert _statuses(link, version) == ["Downloading", "Downloaded", "SignatureVerified",
                                        "Installing", "InstallRebooting"]
    assert all(p["requestId"] == 42 for p in sent(link, _msg(version)))
    new, boot = _rebooted(csms, st, link, version, NEW)
    if version == "2.0.1":
        assert boot["reason"] == "FirmwareUpdate"
    p = new.wait_for(_msg(version), timeout=30)
    assert p == {"status": "Installed", "requestId": 42}
    new.wait_for("SecurityEventNotification", lambda p: p["type"] == "FirmwareUpdated", timeout=30)
    assert any(r[0] == "GET" and r[1] == "/fw.bin" for r in srv.requests)
    # triggered afterwards: Idle (no update under way)
    trig = ("ExtendedTriggerMessage", "FirmwareStatusNotification") if version == "1.6" \
        else ("TriggerMessage", "FirmwareStatusNotification")
    n = len(new.received)
    assert new.call(trig[0], {"requestedMessage": trig[1]})["status"] == "Accepted"
    assert new.wait_for(_msg(version), after=n, timeout=30)["status"] == "Idle"


def test_TC_044_1_update_firmware_1_6(csms, station, fw, files):
    srv = files("http")
    st, link = _start(station, csms, fw, "1.6")
    assert _update(link, "1.6", srv.url + "/fw.bin", fw["good"], signed=False) == {}
    link.wait_for("FirmwareStatusNotification", lambda p: p["status"] == "Installing", timeout=120)
    new, _ = _rebooted(csms, st, link, "1.6", NEW)
    assert new.wait_for("FirmwareStatusNotification", timeout=30) == {"status": "Installed"}
    assert _statuses(link, "1.6", False) == ["Downloading", "Downloaded", "Installing"]
    n = len(new.received)
    assert new.call("TriggerMessage", {"requestedMessage": "FirmwareStatusNotification"}) == \
        {"status": "Accepted"}
    assert new.wait_for("FirmwareStatusNotification", after=n, timeout=30) == {"status": "Idle"}


def test_TC_044_2_TC_L_07_download_failed_after_retries(csms, station, fw, files):
    srv = files("http")
    st, link = _start(station, csms, fw, "2.0.1")
    _update(link, "2.0.1", srv.url + "/missing.bin", fw["good"], retries=2, interval=1)
    link.wait_for(_msg("2.0.1"), lambda p: p["status"] == "DownloadFailed", timeout=60)
    assert _statuses(link, "2.0.1") == ["Downloading"] * 3 + ["DownloadFailed"]
    assert sum(1 for r in srv.requests if r[1] == "/missing.bin") == 3
    # 1.6: the location unreachable (nothing listens), no retry
    st16, link16 = _start(station, csms, fw, "1.6")
    _update(link16, "1.6", "http://127.0.0.1:9/fw.bin", fw["good"], signed=False, retries=0,
            interval=1)
    link16.wait_for("FirmwareStatusNotification", lambda p: p["status"] == "DownloadFailed",
                    timeout=60)
    assert _statuses(link16, "1.6", False) == ["Downloading", "DownloadFailed"]


@pytest.mark.parametrize("version", ["2.0.1", "1.6"])
def test_TC_L_06_TC_081_invalid_signature(csms, station, fw, files, version):
    srv = files("http")
    st, link = _start(station, csms, fw, version)
    _update(link, version, srv.url + "/tampered.bin", fw["good"])
    link.wait_for(_msg(version), lambda p: p["status"] == "InvalidSignature", timeout=60)
    assert _statuses(link, version) == ["Downloading", "Downloaded", "InvalidSignature"]
    link.wait_for("SecurityEventNotification", lambda p: p["type"] == "InvalidFirmwareSignature",
                  timeout=30)
    assert st.status()["registration"] == "Accepted"          # no reboot


def test_TC_044_3_tampered_file_1_6(csms, station, fw, files):
    srv = files("http")
    st, link = _start(station, csms, fw, "1.6")
    _update(link, "1.6", srv.url + "/tampered.bin", fw["good"], signed=False)
    link.wait_for("FirmwareStatusNotification", lambda p: p["status"] == "InstallationFailed",
                  timeout=60)
    assert _statuses(link, "1.6", False) == ["Downloading", "Downloaded", "InstallationFailed"]


@pytest.mark.parametrize("version", ["2.0.1", "1.6"])
def test_TC_L_05_untrusted_signing_certificate(csms, station, fw, files, version):
    srv = files("http")
    other = certs.make_ca("Not the manufacturer")
    st, link = _start(station, csms, fw, version)
    res = _update(link, version, srv.url + "/fw.bin", fw["good"], cert=other.cert_pem.decode())
    assert res["status"] == "InvalidCertificate"
    link.wait_for("SecurityEventNotification",
                  lambda p: p["type"] == "InvalidFirmwareSigningCertificate", timeout=30)
    assert _statuses(link, version) == []


def _allow_new_sessions(link):
    res = link.call("SetVariables", {"setVariableData": [{
        "attributeValue": "true", "component": {"name": "ChargingStation"},
        "variable": {"name": "AllowNewSessionsPendingFirmwareUpdate"}}]})
    assert res["setVariableResult"][0]["attributeStatus"] == "Accepted"


@pytest.mark.slow
@pytest.mark.parametrize("allow", [False, True])
def test_TC_L_14_TC_L_15_install_waits_for_the_transaction(csms, station, fw, files, allow):
    """The download runs while a transaction does, the install waits for it to end
    (InstallScheduled). ChargingStation.AllowNewSessionsPendingFirmwareUpdate false, the
    default (TC_L_15): the idle EVSE 2 is Unavailable meanwhile (L01.FR.07); true
    (TC_L_14): EVSE 2 starts a session of its own and the install waits for both."""
    srv = files("http")
    st, link = _start(station, csms, fw, "2.0.1", evses=2)
    if allow:
        _allow_new_sessions(link)
    st.cmd("plug 1")
    st.wait(lambda s: s["evses"][0]["relay"], what="charging")
    _update(link, "2.0.1", srv.url + "/fw.bin", fw["good"])
    link.wait_for(_msg("2.0.1"), lambda p: p["status"] == "InstallScheduled", timeout=120)
    if allow:
        st.cmd("plug 2")                            # a new session while the install waits
        st.wait(lambda s: s["evses"][1]["relay"], what="EVSE 2 charging")
        n = len(link.received)
        st.cmd("unplug 1")
        link.wait_for("StatusNotification", lambda p: p["evseId"] == 1 and
                      p["connectorStatus"] == "Available", after=n, timeout=30)
        assert st.evse(2)["relay"] and "Installing" not in _statuses(link, "2.0.1")
        st.cmd("unplug 2")
        link.wait_for(_msg("2.0.1"), lambda p: p["status"] == "InstallRebooting", timeout=60)
        assert _statuses(link, "2.0.1") == ["Downloading", "Downloaded", "SignatureVerified",
                                            "InstallScheduled", "Installing", "InstallRebooting"]
        assert "Unavailable" not in statuses(link, "2.0.1", 2)
        return
    # L01.FR.07: no new session meanwhile: the idle EVSE 2 is Unavailable
    link.wait_for("StatusNotification", lambda p: p["evseId"] == 2 and
                  p["connectorStatus"] == "Unavailable", timeout=30)
    assert st.evse(1)["relay"]                      # still charging: nothing installed
    n = len(link.received)                          # TriggerMessage: the status under way
    assert link.call("TriggerMessage", {"requestedMessage": "FirmwareStatusNotification"}) == \
        {"status": "Accepted"}
    assert link.wait_for(_msg("2.0.1"), after=n, timeout=30) == \
        {"status": "InstallScheduled", "requestId": 42}
    st.cmd("unplug 1")
    link.wait_for(_msg("2.0.1"), lambda p: p["status"] == "InstallRebooting", timeout=60)
    assert _statuses(link, "2.0.1") == ["Downloading", "Downloaded", "SignatureVerified",
                                        "InstallScheduled", "InstallScheduled", "Installing",
                                        "InstallRebooting"]
    ended = [p for p in sent(link, "TransactionEvent") if p["eventType"] == "Ended"]
    assert ended, "the transaction ended before the install"
    new, _ = _rebooted(csms, st, link, "2.0.1", NEW)
    assert new.wait_for(_msg("2.0.1"), timeout=30)["status"] == "Installed"


def _clock_to(link, dt):
    """The station's clock set dt seconds from now by the CSMS: a Heartbeat answered
    with that currentTime (TimeSource Heartbeat), asked for with TriggerMessage."""
    link.set_reply("Heartbeat", {"currentTime": _now(dt)})
    n = len(link.received)
    assert link.call("TriggerMessage", {"requestedMessage": "Heartbeat"}) == {"status": "Accepted"}
    link.wait_for("Heartbeat", after=n, timeout=30)


@pytest.mark.slow
def test_TC_L_03_TC_L_02_download_and_install_scheduled(csms, station, fw, files):
    """retrieveDateTime an hour ahead: DownloadScheduled and no download (TC_L_03);
    installDateTime two hours ahead: after the download InstallScheduled (TC_L_02). The
    CSMS moves the station's clock past each time in turn: the download, then the install,
    the reboot into the new version and Installed."""
    srv = files("http")
    st, link = _start(station, csms, fw, "2.0.1")
    f = {"location": srv.url + "/fw.bin", "retrieveDateTime": _now(3600),
         "installDateTime": _now(7200), "signingCertificate": fw["good"]["cert"],
         "signature": fw["good"]["sig"]}
    assert link.call("UpdateFirmware", {"requestId": 3, "firmware": f}) == {"status": "Accepted"}
    link.wait_for(_msg("2.0.1"), lambda p: p["status"] == "DownloadScheduled", timeout=30)
    assert not any(r[1] == "/fw.bin" for r in srv.requests)
    _clock_to(link, 3700)
    link.wait_for(_msg("2.0.1"), lambda p: p["status"] == "InstallScheduled", timeout=120)
    assert any(r[1] == "/fw.bin" for r in srv.requests)
    _clock_to(link, 7300)
    link.wait_for(_msg("2.0.1"), lambda p: p["status"] == "InstallRebooting", timeout=120)
    assert [(p["status"], p["requestId"]) for p in sent(link, _msg("2.0.1"))] == \
        [(x, 3) for x in ("DownloadScheduled", "Downloading", "Downloaded", "SignatureVerified",
                          "InstallScheduled", "Installing", "InstallRebooting")]
    new, _ = _rebooted(csms, st, link, "2.0.1", NEW)
    assert new.wait_for(_msg("2.0.1"), timeout=30) == {"status": "Installed", "requestId": 3}


def test_TC_L_18_missing_signing_certificate_and_signature(csms, station, fw, files):
    """An UpdateFirmware without signingCertificate and signature is Rejected (a secure
    update only, L01.FR.11): nothing is downloaded, no update is under way (Idle)."""
    srv = files("http")
    st = station("2.0.1")
    link = accepted(csms, st)
    res = link.call("UpdateFirmware", {"requestId": 18, "firmware": {
        "location": srv.url + "/fw.bin", "retrieveDateTime": _now(-10)}})
    assert res["status"] == "Rejected"
    assert link.call("TriggerMessage", {"requestedMessage": "FirmwareStatusNotification"}) == \
        {"status": "Accepted"}
    assert link.wait_for(_msg("2.0.1"), timeout=30) == {"status": "Idle"}
    assert srv.requests == []


def test_TC_L_10_second_request_cancels_the_first(csms, station, fw, files):
    srv = files("http")
    st, link = _start(station, csms, fw, "2.0.1")
    later = {"requestId": 1, "firmware": {
        "location": srv.url + "/fw.bin", "retrieveDateTime": _now(3600),
        "signingCertificate": fw["good"]["cert"], "signature": fw["good"]["sig"]}}
    assert link.call("UpdateFirmware", later)["status"] == "Accepted"
    link.wait_for(_msg("2.0.1"), lambda p: p["status"] == "DownloadScheduled", timeout=30)
    res = _update(link, "2.0.1", srv.url + "/missing.bin", fw["good"], rid=2, retries=0,
                  interval=1)
    assert res["status"] == "AcceptedCanceled"
    link.wait_for(_msg("2.0.1"), lambda p: p["status"] == "DownloadFailed", timeout=60)
    assert [(p["status"], p["requestId"]) for p in sent(link, _msg("2.0.1"))] == \
        [("DownloadScheduled", 1), ("Downloading", 2), ("DownloadFailed", 2)]


@pytest.mark.slow
@pytest.mark.parametrize("version,fail", [("2.0.1", "import"), ("1.6", "register")])
def test_TC_L_08_rollback_when_the_new_firmware_fails(csms, station, fw, files, version, fail):
    """'import': the new firmware does not start (its main module raises): after its 3
    boots the previous one runs again. 'register': it starts but never reaches the CSMS:
    taken back after fw_trial_s. Either way the previous firmware reports the failure."""
    srv = files("http")
    st, link = _start(station, csms, fw, version, extra=("--fw-trial-s", "10"))
    signed = version == "2.0.1"
    name = {"import": "broken.bin", "register": "offline.bin"}[fail]
    _update(link, version, srv.url + "/" + name, fw[fail], signed=signed)
    new, _ = _rebooted(csms, st, link, version, "0.1.0")     # the previous (base) firmware
    p = new.wait_for(_msg(version, signed), timeout=60)
    if signed:
        assert p == {"status": "InstallVerificationFailed", "requestId": 42}
    else:
        assert p == {"status": "InstallationFailed"}
    log = st.log()
    assert ("firmware does not load" in log) if fail == "import" else \
        ("not accepted within 10 s" in log)


def test_TC_L_01_download_resumed_after_a_broken_connection(csms, station, fw, files):
    """The file server drops the connection after 100 bytes (which are not the file's):
    the retry asks for the rest (Range); the whole is refused, so it is downloaded once
    more whole, and installed. TriggerMessage meanwhile gives the status under way."""
    srv = files("http")
    st, link = _start(station, csms, fw, "2.0.1")
    srv.fail("/fw.bin", drop=True, times=1)
    _update(link, "2.0.1", srv.url + "/fw.bin", fw["good"], rid=5, retries=2, interval=1)
    link.wait_for(_msg("2.0.1"), lambda p: p["status"] == "InstallRebooting", timeout=120)
    gets = [r for r in srv.requests if r[1] == "/fw.bin"]
    assert len(gets) == 3
    assert gets[1][2].get("Range") == "bytes=100-" and "Range" not in gets[2][2]
    assert _statuses(link, "2.0.1") == ["Downloading", "Downloading", "Downloaded",
                                        "Downloading", "Downloaded", "SignatureVerified",
                                        "Installing", "InstallRebooting"]
    new, _ = _rebooted(csms, st, link, "2.0.1", NEW)
    assert new.wait_for(_msg("2.0.1"), timeout=30) == {"status": "Installed", "requestId": 5}


@pytest.mark.slow
@pytest.mark.parametrize("version,writes", [("2.0.1", 40), ("2.0.1", 300), ("1.6", 300),
                                            ("2.0.1", 560)])
def test_power_cut_during_the_update_of_a_running_station(csms, station, fw, files, version,
                                                          writes):
    """The station's power cut (`cut N`: the N-th flash program/erase is not done, the
    firmware boots again on the same image) during an update: early in the download
    (nothing of the file synced yet), late in it, in the install (an update is ~750
    writes). The station comes back on the old firmware, whole, and takes the update up
    again by itself (firmware.update.record): the download resumed where the file on
    flash ends (a Range request), the statuses from the one reached on with the same
    requestId, the new firmware, Installed."""
    srv = files("http")
    st, link = _start(station, csms, fw, version)
    st.cmd("cut %d" % writes)
    _update(link, version, srv.url + "/fw.bin", fw["good"], rid=7)
    st.wait(lambda s: s["power_cuts"] == 1, timeout=120, what="the power cut")
    with open(st.log_path, errors="replace") as f:     # the whole log (st.log(): its end)
        log = f.read()
    cut = log.index("power cut")
    phase = "Installing" if writes == 560 else "Downloading"
    assert "status %s" % phase in log[:cut] and "status InstallRebooting" not in log[:cut]
    new, _ = _rebooted(csms, st, link, version, "0.1.0")
    new.wait_for(_msg(version), lambda p: p["status"] == "InstallRebooting", timeout=120)
    with open(st.log_path, errors="replace") as f:
        log = f.read()[cut:]
    assert "resumed at %s" % phase in log
    if writes != 560:                               # a resumed download that got further
        assert "boots counted afresh" in log
    gets = [r for r in srv.requests if r[1] == "/fw.bin"]
    assert "Range" not in gets[0][2]
    if writes == 300:
        assert len(gets) == 2 and int(gets[1][2]["Range"][6:-1]) > 0      # bytes=N-
    elif writes == 560:
        assert len(gets) == 1                       # the file downloaded before is installed
    tail = ["Installing", "InstallRebooting"]
    assert _statuses(new, version) == \
        (tail if writes == 560 else ["Downloading", "Downloaded", "SignatureVerified"] + tail)
    assert all(p["requestId"] == 7 for p in sent(new, _msg(version)))
    last, _ = _rebooted(csms, st, new, version, NEW)
    assert last.wait_for(_msg(version), timeout=30) == {"status": "Installed", "requestId": 7}
