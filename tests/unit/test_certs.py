"""firmware/security/certs under MicroPython: the certificate store on flash (install, listing,
delete, bounds, AdditionalRootCertificateCheck, V2G chains), signature checks, and power
cuts / failed writes on the simulated littlefs. Certificates are made with
`cryptography`; expected hash data comes from OpenSSL's OCSP CertID (RFC 6960), not
from lib/x509. The program: tests/mp/certs_store.py."""
import datetime
import json

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509 import ocsp
from cryptography.x509.oid import NameOID

from tests import mp

DER = serialization.Encoding.DER
PEM = serialization.Encoding.PEM
NOW = datetime.datetime.now(datetime.timezone.utc)
DAY = datetime.timedelta(days=1)


def expected_hash(cert, issuer=None):
    """CertificateHashData as OpenSSL computes it for an OCSP CertID (SHA-256)."""
    req = ocsp.OCSPRequestBuilder().add_certificate(cert, issuer or cert, hashes.SHA256()).build()
    return {"hashAlgorithm": "SHA256", "issuerNameHash": req.issuer_name_hash.hex(),
            "issuerKeyHash": req.issuer_key_hash.hex(), "serialNumber": format(cert.serial_number, "x")}


class Made:
    def __init__(self, cert, key):
        self.cert, self.key = cert, key
        self.pem = cert.public_bytes(PEM).decode()
        self.der = cert.public_bytes(DER)


def make(cn, issuer=None, key="ec", ca=True, certsign=True, nb=None, na=None,
         alg=hashes.SHA256(), issuer_name=None):
    """A certificate; issuer: a Made (else self-signed)."""
    k = {"ec": lambda: ec.generate_private_key(ec.SECP256R1()),
         "p384": lambda: ec.generate_private_key(ec.SECP384R1()),
         "rsa": lambda: rsa.generate_private_key(public_exponent=65537, key_size=2048)}[key]()
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])
    iname = issuer_name or (issuer.cert.subject if issuer else subject)
    b = (x509.CertificateBuilder().subject_name(subject).issuer_name(iname)
         .public_key(k.public_key()).serial_number(x509.random_serial_number())
         .not_valid_before(nb or NOW - DAY).not_valid_after(na or NOW + 3650 * DAY)
         .add_extension(x509.BasicConstraints(ca=ca, path_length=None), True)
         .add_extension(x509.KeyUsage(True, False, False, False, False, ca and certsign,
                                      ca, False, False), True))
    return Made(b.sign(issuer.key if issuer else k, alg), k)


@pytest.fixture(scope="module")
def pki():
    p = {}
    p["a"] = make("Root A")
    p["r"] = make("Root R", key="rsa")
    p["sub"] = make("Sub A", issuer=p["a"])
    p["expired"] = make("Old", nb=NOW - 400 * DAY, na=NOW - 30 * DAY)
    p["future"] = make("Future", nb=NOW + 30 * DAY)
    p["leaf"] = make("leaf.example", issuer=p["a"], ca=False)
    p["nosign"] = make("No certSign", certsign=False)
    p["orphan"] = make("Orphan", issuer=make("Unknown CA"))
    p["b"] = make("Root B")
    p["a2"] = make("Root A2", issuer=p["a"])                      # signed by A: A's successor
    p["a3"] = make("Root A3", issuer=p["a2"], key="rsa")          # signed by A2
    p["a384"] = make("Root A384", issuer=p["a"], alg=hashes.SHA384())   # not checkable here
    p["p384"] = make("P384 Root", key="p384", alg=hashes.SHA384())
    p["v2g"] = make("V2G Root")
    p["s1"] = make("V2G Sub 1", issuer=p["v2g"])
    p["s2"] = make("V2G Sub 2", issuer=p["s1"], key="rsa")
    p["cs"] = make("CPO SECC", issuer=p["s2"], ca=False)
    bad = bytearray(p["r"].der)
    bad[-1] ^= 1                                                  # RSA signature broken
    p["badsig"] = bad
    return p


def pem_of(der):
    import base64
    body = base64.encodebytes(bytes(der)).decode()
    return "-----BEGIN CERTIFICATE-----\n%s-----END CERTIFICATE-----\n" % body


def run(tmp_path, pki, case, timeout=60):
    """tests/mp/certs_store.py CASE with the certificates in tmp_path/pki.json."""
    data = {k: (v.pem if isinstance(v, Made) else pem_of(v)) for k, v in pki.items()}
    (tmp_path / "pki.json").write_text(json.dumps(data))
    return mp.run_file("certs_store", case, tmp_path, timeout=timeout)


def test_install_list_delete_hash_data(tmp_path, pki):
    out = run(tmp_path, pki, "install_list_delete")
    a, r, sub = pki["a"].cert, pki["r"].cert, pki["sub"].cert
    assert out["a"] == ["Accepted", None, None] and out["r"] == ["Accepted", None, None]
    assert out["sub"] == ["Accepted", None, None]            # its issuer A is installed
    assert out["dup"] == ["Accepted", None, "already installed"]
    assert out["dup_other_kind"] == ["Accepted", None, None]  # a second purpose: own entry
    assert out["count"] == 4
    assert out["list"] == [["csms", expected_hash(a), []], ["mf", expected_hash(r), []],
                           ["csms", expected_hash(sub, a), []], ["mf", expected_hash(a), []]]
    assert out["mf"] == [["mf", expected_hash(r), []], ["mf", expected_hash(a), []]]
    assert out["roots"] == [len(pki["sub"].der), len(pki["a"].der)]   # newest first
    assert out["del_sub"] == "Accepted" and out["del_again"] == "NotFound"
    assert out["del_wrong_kinds"] == "NotFound"
    assert out["del_last_csms_in_use"] == "Failed"
    assert out["del_both_a"] == "Accepted"                    # both entries of that certificate
    assert out["left"] == [["mf", expected_hash(r), []]]
    assert out["files"] == ["2.der", "index.json"]


def test_invalid_certificates_rejected(tmp_path, pki):
    p = dict(pki)
    p["garbage"] = b"\x30\x03\x02\x01"                            # truncated DER in PEM armor
    p["flip"] = bytes(pki["a"].der[:40]) + b"\xff" + bytes(pki["a"].der[41:])
    p["two"] = pki["a"].der                                       # replaced below
    out = run(tmp_path, p, "invalid")
    for k in ("expired", "future", "leaf", "nosign", "orphan", "badsig", "garbage", "flip",
              "two", "text", "badb64", "noend"):
        assert out[k] == ["Rejected", "InvalidCertificate", True], (k, out[k])
    assert out["count"] == 0 and out["files"] == []


def test_signature_checks(tmp_path, pki):
    out = run(tmp_path, pki, "signatures")
    assert out["self"] == [True, True, None, False]
    assert out["chain"] == [True, True, True, None]
    assert out["wrong_key"] == [False, False, False]


def test_additional_root_certificate_check(tmp_path, pki):
    """1.6 M05.FR.08-13 / 2.0.1 M05 (TC_M_09, TC_M_30): a new CSMS root must be signed
    by the installed one, which stays as the fallback until dropped."""
    out = run(tmp_path, pki, "root_check")
    assert out["first"][0] == "Accepted"                  # nothing to replace yet
    assert out["unsigned"] == ["Rejected", "InvalidCertificate", "not signed by the installed CSMS root"]
    assert out["sha384"][0] == "Rejected"                 # cannot be checked here: refused
    assert len(out["after_rejects"]) == 1
    assert out["a2"][0] == "Accepted"
    assert out["a2_hash"] == expected_hash(pki["a2"].cert, pki["a"].cert)   # A's key
    assert out["roots"] == ["Root A2", "Root A"]           # new first, fallback after
    assert out["mf_unchecked"][0] == "Accepted"
    assert out["a3"][0] == "Accepted"
    assert out["roots2"] == ["Root A3", "Root A2"]         # A gone, A2 the fallback
    assert out["dropped"] == 1 and out["roots3"] == ["Root A3"]
    assert out["files"] == ["3.der", "4.der", "index.json"]   # B (manufacturer), A3


def test_v2g_chain(tmp_path, pki):
    p = dict(pki)
    out = run(tmp_path, p, "v2g_chain")
    c = {k: pki[k].cert for k in ("v2g", "s1", "s2", "cs")}
    assert out["no_root"] == "Rejected" and out["root"] == "Accepted"
    assert out["chain"] == ["Accepted", None, None] and out["again"] == "Accepted"
    assert out["list"] == [
        ["v2g", expected_hash(c["v2g"]), []],
        ["chain", expected_hash(c["cs"], c["s2"]),
         [expected_hash(c["s2"], c["s1"]), expected_hash(c["s1"], c["v2g"])]]]
    assert out["count"] == 4                              # the replaced chain is gone
    assert out["full"] == ["Rejected", "OutOfStorage"]    # 1 root + 3 > 3
    assert out["del_leaf"] == "Failed"                    # M04.FR.05: the station's own
    assert out["del_child"] == "NotFound"
    assert out["files"] == 5                              # 4 certificates + index


def test_store_full_flash_full_and_failed_writes(tmp_path, pki):
    out = run(tmp_path, pki, "store_full")
    assert out["limit"] == [["Accepted", None]] * 3 + [["Rejected", "OutOfStorage"]]
    fails = out["fails"]
    assert len(fails) >= 3 and fails[-1][1] == "Accepted" and fails[-1][3] == 4, fails
    for n, status, code, count in fails[:-1]:
        assert [status, code, count] == ["Failed", "InternalError", 3], fails
    assert out["files_after_fails"] == ["1.der", "2.der", "3.der", "4.der", "index.json"], out
    small = out["small"]
    assert ["Rejected", "OutOfStorage"] in small and ["Failed", "InternalError"] not in small
    first = small.index(["Rejected", "OutOfStorage"])
    assert first >= 1 and all(s == ["Rejected", "OutOfStorage"] for s in small[first:]), small
    assert out["free"] >= 28


def test_power_cut_at_every_write_of_install_and_delete(tmp_path, pki):
    """A cut at any flash program/erase of an install (or a delete) leaves the old or
    the new state after the reboot, every listed certificate whole, no stray file."""
    out = run(tmp_path, pki, "power_cut", timeout=120)
    for what, old, new in (("install", 2, 3), ("delete", 2, 1)):
        seen = out[what]
        assert len(seen) > 3, seen
        assert seen[-1][1] == "Accepted" and all(s[1] == "cut" for s in seen[:-1]), seen
        assert all(s[2] == "mounted" and s[3] is False and s[5] and s[6] for s in seen), seen
        counts = [s[4] for s in seen]
        assert set(counts) <= {old, new}, seen                 # never a mix
        k = counts.index(new)
        assert set(counts[:k]) == {old} and set(counts[k:]) == {new}, seen


def test_damaged_index_reads_empty_and_keeps_files(tmp_path, pki):
    out = run(tmp_path, pki, "damaged_index")
    assert out["state"] == [True, 0, ["1.der", "index.json"]]
    assert out["again"] == "Accepted"
    assert out["after"] == [False, 1, ["1.der", "index.json"]]
