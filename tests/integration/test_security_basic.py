"""Connection security available in the foundation: HTTP Basic auth (profile 1,
OCTT TC_A_01_CS / 1.6 TC_085) and wss with the CSMS verified against the provisioned
root (TC_A_04_CS), a wrong root refused (TC_A_05_CS). Profiles 2-3 and certificate
management come with the security issue."""
import pytest

from tests import certs
from tools.csms import CsmsThread
from tools.harness.simctl import SimStation

PW = "s3cret-passw0rd-16ch"


@pytest.mark.parametrize("version", ("1.6", "2.0.1"))
def test_TC_A_01_TC_085_basic_auth_profile_1(tmp_path, version):
    with CsmsThread(host="localhost", port=0, passwords={"BA1": PW}) as csms:
        st = SimStation(csms.url + "ocpp", "BA1", version, tmp_path,
                        extra=("--profile", "1", "--password", PW))
        try:
            st.start()
            csms.station("BA1").wait_for("BootNotification")
            st.wait(lambda s: s["registration"] == "Accepted", what="accepted")
        finally:
            st.stop()


def test_wrong_password_is_refused_and_retried(tmp_path):
    with CsmsThread(host="localhost", port=0, passwords={"BA2": PW}) as csms:
        st = SimStation(csms.url + "ocpp", "BA2", "2.0.1", tmp_path,
                        extra=("--profile", "1", "--password", "wrong-password-123"))
        try:
            st.start()
            st.wait_log("HTTP status 401")          # refused by the CSMS
            assert csms.connections == 0
            assert not st.status()["connected"]
        finally:
            st.stop()


def _pki(tmp_path):
    ca, server, _ = certs.make_pki()
    ca_path = tmp_path / "ca.pem"
    ca_path.write_bytes(ca.cert_pem)
    return ca, server, str(ca_path)


@pytest.mark.parametrize("version", ("1.6", "2.0.1"))
def test_TC_A_04_TC_086_wss_verified(tmp_path, version):
    ca, server, ca_path = _pki(tmp_path)
    ctx = certs.server_ssl_context(server)
    with CsmsThread(host="localhost", port=0, ssl_context=ctx) as csms:
        url = "wss://localhost:%d/ocpp" % csms.port
        st = SimStation(url, "TLS1", version, tmp_path, extra=("--ca", ca_path))
        try:
            st.start()
            csms.station("TLS1", timeout=20).wait_for("BootNotification")
            st.wait(lambda s: s["registration"] == "Accepted", what="accepted over wss")
        finally:
            st.stop()


def test_wss_wrong_root_refused(tmp_path):
    _, server, _ = _pki(tmp_path)
    other_ca, _, other_path = _pki(tmp_path / "x" if (tmp_path / "x").mkdir() is None else tmp_path)
    ctx = certs.server_ssl_context(server)
    with CsmsThread(host="localhost", port=0, ssl_context=ctx) as csms:
        url = "wss://localhost:%d/ocpp" % csms.port
        st = SimStation(url, "TLS2", "2.0.1", tmp_path, extra=("--ca", other_path))
        try:
            st.start()
            st.wait_log("ocpp: connect ")           # an attempt, refused by the station
            assert csms.connections == 0
            assert not st.status()["connected"]
        finally:
            st.stop()


def _tls_failure(tmp_path, ident, server_ctx, ca_path, host="localhost"):
    """A station that cannot connect over wss: its log after a few attempts."""
    with CsmsThread(host="localhost", port=0, ssl_context=server_ctx) as csms:
        url = "wss://%s:%d/ocpp" % (host, csms.port)
        st = SimStation(url, ident, "2.0.1", tmp_path,
                        extra=("--ca", ca_path, "--set", "RetryBackOffWaitMinimum=1",
                               "--set", "RetryBackOffRandomRange=0", "--set", "RetryBackOffRepeatTimes=0"))
        try:
            st.start()
            st.wait_log("ocpp: connect ", count=3)  # three attempts, each a failure
            assert csms.connections == 0 and not st.status()["connected"]
            lines = st.cmd("log 64")["lines"]
        finally:
            st.stop()
    events = [x for x in lines if " security: " in x]
    return events


@pytest.mark.slow
def test_TC_A_05_06_tls_failures_become_security_events(tmp_path):
    """TC_A_05/06/07-style failures, each a critical security event, raised once while
    the station keeps retrying (not once a retry): untrusted root, wrong host name,
    expired server certificate -> InvalidCsmsCertificate; a TLS 1.1-only CSMS ->
    InvalidTLSVersion."""
    import datetime
    import ssl
    ca, server, ca_path = _pki(tmp_path)
    other = certs.make_ca(cn="Other CA")
    other_path = tmp_path / "other.der"
    other_path.write_bytes(other.cert_der)
    ev = _tls_failure(tmp_path, "TLSA", certs.server_ssl_context(server), str(other_path))
    assert len(ev) == 1 and "InvalidCsmsCertificate" in ev[0] and "signed" in ev[0], ev
    wrong = certs.make_server_cert(ca, hosts=("127.0.0.1", "csms.example"))
    ev = _tls_failure(tmp_path, "TLSB", certs.server_ssl_context(wrong), ca_path)
    assert len(ev) == 1 and "InvalidCsmsCertificate" in ev[0] and "CN" in ev[0], ev
    old = certs.make_server_cert(ca, days=1, not_before=datetime.datetime.now(datetime.timezone.utc)
                                 - datetime.timedelta(days=30))
    ev = _tls_failure(tmp_path, "TLSC", certs.server_ssl_context(old), ca_path)
    assert len(ev) == 1 and "InvalidCsmsCertificate" in ev[0] and "expired" in ev[0], ev
    ctx11 = certs.server_ssl_context(server)
    ctx11.set_ciphers("DEFAULT:@SECLEVEL=0")
    ctx11.minimum_version = ssl.TLSVersion.TLSv1_1
    ctx11.maximum_version = ssl.TLSVersion.TLSv1_1
    ev = _tls_failure(tmp_path, "TLSD", ctx11, ca_path)
    assert len(ev) == 1 and "InvalidTLSVersion" in ev[0], ev


@pytest.mark.parametrize("version", ("1.6", "2.0.1"))
def test_password_never_logged_nor_read_back(csms, station, version):
    """SW16 / A01: the password set by the CSMS is neither logged (even at debug level,
    where every frame is) nor returned by GetConfiguration / GetVariables."""
    from tests.integration.conftest import accepted
    secret = "Zq9-very-secret-pw-77"
    st = station(version, extra=("--log", "debug"))
    link = accepted(csms, st)
    if version == "1.6":
        res = link.call("ChangeConfiguration", {"key": "AuthorizationKey", "value": secret})
        assert res["status"] in ("Accepted", "RebootRequired")
        got = link.call("GetConfiguration", {"key": ["AuthorizationKey"]})
        assert secret not in repr(got)
    else:
        res = link.call("SetVariables", {"setVariableData": [{"component": {"name": "SecurityCtrlr"},
                        "variable": {"name": "BasicAuthPassword"}, "attributeValue": secret}]})
        assert res["setVariableResult"][0]["attributeStatus"] in ("Accepted", "RebootRequired")
        got = link.call("GetVariables", {"getVariableData": [{"component": {"name": "SecurityCtrlr"},
                        "variable": {"name": "BasicAuthPassword"}}]})
        assert secret not in repr(got)
    st.wait_log("<redacted")                   # the frames with the password were logged
    assert secret not in st.log()
