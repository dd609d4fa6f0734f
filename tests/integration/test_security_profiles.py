"""Security profiles 2 and 3 from the certificate store (issue 5): every connection
gets a TLS context made from what is on flash (firmware.security.tlsctx), so a CSMS root
installed over the wire counts at the next connect, and profile 3 presents the
station's certificate (firmware.security.certs.identity) to a CSMS that requires one.

OCTT 2.0.1: TC_A_04_CS-style TLS with server certificate verification (profile 2) and
the profile 3 client-certificate connection (TC_A_19_CS / TC_A_20_CS family: the CSMS
requires a client certificate); 1.6 security whitepaper profiles 2 and 3."""

import pytest

from tests import certs
from tests.integration.test_certificates import CSMS_ROOT, install
from tools.csms import CsmsThread
from tools.harness.simctl import SimStation, free_port

PW = "profile-password-0123456"
FAST = ("--set", "RetryBackOffWaitMinimum=1", "--set", "RetryBackOffRandomRange=0",
        "--set", "RetryBackOffRepeatTimes=0")


def _write(tmp_path, name, data):
    p = tmp_path / name
    p.write_bytes(data)
    return str(p)


@pytest.mark.parametrize("version", ("1.6", "2.0.1"))
def test_TC_A_07_TC_087_profile_3_mutual_tls(tmp_path, version):
    """The CSMS requires a client certificate: the station presents the one on its
    flash (provisioned like a factory would: tools/harness/sim --client-cert/--client-key) and
    is accepted; the CSMS saw the station's certificate (CN = the station id)."""
    ident = "P3-" + version.replace(".", "")
    ca, server, _ = certs.make_pki()
    client = certs.make_client_cert(ca, ident)
    ctx = certs.server_ssl_context(server, client_ca=ca)
    with CsmsThread(host="localhost", port=0, ssl_context=ctx, passwords={ident: PW}) as csms:
        st = SimStation("wss://localhost:%d/ocpp" % csms.port, ident, version, tmp_path,
                        extra=("--profile", "3", "--password", PW,
                               "--ca", _write(tmp_path, "ca.pem", ca.cert_pem),
                               "--client-cert", _write(tmp_path, "c.pem", client.cert_pem),
                               "--client-key", _write(tmp_path, "k.pem", client.key_pem)))
        try:
            st.start()
            csms.station(ident, timeout=30).wait_for("BootNotification")
            st.wait(lambda s: s["registration"] == "Accepted", what="accepted with a client cert")
            assert client.key_pem.decode().split("\n")[1] not in st.log()     # the key stays
        finally:
            st.stop()


def test_profile_3_without_a_station_certificate_does_not_connect(tmp_path):
    """Profile 3 and no station certificate on flash: no connection attempt without
    one (never a silent fallback to profile 2), and the log says why."""
    ca, server, _ = certs.make_pki()
    ctx = certs.server_ssl_context(server, client_ca=ca)
    with CsmsThread(host="localhost", port=0, ssl_context=ctx) as csms:
        st = SimStation("wss://localhost:%d/ocpp" % csms.port, "P3NONE", "2.0.1", tmp_path,
                        extra=("--profile", "3", "--password", PW,
                               "--ca", _write(tmp_path, "ca.pem", ca.cert_pem)) + FAST)
        try:
            st.start()
            st.wait_log("needs the station certificate", count=2)   # two attempts refused
            assert csms.connections == 0 and not st.status()["connected"]
        finally:
            st.stop()


def test_profile_2_refused_by_a_csms_that_requires_client_certificates(tmp_path):
    ca, server, _ = certs.make_pki()
    ctx = certs.server_ssl_context(server, client_ca=ca)
    with CsmsThread(host="localhost", port=0, ssl_context=ctx) as csms:
        st = SimStation("wss://localhost:%d/ocpp" % csms.port, "P2CC", "2.0.1", tmp_path,
                        extra=("--profile", "2", "--password", PW,
                               "--ca", _write(tmp_path, "ca.pem", ca.cert_pem)) + FAST)
        try:
            st.start()
            st.wait_log("ocpp: connect ", count=2)  # two attempts, each a failure
            assert not st.status()["connected"] and st.status()["registration"] != "Accepted"
        finally:
            st.stop()


@pytest.mark.parametrize("version", ("1.6", "2.0.1"))
def test_root_installed_over_the_wire_verifies_the_next_connection(tmp_path, version):
    """The CSMS installs a second root (InstallCertificate), then moves to a server
    certificate issued by it: the station's next connection is verified against the
    store as it is now (a context fixed at boot would refuse it)."""
    ident = "ROOT2-" + version.replace(".", "")
    ca1, server1, _ = certs.make_pki()
    ca2 = certs.make_ca(cn="MicroEVSE Second Root")
    server2 = certs.make_server_cert(ca2)
    port = free_port()
    st = SimStation("wss://localhost:%d/ocpp" % port, ident, version, tmp_path,
                    extra=("--profile", "2", "--password", PW,
                           "--ca", _write(tmp_path, "ca1.pem", ca1.cert_pem)) + FAST)
    try:
        with CsmsThread(host="localhost", port=port, ssl_context=certs.server_ssl_context(server1),
                        passwords={ident: PW}) as csms:
            st.start()
            link = csms.station(ident, timeout=30)
            st.wait(lambda s: s["registration"] == "Accepted", what="accepted (root 1)")
            assert install(link, version, ca2.cert_pem)["status"] == "Accepted"
        st.wait(lambda s: not s["connected"], what="link down")
        with CsmsThread(host="localhost", port=port, ssl_context=certs.server_ssl_context(server2),
                        passwords={ident: PW}) as csms:
            csms.station(ident, timeout=30)         # (no new BootNotification: same boot)
            st.wait(lambda s: s["connected"] and s["registration"] == "Accepted", timeout=30,
                    what="connected again (root 2)")
    finally:
        st.stop()


@pytest.mark.parametrize("moves", (True, False))
def test_TC_M_30_31_replaced_root_is_a_fallback_until_the_new_one_verifies(tmp_path, moves):
    """AdditionalRootCertificateCheck (1.6 M05.FR.08-13 / 2.0.1 TC_M_30/31): a new CSMS
    root signed by the old one replaces it and the old one stays as a fallback. The next
    connection tries the new root alone: when the CSMS moved to it, that verifies and
    the fallback goes; when the CSMS still uses the old one, the station connects with
    the fallback and keeps it."""
    from tests.integration.test_certificates import ids
    from tests.unit.test_certs import expected_hash
    ident = "FB" + ("MOVE" if moves else "STAY")
    old, server_old, _ = certs.make_pki()
    new = certs.make_ca(cn="MicroEVSE New Root", issuer=old)
    server_new = certs.make_server_cert(new)
    port = free_port()
    st = SimStation("wss://localhost:%d/ocpp" % port, ident, "2.0.1", tmp_path,
                    extra=("--profile", "2", "--password", PW, "--set", "AdditionalRootCertificateCheck=true",
                           "--ca", _write(tmp_path, "old.pem", old.cert_pem)) + FAST)
    try:
        with CsmsThread(host="localhost", port=port, ssl_context=certs.server_ssl_context(server_old),
                        passwords={ident: PW}) as csms:
            st.start()
            link = csms.station(ident, timeout=30)
            st.wait(lambda s: s["registration"] == "Accepted", what="accepted (old root)")
            assert install(link, "2.0.1", new.cert_pem)["status"] == "Accepted"
            assert len(ids(link, "2.0.1")) == 2                   # new + fallback
        st.wait(lambda s: not s["connected"], what="link down")
        srv = server_new if moves else server_old
        with CsmsThread(host="localhost", port=port, ssl_context=certs.server_ssl_context(srv),
                        passwords={ident: PW}) as csms:
            link = csms.station(ident, timeout=40)
            st.wait(lambda s: s["connected"], timeout=30, what="connected again")
            got = ids(link, "2.0.1")
            if moves:
                assert got == [(CSMS_ROOT["2.0.1"], expected_hash(new.cert, old.cert))]
                assert "fallback root dropped" in st.log()
            else:
                assert len(got) == 2 and "fallback root dropped" not in st.log()
    finally:
        st.stop()
