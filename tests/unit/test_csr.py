"""lib/csr under MicroPython, with `cryptography` as the oracle: P-256 points, ECDSA
signatures both ways, RFC 6979 nonces (the RFC's own vector, a rejection vector and
OpenSSL's deterministic signing), the SEC 1 key and PKCS#10 CSR it parses, and a real
mutual-TLS handshake from MicroPython's ssl (mbedTLS) with a certificate issued from
the MicroPython-made CSR. Timings and the smallest heap that works are printed. The
program: tests/mp/csr_ops.py."""
import datetime
import hashlib
import os
import socket
import ssl
import threading

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import (decode_dss_signature,
                                                             encode_dss_signature)
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID, SignatureAlgorithmOID

from tests import certs, mp

N = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551
_DER = serialization.Encoding.DER
_RAW = serialization.PublicFormat.UncompressedPoint

def mprun(case, data=None, heapsize=None, timeout=60):
    """tests/mp/csr_ops.py CASE, its inputs in a JSON file. -> what it reported."""
    return mp.run_case("csr_ops", case, data, heapsize=heapsize, timeout=timeout)


def pub_bytes(key):
    return key.public_key().public_bytes(serialization.Encoding.X962, _RAW)


# ------------------------------------------------------------------ key and CSR
@pytest.fixture(scope="module")
def made():
    """A key pair and CSR made under MicroPython, with timings."""
    return mprun("made")


def test_csr_parses_and_verifies_in_cryptography(made):
    print("\nmicropython: key generation %d ms (first, with the comb table %d ms), CSR %d ms"
          % (made["t_key"], made["t_key_first"], made["t_csr"]))
    req = x509.load_pem_x509_csr(made["pem"].encode())
    assert req.is_signature_valid
    assert req.signature_algorithm_oid == SignatureAlgorithmOID.ECDSA_WITH_SHA256
    assert req.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == "CS-000042"
    assert req.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)[0].value == \
        "Example CPO \u00c4G"
    assert req.subject.rfc4514_string() == "CN=CS-000042,O=Example CPO \u00c4G"
    assert len(req.attributes) == 0 and len(req.extensions) == 0
    assert req.public_bytes(_DER).hex() == made["der"]            # DER, re-encoded alike
    assert req.public_bytes(serialization.Encoding.PEM).decode() == made["pem"]
    lines = made["pem"].splitlines()
    assert lines[0] == "-----BEGIN CERTIFICATE REQUEST-----"
    assert lines[-1] == "-----END CERTIFICATE REQUEST-----"
    assert all(len(ln) <= 64 for ln in lines) and len(lines[1]) == 64
    assert len(made["pem"]) < 5500

    key = serialization.load_der_private_key(bytes.fromhex(made["key"]), None)
    assert isinstance(key.curve, ec.SECP256R1)
    assert key.private_numbers().private_value == int(made["d"], 16)
    assert req.public_key() == key.public_key()
    assert pub_bytes(key).hex() == made["pub"]
    spki = key.public_key().public_bytes(_DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    assert spki.hex() == made["spki"]
    # the same bytes OpenSSL writes for a SEC 1 "EC PRIVATE KEY"
    sec1 = key.private_bytes(_DER, serialization.PrivateFormat.TraditionalOpenSSL,
                             serialization.NoEncryption())
    assert sec1.hex() == made["key"]
    assert made["back"] is True


def test_csr_inputs_are_checked():
    out = mprun("inputs")
    assert "does not belong" in out["mismatch"]
    assert "1..64" in out["empty_cn"] and "1..64" in out["long_org"]
    assert out["max"] < 5500                       # the longest names allowed still fit
    assert "5502" in out["big_pem"] and out["pem_4008"] == 5498
    assert "does not belong" in out["load_other"]
    assert "layout" in out["load_short"] and "layout" in out["load_flip"]
    assert "65-byte" in out["bad_pub"] and "range" in out["pubkey_0"]


def test_key_generation_rejects_out_of_range_draws():
    """FIPS 186-4 B.4.2 rejection sampling over an injected random source: 0 and
    values >= n are drawn again; a source that never gives one raises OSError."""
    out = mprun("rejects")
    assert int(out["d"], 16) == N - 1 and out["left"] == 0
    key = ec.derive_private_key(N - 1, ec.SECP256R1())
    assert pub_bytes(key).hex() == out["pub"]
    assert "random source" in out["broken"]


# ------------------------------------------------------------------ point arithmetic
def test_points_match_cryptography():
    rnd = [int.from_bytes(os.urandom(32), "big") % (N - 1) + 1 for _ in range(8)]
    scalars = [1, 2, 3, 15, 16, 2**64, 2**64 + 1, 2**192 + 2**128 + 2**64 + 1,
               N - 1, N - 2, (N - 1) // 2] + rnd
    out = mprun("points", {"scalars": scalars})
    for k, got in zip(scalars, out["pub"]):
        assert got == pub_bytes(ec.derive_private_key(k, ec.SECP256R1())).hex(), hex(k)
    assert out["mul"] and out["mul_add"] and out["neg"] and out["again"]
    assert out["inf"] == [None, None, None, None]
    assert out["on"] == [True, False]


def test_decode_rejects_points_off_the_curve():
    out = mprun("decode")
    c = out["cases"]
    assert "uncompressed" in c[0] and "uncompressed" in c[1]
    assert "not on P-256" in c[2] and "not on P-256" in c[3] and c[4] == "accepted"
    assert "not on P-256" in out["verify_bad_pub"]


# ------------------------------------------------------------------ ECDSA
MESSAGES = [b"", b"a", b"sample", b"test", bytes(range(256)) * 4, "\u00e4".encode() * 33]


def test_micropython_signatures_verify_in_cryptography():
    out = mprun("our_sigs", {"messages": [m.hex() for m in MESSAGES]})
    print("\nmicropython: sign %d ms, verify %d ms" % (out["t_sign"], out["t_verify"]))
    pub = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(),
                                                       bytes.fromhex(out["pub"]))
    oracle = ec.derive_private_key(int(out["d"], 16), ec.SECP256R1())
    for m, (r, s), der in zip(MESSAGES, out["sigs"], out["der"]):
        sig = encode_dss_signature(int(r, 16), int(s, 16))
        assert sig.hex() == der
        pub.verify(sig, m, ec.ECDSA(hashes.SHA256()))     # raises if invalid
        # RFC 6979 nonces: the same signature as OpenSSL's deterministic ECDSA
        want = oracle.sign(m, ec.ECDSA(hashes.SHA256(), deterministic_signing=True))
        assert decode_dss_signature(want) == (int(r, 16), int(s, 16))
    assert all(out["self"]) and out["again"] and out["digest"]


def test_cryptography_signatures_verify_with_ours():
    key = ec.generate_private_key(ec.SECP256R1())
    sigs = [decode_dss_signature(key.sign(m, ec.ECDSA(hashes.SHA256()))) for m in MESSAGES]
    out = mprun("their_sigs", {"pub": pub_bytes(key).hex(), "messages": [m.hex() for m in MESSAGES],
                               "sigs": [list(x) for x in sigs]})
    assert out["good"] == [True] * len(MESSAGES)
    assert out["bad"] == [False] * 9
    assert out["malleable"] is True


def test_rfc6979_vectors():
    """RFC 6979 A.2.5 (P-256, SHA-256, "sample" and "test") and the C2SP/CCTV vector
    whose first candidate nonce is >= n and must be skipped ("wv[vnX")."""
    out = mprun("rfc6979")
    assert out["pub"] == ("04"
                          "60fed4ba255a9d31c961eb74c6356d68c049b8923b61fa6ce669622e60f29fb6"
                          "7903fe1008b8bc99a41ae9e95628bc64f2f1b20c2d7e9f5177a3c294d4462299")
    assert out["sample"] == [
        "A6E3C57DD01ABE90086538398355DD4C3B17AA873382B0F24D6129493D8AAD60",
        "EFD48B2AACB6A8FD1140DD9CD45E81D69D2C877B56AAF991C34D0EA84EAF3716",
        "F7CB1C942D657C41D436C7A1B6E29F65F3E900DBB9AFF4064DC4AB2F843ACDA8"]
    assert out["test"] == [
        "D16B6AE827F17175E040871A1C7EC3500192C4C92677336EC2537ACAEE0008E0",
        "F1ABB023518351CD71D881567B1EA663ED3EFCF6C5132B354F28D3B0B7D38367",
        "019F4113742A2B14BD25926B49C649155F267E60D3814B4C0CC84250E46F0083"]
    assert out["wv[vnX"] == [
        "2AE40DF9D9DAB61D688DE3DCB9867A98ECC70DD4D6C0F6C228B6E4E0B18B29BC",
        "EFD9073B652E76DA1B5A019C0E4A2E3FA529B035A6ABB91EF67F0ED7A1F21234",
        "3DB4706C9D9F4A4FE13BB5E08EF0FAB53A57DBAB2061C83A35FA411C68D2BA33"]
    import hmac
    assert out["hmac"] == hmac.new(b"Jefe", b"what do ya want for nothing?",
                                   hashlib.sha256).hexdigest()
    assert out["hmac"] == "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
    assert out["hmac_long_key"] == hmac.new(
        b"\xaa" * 131, b"Test Using Larger Than Block-Size Key - Hash Key First",
        hashlib.sha256).hexdigest()


# ------------------------------------------------------------------ DER writer
def test_der_writer_exact_bytes():
    out = mprun("der_writer")
    assert out["int"] == ["020100", "020101", "02017f", "02020080", "020200ff", "02020100",
                          "02027fff", "0203008000", "022100" + "80" + "00" * 31]
    assert out["oid"] == ["06072a8648ce3d0201", "06082a8648ce3d030107",
                          "06082a8648ce3d040302", "0603550403", "0603883703",
                          "06092a864886f70d01010b"]
    assert out["len"] == ["047f0000", "04818000", "0481ff00", "04820100"]
    assert out["str"] == ["0c02c3a4", "130e" + "A b'(+,-./:=?)".encode().hex()]
    assert out["set"] == "310602010302010" + "5"
    assert out["ctx"] == ["a000", "a103020101"]
    assert out["bits"] == "030200ab"
    assert out["errors"] == ["ValueError"] * 7


# ------------------------------------------------------------------ memory
def test_runs_in_96k_heap_and_smallest_heap():
    """Everything at -X heapsize=96k; the comb table stays under 4 KB and free() gives
    it back. The smallest heap that works (source compiled on the device, 64-bit unix
    port) is printed, not asserted."""
    out = mprun("heap", heapsize="96k")
    assert out["ok"] is True
    assert 0 < out["table"] < 4096
    smallest = None
    for kb in range(20, 97, 4):
        p = mp.run_program("csr_ops", "heap", heapsize="%dk" % kb)
        if p.returncode == 0 and mp.reported(p):
            smallest = kb
            break
    print("\nmicropython heap: 96k ok; smallest that works (4k steps, test prelude "
          "included): %sk; heap in use after import %d B; comb table %d B, %d B left "
          "after p256.free()" % (smallest, out["after_import"], out["table"],
                                 out["after_free"]))


# ------------------------------------------------------------------ mutual TLS
def _issue(ca, req):
    now = datetime.datetime.now(datetime.timezone.utc)
    return (x509.CertificateBuilder()
            .subject_name(req.subject).issuer_name(ca.cert.subject)
            .public_key(req.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(days=1))
            .not_valid_after(now + datetime.timedelta(days=30))
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), False)
            .sign(ca.key, hashes.SHA256()))


def test_mutual_tls_with_the_micropython_key(made, tmp_path):
    ca = certs.make_ca()
    server = certs.make_server_cert(ca, hosts=("localhost", "127.0.0.1"))
    req = x509.load_pem_x509_csr(made["pem"].encode())
    assert req.is_signature_valid
    cert = _issue(ca, req)

    sctx = certs.server_ssl_context(server, client_ca=ca)
    assert sctx.verify_mode == ssl.CERT_REQUIRED
    assert sctx.minimum_version == ssl.TLSVersion.TLSv1_2
    ls = socket.socket()
    ls.bind(("127.0.0.1", 0))
    ls.listen(1)
    ls.settimeout(30)
    port = ls.getsockname()[1]
    seen = {}

    def serve():
        try:
            c, _ = ls.accept()
            c.settimeout(30)
            with sctx.wrap_socket(c, server_side=True) as t:
                peer = t.getpeercert()
                seen["cn"] = [v for rdn in peer["subject"] for k, v in rdn
                              if k == "commonName"]
                seen["version"] = t.version()
                seen["got"] = t.recv(100)
                t.sendall(b"hello " + seen["cn"][0].encode())
        except (OSError, ssl.SSLError) as e:
            seen["error"] = repr(e)

    th = threading.Thread(target=serve, daemon=True)
    th.start()
    try:
        out = mprun("mtls", {"ca": ca.cert_der.hex(), "cert": cert.public_bytes(_DER).hex(),
                             "key": made["key"], "port": port})
    finally:
        th.join(timeout=30)
        ls.close()
    assert "error" not in seen, seen
    assert seen["cn"] == ["CS-000042"] and seen["got"] == b"ping"
    assert seen["version"] in ("TLSv1.2", "TLSv1.3")
    assert out["reply"] == "hello CS-000042"
