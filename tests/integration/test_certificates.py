"""Certificate management over the wire against the dev CSMS (schema validation on):
1.6 security extension (OCTT 1.6 TC_075/076 family) and 2.0.1 M03-M05 (TC_M_01, 02, 07,
09, 12, 13, 17-20, 22, 30 where they apply). Hash data is checked against OpenSSL's OCSP
CertID computed by `cryptography`, for generated certificates and for a sample of the
system's CA bundle."""
import datetime
import os
import time

import pytest
from cryptography import x509

from tests import certs
from tests.integration.conftest import accepted, sent
from tests.unit.test_certs import NOW, DAY, expected_hash, make
from tools.csms import CsmsThread
from tools.harness.simctl import SimStation

VERSIONS = ("1.6", "2.0.1")
BUNDLE = "/etc/ssl/certs/ca-certificates.crt"
CSMS_ROOT = {"1.6": "CentralSystemRootCertificate", "2.0.1": "CSMSRootCertificate"}
MF_ROOT = "ManufacturerRootCertificate"


def install(link, version, pem, ctype=None):
    res = link.call("InstallCertificate", {"certificateType": ctype or CSMS_ROOT[version],
                                           "certificate": pem if isinstance(pem, str) else pem.decode()})
    return res


def ids(link, version, ctype=None):
    """[(type, hash data)] the station lists; NotFound -> []."""
    if version == "1.6":
        res = link.call("GetInstalledCertificateIds", {"certificateType": ctype or CSMS_ROOT[version]})
        if res["status"] == "NotFound":
            assert "certificateHashData" not in res
            return []
        assert res["status"] == "Accepted"
        return [(ctype or CSMS_ROOT[version], h) for h in res["certificateHashData"]]
    p = {} if ctype == "all" else {"certificateType": [ctype or CSMS_ROOT[version]]}
    res = link.call("GetInstalledCertificateIds", p)
    if res["status"] == "NotFound":
        assert "certificateHashDataChain" not in res                 # TC_M_19
        return []
    assert res["status"] == "Accepted"
    return [(c["certificateType"], c["certificateHashData"]) for c in res["certificateHashDataChain"]]


def norm(entries):
    """[(type, hash data)] in a canonical order, for comparing as sets."""
    return sorted((t, h["hashAlgorithm"], h["issuerNameHash"], h["issuerKeyHash"], h["serialNumber"])
                  for t, h in entries)


def delete(link, hd):
    return link.call("DeleteCertificate", {"certificateHashData": hd})["status"]


@pytest.mark.parametrize("version", VERSIONS)
def test_install_list_delete_TC_M_01_02_12_13_17_18_19_20_22_TC_075_1_TC_075_2_TC_076(csms, station, version):
    st = station(version)
    link = accepted(csms, st)
    a, m = make("CSMS Root"), make("Manufacturer Root", key="rsa")
    assert ids(link, version) == []                                   # NotFound
    assert install(link, version, a.pem)["status"] == "Accepted"     # TC_M_01
    assert install(link, version, m.pem, MF_ROOT)["status"] == "Accepted"   # TC_M_02
    assert install(link, version, a.pem)["status"] == "Accepted"     # a duplicate: no-op
    ha, hm = expected_hash(a.cert), expected_hash(m.cert)
    assert ids(link, version) == [(CSMS_ROOT[version], ha)]          # TC_M_12
    assert ids(link, version, MF_ROOT) == [(MF_ROOT, hm)]             # TC_M_13
    if version == "2.0.1":
        assert ids(link, version, "all") == [(CSMS_ROOT[version], ha), (MF_ROOT, hm)]   # TC_M_18
        res = link.call("GetInstalledCertificateIds", {"certificateType": [CSMS_ROOT[version], MF_ROOT]})
        assert res["status"] == "Accepted"                                              # TC_M_17
        assert norm((c["certificateType"], c["certificateHashData"]) for c in res["certificateHashDataChain"]) \
            == norm([(CSMS_ROOT[version], ha), (MF_ROOT, hm)])
        assert ids(link, version, "MORootCertificate") == []                          # TC_M_19
        assert ids(link, version, "V2GCertificateChain") == []
        v = link.call("GetVariables", {"getVariableData": [
            {"component": {"name": "SecurityCtrlr"}, "variable": {"name": "CertificateEntries"}}]})
        assert v["getVariableResult"][0]["attributeValue"] == "2"
    unknown = expected_hash(make("Never installed").cert)
    assert delete(link, unknown) == "NotFound"                        # TC_M_22
    upper = dict(ha, issuerNameHash=ha["issuerNameHash"].upper())
    assert delete(link, upper) == "Accepted"                          # TC_M_20, any case
    assert ids(link, version) == []
    assert ids(link, version, MF_ROOT) == [(MF_ROOT, hm)]


@pytest.mark.parametrize("version", VERSIONS)
def test_invalid_certificates_rejected_TC_M_07(csms, station, version):
    st = station(version)
    link = accepted(csms, st)
    ca = make("Issuing CA")
    bad = {
        "expired": make("Expired Root", nb=NOW - 400 * DAY, na=NOW - DAY).pem,
        "not yet valid": make("Future Root", nb=NOW + 10 * DAY).pem,
        "not a CA": make("leaf.example", issuer=ca, ca=False).pem,
        "no keyCertSign": make("No certSign", certsign=False).pem,
        "issuer unknown": make("Intermediate", issuer=ca).pem,
        "malformed PEM": "-----BEGIN CERTIFICATE-----\nMIIB!!notbase64\n-----END CERTIFICATE-----\n",
        "truncated": ca.pem[:300] + "\n-----END CERTIFICATE-----\n",
        "not PEM": "hello",
        "two certificates": ca.pem + make("Other").pem,
    }
    for what, pem in bad.items():
        res = install(link, version, pem)
        assert res["status"] == "Rejected", (what, res)
        if version == "2.0.1":
            assert res["statusInfo"]["reasonCode"] == "InvalidCertificate", (what, res)
    assert ids(link, version) == []                                   # none of them listed


def _bundle_sample(n):
    """n self-signed CA roots of the system bundle, valid now, spread over the file."""
    with open(BUNDLE, "rb") as f:
        all_ = x509.load_pem_x509_certificates(f.read())
    now = datetime.datetime.now(datetime.timezone.utc)
    ok = []
    for c in all_:
        try:
            bc = c.extensions.get_extension_for_class(x509.BasicConstraints).value
        except x509.ExtensionNotFound:
            continue
        pem = c.public_bytes(certs._PEM).decode()
        if bc.ca and c.issuer == c.subject and c.not_valid_before_utc < now < c.not_valid_after_utc \
                and len(pem) <= 5500:
            ok.append((c, pem))
    step = max(1, len(ok) // n)
    return ok[::step][:n]


@pytest.mark.skipif(not os.path.exists(BUNDLE), reason="no system CA bundle")
@pytest.mark.parametrize("version", VERSIONS)
def test_ca_bundle_roots_hash_data_over_the_wire(csms, station, version):
    sample = _bundle_sample(20)
    assert len(sample) == 20
    # 20 installs each compile lib/x509 and the store from .py sources and drop them
    # again (see the next test): 768k, as there
    st = station(version, heap="768k")
    link = accepted(csms, st)
    want = []
    for i, (c, pem) in enumerate(sample):
        ctype = CSMS_ROOT[version] if i % 2 == 0 else MF_ROOT
        res = install(link, version, pem, ctype)
        assert res["status"] == "Accepted", (c.subject.rfc4514_string(), res)
        want.append((ctype, expected_hash(c)))
    got = ids(link, version) + ids(link, version, MF_ROOT)
    assert len(got) == 20 and norm(got) == norm(want)
    # every listed one can be deleted by the hash data it was listed with
    for ctype, hd in got[:3]:
        assert delete(link, hd) == "Accepted"
    assert len(ids(link, version) + ids(link, version, MF_ROOT)) == 17


@pytest.mark.parametrize("version", VERSIONS)
def test_store_full_and_certificates_survive_a_reboot(csms, station, version):
    # From .py sources each certificate operation compiles lib/x509 and the store (tens of
    # KB of transient heap on the 64-bit port) before they are dropped again; with a 512k
    # heap that fragmented it enough that the 4.9 KB NotifyReport frame after them failed
    # 1 run in 10. As .mpy (what boards run; tools/harness/sim --mpy) 0 in 10: more room here.
    st = station(version, extra=("--set", "CertificateStoreMaxLength=2"), heap="768k")
    link = accepted(csms, st)
    roots = [make("Root %d" % i, key="rsa") for i in range(3)]
    assert install(link, version, roots[0].pem)["status"] == "Accepted"
    assert install(link, version, roots[1].pem, MF_ROOT)["status"] == "Accepted"
    res = install(link, version, roots[2].pem)
    assert res["status"] == "Rejected"                                # M05.FR.03
    if version == "2.0.1":
        assert res["statusInfo"]["reasonCode"] == "OutOfStorage"
        link.call("GetBaseReport", {"requestId": 3, "reportBase": "FullInventory"})
        link.wait_for("NotifyReport", lambda p: p["requestId"] == 3 and not p["tbc"], timeout=10)
        rep = [d for p in sent(link, "NotifyReport") for d in p["reportData"]
               if d["variable"]["name"] == "CertificateEntries"]
        assert rep[0]["variableAttribute"][0]["value"] == "2"
        assert rep[0]["variableCharacteristics"]["maxLimit"] == 2
    else:
        conf = link.call("GetConfiguration", {"key": ["CertificateStoreMaxLength",
                                                      "AdditionalRootCertificateCheck"]})
        assert {k["key"]: (k["value"], k["readonly"]) for k in conf["configurationKey"]} == {
            "CertificateStoreMaxLength": ("2", True), "AdditionalRootCertificateCheck": ("false", True)}
    before = ids(link, version) + ids(link, version, MF_ROOT)
    t0 = time.time()
    reset = {"type": "Hard"} if version == "1.6" else {"type": "Immediate"}
    assert link.call("Reset", reset)["status"] == "Accepted"
    link2 = csms.station(st.ident, newer_than=t0, timeout=30)
    link2.wait_for("StatusNotification", timeout=20)
    st.wait(lambda s: s["registration"] == "Accepted" and s["connected"], what="accepted again")
    assert ids(link2, version) + ids(link2, version, MF_ROOT) == before
    assert len(before) == 2


@pytest.mark.parametrize("version", VERSIONS)
def test_additional_root_certificate_check_TC_M_09_30(csms, station, version):
    st = station(version, extra=("--set", "AdditionalRootCertificateCheck=true"))
    link = accepted(csms, st)
    old = make("CSMS Root 2024")
    assert install(link, version, old.pem)["status"] == "Accepted"
    other = make("Someone Else's Root")
    assert install(link, version, other.pem)["status"] == "Rejected"  # TC_M_09
    assert ids(link, version) == [(CSMS_ROOT[version], expected_hash(old.cert))]
    new = make("CSMS Root 2026", issuer=old)                          # signed by the old one
    assert install(link, version, new.pem)["status"] == "Accepted"   # M05.FR.11
    # the new one (named with its issuer's key) and the old one kept as the fallback
    assert norm(ids(link, version)) == norm(
        [(CSMS_ROOT[version], expected_hash(old.cert)),
         (CSMS_ROOT[version], expected_hash(new.cert, old.cert))])
    if version == "2.0.1":
        v = link.call("GetVariables", {"getVariableData": [
            {"component": {"name": "SecurityCtrlr"}, "variable": {"name": "AdditionalRootCertificateCheck"}}]})
        assert v["getVariableResult"][0]["attributeValue"] == "true"


@pytest.mark.parametrize("version", VERSIONS)
def test_delete_csms_root_in_use_fails_with_profile_2(tmp_path, version):
    """1.6 M04.FR.06: with TLS (profile 2) the last CSMS root is the one the connection
    was verified with: deleting it -> Failed; another one can go."""
    ca, server, _ = certs.make_pki()
    ca_path = tmp_path / "ca.pem"
    ca_path.write_bytes(ca.cert_pem)
    pw = "profile-2-password-0123"
    ident = "P2-" + version.replace(".", "")
    with CsmsThread(host="localhost", port=0, ssl_context=certs.server_ssl_context(server),
                    passwords={ident: pw}) as csms:
        st = SimStation("wss://localhost:%d/ocpp" % csms.port, ident, version, tmp_path,
                        extra=("--profile", "2", "--password", pw, "--ca", str(ca_path)))
        try:
            st.start()
            link = accepted(csms, st)
            assert install(link, version, ca.cert_pem)["status"] == "Accepted"
            hd = expected_hash(ca.cert)
            assert delete(link, hd) == "Failed"
            spare = make("Spare Root")
            assert install(link, version, spare.pem)["status"] == "Accepted"
            assert delete(link, expected_hash(spare.cert)) == "Accepted"
            assert delete(link, hd) == "Failed"
            assert ids(link, version) == [(CSMS_ROOT[version], hd)]
            assert link.violations == []
        finally:
            st.stop()
