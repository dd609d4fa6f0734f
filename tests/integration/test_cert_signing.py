"""The station's certificate signing flow (issue 5; 1.6 security whitepaper A02,
ExtendedTriggerMessage SignChargePointCertificate; 2.0.1 A02/A03, TriggerMessage
SignChargingStationCertificate). OCTT 2.0.1: TC_A_11_CS (update the station certificate
on request of the CSMS), TC_A_14_CS (invalid certificate), TC_A_15_CS (SignCertificate
Rejected), TC_M_23_CS (the station certificate is not deletable), at profile 3 after a
TC_A_19_CS-style upgrade with the first certificate.

The station makes a P-256 key and a CSR in MicroPython; the test's CSMS (the dev CSMS on
the `ocpp` package, schema validation on) signs it with its CA (`cryptography`) and
sends CertificateSigned; the station checks the chain, installs it, and a later
profile 3 connection to a CSMS that requires client certificates uses it. The private
key appears in no message and no log line."""
import datetime
import time

import pytest
from cryptography import x509

from tests import certs
from tests.integration.test_network_profiles import upgrade
from tools.csms import CsmsThread
from tools.harness.simctl import SimStation, free_port

PW = "profile-password-0123456"
FAST = ("--set", "RetryBackOffWaitMinimum=1", "--set", "RetryBackOffRandomRange=0",
        "--set", "RetryBackOffRepeatTimes=0", "--set", "OrganizationName=Example CPO")
SIGNED = {"1.6": {}, "2.0.1": {"certificateType": "ChargingStationCertificate"}}


def _trigger(link, version):
    if version == "1.6":
        return link.call("ExtendedTriggerMessage", {"requestedMessage": "SignChargePointCertificate"})
    return link.call("TriggerMessage", {"requestedMessage": "SignChargingStationCertificate"})


def _signed(link, version, chain):
    p = dict(SIGNED[version], certificateChain=chain if isinstance(chain, str) else chain.decode())
    return link.call("CertificateSigned", p)["status"]


def _csr(link, version):
    n = len(link.received)
    assert _trigger(link, version)["status"] == "Accepted"
    p = link.wait_for("SignCertificate", after=n, timeout=20)
    if version == "2.0.1":
        assert p["certificateType"] == "ChargingStationCertificate"
    return p["csr"]


@pytest.mark.parametrize("version", ("1.6", "2.0.1"))
def test_TC_A_11_14_15_TC_M_23_TC_074_TC_077_csr_flow_then_profile_3(tmp_path, version):
    """The CSR flow at profile 2, then profile 3 with the certificate; 2.0.1 at profile 3
    as OCTT runs it: a renewal (TC_A_11), an invalid certificate Rejected with the
    security event InvalidChargingStationCertificate (TC_A_14), SignCertificate answered
    Rejected (TC_A_15), the certificate in use not deletable (TC_M_23)."""
    ident = "SIGN" + version.replace(".", "")
    ca, server, _ = certs.make_pki()
    other = certs.make_ca(cn="Not The CSMS CA")
    ca_path = tmp_path / "ca.pem"
    ca_path.write_bytes(ca.cert_pem)
    port = free_port()
    st = SimStation("wss://localhost:%d/ocpp" % port, ident, version, tmp_path,
                    extra=("--profile", "2", "--password", PW, "--ca", str(ca_path)) + FAST)
    try:
        with CsmsThread(host="localhost", port=port, ssl_context=certs.server_ssl_context(server),
                        passwords={ident: PW}) as csms:
            csms.set_reply("SignCertificate", {"status": "Accepted"})
            st.start()
            link = csms.station(ident, timeout=30)
            link.wait_for("BootNotification")
            st.wait(lambda s: s["registration"] == "Accepted", what="accepted")
            # a chain before any request: nothing pending -> Rejected
            assert _signed(link, version, certs.make_client_cert(ca, ident).cert_pem) == "Rejected"
            pem = _csr(link, version)
            req = x509.load_pem_x509_csr(pem.encode())
            assert req.is_signature_valid
            subj = {a.oid._name: a.value for a in req.subject}
            assert subj == {"commonName": ident, "organizationName": "Example CPO"}
            # bad chains, each Rejected, the pending key kept
            assert _signed(link, version, "-----BEGIN CERTIFICATE-----\nnot base64!\n-----END CERTIFICATE-----\n") == "Rejected"
            assert _signed(link, version, certs.make_client_cert(ca, ident).cert_pem) == "Rejected"  # other key
            assert _signed(link, version, certs.sign_csr(other, pem)) == "Rejected"        # unknown CA
            old = datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(days=30)
            assert _signed(link, version, certs.sign_csr(ca, pem, days=10, not_before=old)) == "Rejected"
            assert _signed(link, version, certs.sign_csr(ca, pem)) == "Accepted"
            assert link.violations == []
            # never the private key, in no message and no log line
            texts = [str(p) for _, p in link.received]
            assert not any("PRIVATE KEY" in t for t in texts)
            log = st.log()
            assert "PRIVATE KEY" not in log
            assert log.count("InvalidCharg") >= 4          # one security event per rejection
            ev = "InvalidChargePointCertificate" if version == "1.6" else "InvalidChargingStationCertificate"
            link.wait_for("SecurityEventNotification", lambda p: p["type"] == ev, timeout=15)   # TC_077
            # upgrade to profile 3 with the new certificate
            upgrade(link, version, "wss://localhost:%d/ocpp" % port, 3)
            st.wait(lambda s: not s["connected"], what="reconnecting")
        with CsmsThread(host="localhost", port=port,
                        ssl_context=certs.server_ssl_context(server, client_ca=ca),
                        passwords={ident: PW}) as csms:
            csms.set_reply("SignCertificate", {"status": "Accepted"})
            link = csms.station(ident, timeout=40)
            st.wait(lambda s: s["connected"] and s["registration"] == "Accepted", timeout=30,
                    what="connected with the station's own certificate (profile 3)")
            if version == "2.0.1":
                renewed = certs.sign_csr(ca, _csr(link, version))
                assert _signed(link, version, renewed) == "Accepted"            # TC_A_11
                # at profile 3 the station reconnects at once with the new certificate
                link = csms.station(ident, newer_than=link, timeout=40)
                st.wait(lambda s: s["connected"] and s["registration"] == "Accepted", timeout=30,
                        what="reconnected with the renewed certificate")
                serial = x509.load_pem_x509_certificate(renewed).serial_number
                assert int(link.peer_cert["serialNumber"], 16) == serial
                link.set_reply("SignCertificate", {"status": "Rejected"})          # TC_A_15
                k = st.log_count("SignCertificate: Rejected")
                _csr(link, version)
                st.wait_log("SignCertificate: Rejected", count=k + 1)
                link.set_reply("SignCertificate", {"status": "Accepted"})
                # TC_A_14 (a CSR refused by the CSMS is no longer pending: a new trigger
                # is Accepted; an invalid certificate keeps this one pending, so last)
                n = len(link.received)
                assert _signed(link, version, certs.sign_csr(other, _csr(link, version))) == "Rejected"
                link.wait_for("SecurityEventNotification", lambda p: p["type"] ==
                              "InvalidChargingStationCertificate", after=n, timeout=15)
                from tests.unit.test_certs import expected_hash                    # TC_M_23
                hd = expected_hash(x509.load_pem_x509_certificate(renewed), ca.cert)
                res = link.call("DeleteCertificate", {"certificateHashData": hd})
                assert res["status"] in ("NotFound", "Failed")
                assert st.status()["connected"] and link.violations == []
    finally:
        st.stop()


def _until(cond, what, timeout=30):
    """Poll cond() (each poll may ask the station something) until true."""
    deadline = time.monotonic() + timeout
    while not cond():
        assert time.monotonic() < deadline, "timeout waiting for " + what
        time.sleep(0.2)


@pytest.mark.slow
def test_TC_A_23_sign_certificate_repeated_without_an_answer(tmp_path):
    """TC_A_23_CS: no CertificateSigned after SignCertificate Accepted: the station asks
    again after CertSigningWaitMinimum, then after twice that, CertSigningRepeatTimes
    times in all beyond the first; a CertificateSigned ends the repeats."""
    ca, server, _ = certs.make_pki()
    ca_path = tmp_path / "ca.pem"
    ca_path.write_bytes(ca.cert_pem)
    port = free_port()
    st = SimStation("wss://localhost:%d/ocpp" % port, "SIGNR", "2.0.1", tmp_path,
                    extra=("--profile", "2", "--password", PW, "--ca", str(ca_path),
                           "--set", "CertSigningWaitMinimum=1", "--set", "CertSigningRepeatTimes=2") + FAST)
    try:
        with CsmsThread(host="localhost", port=port, ssl_context=certs.server_ssl_context(server),
                        passwords={"SIGNR": PW}) as csms:
            csms.set_reply("SignCertificate", {"status": "Accepted"})
            st.start()
            link = csms.station("SIGNR", timeout=30)
            link.wait_for("BootNotification")
            _csr(link, "2.0.1")

            def signs():
                return [p for a, p in link.received if a == "SignCertificate"]
            link.wait_for("SignCertificate", after=len(link.received), timeout=20)  # 1 s
            assert _trigger(link, "2.0.1")["status"] == "Rejected"       # one at a time
            # the first request and the two repeats (1 s, then 2 s later); a trigger is
            # refused until the last wait (4 s) is over, then accepted: no third repeat
            _until(lambda: len(signs()) >= 3, "two repeats")
            n = len(link.received)
            _until(lambda: _trigger(link, "2.0.1")["status"] == "Accepted", "the repeats over")
            pem = link.wait_for("SignCertificate", after=n, timeout=10)["csr"]   # the new one
            reqs = signs()
            assert len(reqs) == 4 and len({p["csr"] for p in reqs[:3]}) == 1
            assert _signed(link, "2.0.1", certs.sign_csr(ca, pem)) == "Accepted"
            # the signed certificate ends the repeats: a new request is accepted at once
            n = len(link.received)
            assert _trigger(link, "2.0.1")["status"] == "Accepted"
            link.wait_for("SignCertificate", after=n, timeout=10)
            assert len(signs()) == 5
    finally:
        st.stop()


@pytest.mark.parametrize("version", ("1.6", "2.0.1"))
def test_dev_csms_acting_as_ca(tmp_path, version):
    """tools/csms with a signer (SigningCA; CLI --sign-ca/--sign-key): the trigger alone
    completes the flow; the station installs what the CSMS's CA issued."""
    from tools.csms.ca import SigningCA
    ident = "CA" + version.replace(".", "")
    ca, server, _ = certs.make_pki()
    ca_path = tmp_path / "ca.pem"
    ca_path.write_bytes(ca.cert_pem)
    signer = SigningCA(ca.cert_pem, ca.key_pem)
    with CsmsThread(host="localhost", port=0, ssl_context=certs.server_ssl_context(server),
                    passwords={ident: PW}, signer=signer) as csms:
        st = SimStation("wss://localhost:%d/ocpp" % csms.port, ident, version, tmp_path,
                        extra=("--profile", "2", "--password", PW, "--ca", str(ca_path)) + FAST)
        try:
            st.start()
            link = csms.station(ident, timeout=30)
            link.wait_for("BootNotification")
            assert _trigger(link, version)["status"] == "Accepted"
            link.wait_for("SignCertificate", timeout=20)
            st.wait(lambda s: "station certificate installed" in st.log(), timeout=20,
                    what="certificate installed")
            assert len(signer.issued) == 1 and signer.issued[0][0] == ident
            assert link.violations == []
        finally:
            st.stop()
