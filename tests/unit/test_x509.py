"""lib/x509 under MicroPython, with `cryptography` as the oracle: certificates made here
(RSA, EC P-256/P-384, Ed25519 roots, intermediates and leaves; long, high-bit and tiny
serials; UTCTime and GeneralizedTime up to 9999; every keyUsage bit; odd string types)
and every certificate of the system CA bundle are checked field by field, and their
OCPP CertificateHashData against hashes computed here. Hostile DER (truncation at
every byte, seeded bit flips, 1000-deep nesting, huge and non-minimal lengths, trailing
data, wrong tags, bad times, bad PEM) must raise x509.Invalid under `-X heapsize=64k`
and nothing else. Times for the whole bundle are printed, not asserted."""
import base64
import datetime
import hashlib
import json
import os
import random
import subprocess
import warnings

import pytest
from cryptography import x509 as cx
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.x509.name import _ASN1Type
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from tests import mp

MPY_CROSS = os.path.join(os.path.dirname(mp.MICROPYTHON), "mpy-cross")
DER = serialization.Encoding.DER
UTC = datetime.timezone.utc
BUNDLES = ("/etc/ssl/certs/ca-certificates.crt",)

# The field dump every comparison uses: tests/mp/x509_fields.py; the programs:
# tests/mp/x509_dump.py and tests/mp/x509_hostile.py.


def sha(b):
    return hashlib.sha256(bytes(b)).hexdigest()


def key_bits(cert):
    """The subjectPublicKey BIT STRING value, from `cryptography` (no DER reading here);
    checked against the SHA-1 key identifier cryptography computes over the same bits."""
    pub = cert.public_key()
    if isinstance(pub, rsa.RSAPublicKey):
        v = pub.public_bytes(DER, serialization.PublicFormat.PKCS1)
    elif isinstance(pub, ec.EllipticCurvePublicKey):
        v = pub.public_bytes(serialization.Encoding.X962,
                             serialization.PublicFormat.UncompressedPoint)
    else:
        v = pub.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    assert hashlib.sha1(v).digest() == cx.SubjectKeyIdentifier.from_public_key(pub).digest
    return v


def ku_bits(cert):
    try:
        ku = cert.extensions.get_extension_for_class(cx.KeyUsage).value
    except cx.ExtensionNotFound:
        return None
    names = ("digital_signature", "content_commitment", "key_encipherment",
             "data_encipherment", "key_agreement", "key_cert_sign", "crl_sign")
    bits = sum(1 << i for i, n in enumerate(names) if getattr(ku, n))
    if ku.key_agreement:
        bits |= ku.encipher_only << 7 | ku.decipher_only << 8
    return bits


def first(name, oid):
    a = name.get_attributes_for_oid(oid)
    return a[0].value if a else None


def expected(cert):
    """What lib/x509 must report for `cert`, from cryptography."""
    try:
        bc = cert.extensions.get_extension_for_class(cx.BasicConstraints).value
        ca, path_len = bc.ca, bc.path_length
    except cx.ExtensionNotFound:
        ca = path_len = None
    der = cert.public_bytes(DER)
    n = cert.serial_number
    return {
        "der": sha(der), "tbs": sha(cert.tbs_certificate_bytes),
        "version": cert.version.value + 1, "serial": format(n, "x"),
        "serial_bytes": n.to_bytes((n.bit_length() + 8) // 8, "big", signed=True).hex(),
        "sig_oid": cert.signature_algorithm_oid.dotted_string,
        "issuer": cert.issuer.public_bytes().hex(), "subject": cert.subject.public_bytes().hex(),
        "cn": first(cert.subject, NameOID.COMMON_NAME),
        "org": first(cert.subject, NameOID.ORGANIZATION_NAME),
        "not_before": int(cert.not_valid_before_utc.timestamp()),
        "not_after": int(cert.not_valid_after_utc.timestamp()),
        "spki": sha(cert.public_key().public_bytes(
            DER, serialization.PublicFormat.SubjectPublicKeyInfo)),
        "key_oid": cert.public_key_algorithm_oid.dotted_string,
        "public_key": sha(key_bits(cert)), "signature": sha(cert.signature),
        "ca": ca, "path_len": path_len, "key_usage": ku_bits(cert), "is_ca": ca is True,
        "self_issued": cert.issuer == cert.subject,
    }


def expected_hash(cert, issuer):
    return {"hashAlgorithm": "SHA256", "issuerNameHash": sha(cert.issuer.public_bytes()),
            "issuerKeyHash": sha(key_bits(issuer)), "serialNumber": format(cert.serial_number, "x")}


# ---- certificates made with cryptography -------------------------------------------

def name(cn=None, o=None, *extra):
    attrs = []
    if cn is not None:
        attrs.append(cx.NameAttribute(NameOID.COMMON_NAME, cn))
    if o is not None:
        attrs.append(cx.NameAttribute(NameOID.ORGANIZATION_NAME, o))
    return cx.Name([cx.RelativeDistinguishedName([a]) for a in attrs + list(extra)])


def t(*args):
    return datetime.datetime(*args, tzinfo=UTC)


def ku(*on):
    names = ("digital_signature", "content_commitment", "key_encipherment",
             "data_encipherment", "key_agreement", "key_cert_sign", "crl_sign",
             "encipher_only", "decipher_only")
    return cx.KeyUsage(**{n: n in on for n in names})


def issue(subject, key, issuer, serial, nb, na, exts=(), alg=hashes.SHA256()):
    """Sign a certificate for `key` by `issuer` (None: self-signed) -> (cert, key)."""
    icert, ikey = issuer if issuer else (None, key)
    b = (cx.CertificateBuilder().subject_name(subject)
         .issuer_name(icert.subject if icert else subject)
         .public_key(key.public_key()).serial_number(serial)
         .not_valid_before(nb).not_valid_after(na))
    for ext, critical in exts:
        b = b.add_extension(ext, critical)
    return b.sign(ikey, None if isinstance(ikey, ed25519.Ed25519PrivateKey) else alg), key


@pytest.fixture(scope="module")
def pki():
    """name -> (cert, issuer cert) for a varied set of chains."""
    r2048 = lambda: rsa.generate_private_key(public_exponent=65537, key_size=2048)  # noqa: E731
    p256 = lambda: ec.generate_private_key(ec.SECP256R1())  # noqa: E731
    ca = lambda n: (cx.BasicConstraints(ca=True, path_length=n), True)  # noqa: E731
    out = {}
    rsa_root = issue(name("MicroEVSE RSA Root", "MicroEVSE"), r2048(), None, 1,
                     t(2024, 1, 1), t(2049, 12, 31, 23, 59, 59),
                     [ca(None), (ku("key_cert_sign", "crl_sign"), True)])
    ec_root = issue(name("MicroEVSE EC Root", "MicroEVSE"), p256(), None, 0x80 << 64,
                    t(1950, 1, 1), t(9999, 12, 31, 23, 59, 59),
                    [ca(1), (ku("digital_signature", "key_cert_sign", "crl_sign"), True)])
    rsa_int = issue(name("RSA Sub CA", "MicroEVSE"), r2048(), rsa_root, (1 << 159) - 1,
                    t(2024, 2, 29, 12, 34, 56), t(2050, 1, 1),
                    [ca(0), (ku("key_cert_sign", "crl_sign"), True)], alg=hashes.SHA384())
    ec_int = issue(name("EC Sub CA P-384"), ec.generate_private_key(ec.SECP384R1()), ec_root,
                   255, t(1999, 12, 31, 23, 59, 59), t(2075, 6, 30, 12, 0, 0),
                   [(cx.BasicConstraints(ca=True, path_length=None), False)],
                   alg=hashes.SHA384())
    leaf_tls = issue(name("cs001.example.org", "MicroEVSE CPO"), p256(), rsa_int,
                     0x0123456789ABCDEF0123, t(2024, 6, 1), t(2049, 12, 31, 23, 59, 59),
                     [(cx.BasicConstraints(ca=False, path_length=None), False),
                      (ku("digital_signature", "key_agreement"), True),
                      (cx.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH,
                                            ExtendedKeyUsageOID.CLIENT_AUTH]), False),
                      (cx.SubjectAlternativeName([cx.DNSName("cs001.example.org")]), False)])
    leaf_noext = issue(name(None, "Only Org"), r2048(), ec_int, 2,
                       t(1960, 6, 15, 1, 2, 3), t(2106, 2, 7, 6, 28, 16))
    leaf_ku_all = issue(name("All key usages"), ed25519.Ed25519PrivateKey.generate(), ec_int,
                        0x7F, t(2030, 1, 1), t(2031, 1, 1),
                        [(ku("digital_signature", "content_commitment", "key_encipherment",
                             "data_encipherment", "key_agreement", "key_cert_sign",
                             "crl_sign", "encipher_only", "decipher_only"), False)])
    leaf_decipher = issue(name("Decipher only"), p256(), ec_root, 0x80,
                          t(2024, 1, 1), t(2025, 1, 1),
                          [(ku("key_agreement", "decipher_only"), True)])
    strings = cx.Name([
        cx.RelativeDistinguishedName([cx.NameAttribute(
            NameOID.COMMON_NAME, "Ladesäule \u26a1", _type=_ASN1Type.BMPString)]),
        cx.RelativeDistinguishedName([cx.NameAttribute(
            NameOID.COMMON_NAME, "second CN")]),
        cx.RelativeDistinguishedName([cx.NameAttribute(
            NameOID.ORGANIZATION_NAME, "Stecker \U0001f50c", _type=_ASN1Type.UniversalString)])])
    leaf_strings = issue(strings, p256(), rsa_root, 3, t(2024, 1, 1), t(2026, 1, 1))
    others = cx.Name([
        cx.RelativeDistinguishedName([
            cx.NameAttribute(NameOID.COMMON_NAME, "T61 ascii", _type=_ASN1Type.T61String),
            cx.NameAttribute(NameOID.ORGANIZATION_NAME, "Printable Org",
                             _type=_ASN1Type.PrintableString)]),
        cx.RelativeDistinguishedName([cx.NameAttribute(NameOID.COUNTRY_NAME, "NL")])])
    leaf_multi = issue(others, p256(), rsa_root, 4, t(2024, 1, 1), t(2026, 1, 1))
    leaf_utf8 = issue(name("Zürich \U0001f50c 充电桩", "Ünïcödé GmbH"), p256(), ec_int,
                      int.from_bytes(b"\x00\xff" * 10, "big"), t(2049, 12, 31, 23, 59, 59),
                      t(2050, 1, 1, 0, 0, 0))
    leaf_empty = issue(cx.Name([]), p256(), ec_root, 5, t(2024, 1, 1), t(2026, 1, 1),
                       [(cx.SubjectAlternativeName([cx.DNSName("x.example")]), True)])
    for k, v in [("rsa_root", (rsa_root, rsa_root)), ("ec_root", (ec_root, ec_root)),
                 ("rsa_int", (rsa_int, rsa_root)), ("ec_int", (ec_int, ec_root)),
                 ("leaf_tls", (leaf_tls, rsa_int)), ("leaf_noext", (leaf_noext, ec_int)),
                 ("leaf_ku_all", (leaf_ku_all, ec_int)),
                 ("leaf_decipher", (leaf_decipher, ec_root)),
                 ("leaf_strings", (leaf_strings, rsa_root)),
                 ("leaf_multi", (leaf_multi, rsa_root)), ("leaf_utf8", (leaf_utf8, ec_int)),
                 ("leaf_empty", (leaf_empty, ec_root))]:
        out[k] = (v[0][0], v[1][0])
    return out


def run_dump(tmp_path, items):
    """items: [(der, issuer der or None)] -> list of dumps (+ 'hash') from micropython."""
    path = tmp_path / "certs.json"
    path.write_text(json.dumps([[d.hex(), i.hex() if i else None] for d, i in items]))
    return mp.run_file("x509_dump", "list", path, timeout=120)["r"]


def test_generated_certificates_field_by_field(tmp_path, pki):
    names = list(pki)
    got = run_dump(tmp_path, [(c.public_bytes(DER), i.public_bytes(DER)) for c, i in pki.values()])
    for n, g in zip(names, got):
        cert, issuer = pki[n]
        want = dict(expected(cert), hash=expected_hash(cert, issuer))
        assert g == want, n
    by = dict(zip(names, got))
    # the corner cases the set was made for, spelled out
    assert by["ec_root"]["serial_bytes"] == "00" + "80" + "00" * 8
    assert by["ec_root"]["hash"]["serialNumber"] == "80" + "00" * 8
    assert by["leaf_tls"]["hash"]["serialNumber"] == "123456789abcdef0123"   # no leading 0
    assert by["leaf_ku_all"]["hash"]["serialNumber"] == "7f"
    assert by["rsa_int"]["serial"] == "7f" + "f" * 38 and len(by["rsa_int"]["serial_bytes"]) == 40
    assert by["leaf_decipher"]["serial_bytes"] == "0080" and by["leaf_decipher"]["key_usage"] == 0x110
    assert by["leaf_ku_all"]["key_usage"] == 0x1FF and by["leaf_ku_all"]["key_oid"] == "1.3.101.112"
    assert by["ec_root"]["not_before"] == -631152000 and by["ec_root"]["not_after"] == 253402300799
    assert by["leaf_noext"]["not_before"] < 0 and by["leaf_noext"]["not_after"] == 2 ** 32
    assert by["leaf_noext"]["ca"] is None and by["leaf_noext"]["key_usage"] is None
    assert by["leaf_noext"]["cn"] is None and by["leaf_noext"]["org"] == "Only Org"
    assert by["leaf_utf8"]["not_after"] == 2524608000     # 2050: GeneralizedTime
    assert by["leaf_strings"]["cn"] == "Ladesäule \u26a1"     # BMPString, the first CN
    assert by["leaf_strings"]["org"] == "Stecker \U0001f50c"  # UniversalString
    assert by["leaf_empty"]["subject"] == "3000" and by["leaf_empty"]["cn"] is None
    assert by["rsa_int"]["hash"]["issuerKeyHash"] == by["rsa_root"]["hash"]["issuerKeyHash"]


def test_pem_bundles_helpers_and_hash_matching(tmp_path, pki):
    certs = [c for c, _ in pki.values()]
    pems = [c.public_bytes(serialization.Encoding.PEM).decode() for c in certs]
    bundle = "# comment\n" + "junk between\n".join(pems) + (
        "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n")
    crlf = pems[0].replace("\n", "\r\n")
    (tmp_path / "in.json").write_text(json.dumps({
        "bundle": bundle, "crlf": crlf, "ders": [c.public_bytes(DER).hex() for c in certs],
        "pem0": pems[0]}))
    out = mp.run_file("x509_dump", "helpers", tmp_path / "in.json")
    assert out["split"] == [c.public_bytes(DER).hex() for c in certs]
    assert out["split_bytes"] == out["load_all"] == len(certs)
    assert out["pem"] == pems                            # der_to_pem == cryptography's PEM
    assert out["crlf"] == certs[0].public_bytes(DER).hex()
    assert out["der_all"] == 1 and out["bytearray"] is True
    assert out["keys"] == ["000000"] and out["none"] == []
    assert out["chain"] == [True, True, False, True]
    assert out["valid"] == [True, True, False, False]
    assert out["is_ca"] == [expected(c)["is_ca"] for c in certs]
    assert out["ku_const"] == [0x20, 0x40, 0x01, 0x100]
    assert out["unix"] == [0, 951868800, -1, 4107542400]
    assert out["errs"] == ["not self-issued: the issuer certificate is needed",
                           "the issuer's subject is not the certificate's issuer"]
    assert out["match"] == [True, True, False, False, False, False, True]


def bundle_path():
    for p in BUNDLES:
        if os.path.exists(p):
            return p
    try:
        import certifi
        return certifi.where()
    except ImportError:
        return None


def made_bundle(path):
    """50 self-signed certificates, varied: EC P-256/P-384, Ed25519, RSA; serials of 1
    to 20 octets (high bit set or not); dates from 1955 to 9999; with and without
    basicConstraints/keyUsage."""
    rnd = random.Random(50)
    rsa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pems = []
    for i in range(50):
        key = (ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP384R1()),
               ed25519.Ed25519PrivateKey.generate(), rsa_key)[i % 4]
        serial = rnd.getrandbits(8 * (i % 20 + 1)) >> (i % 2) or 1
        serial = min(serial, (1 << 159) - 1)
        nb = t(1955 + i * 3, 1 + i % 12, 1 + i % 28, i % 24, i % 60, (7 * i) % 60)
        na = nb.replace(year=max(nb.year + 1, (2040, 2049, 2050, 2106, 9999)[i % 5]))
        e = []
        if i % 3:
            e.append((cx.BasicConstraints(ca=bool(i % 2), path_length=(i % 4 or None)
                                          if i % 2 else None), True))
        if i % 5:
            e.append((ku("key_cert_sign", "crl_sign") if i % 2 else ku("digital_signature"),
                      True))
        c, _ = issue(name("Made %d" % i, "MicroEVSE" if i % 2 else None), key, None,
                     serial, nb, na, e)
        pems.append(c.public_bytes(serialization.Encoding.PEM))
    with open(path, "wb") as f:
        f.write(b"".join(pems))


@pytest.mark.parametrize("source", ["system", "generated"])
def test_ca_bundle_fields_hash_data_and_timing(tmp_path, source):
    """Every certificate of the system CA bundle (else certifi's; if neither exists, a
    notice and the 50 generated certificates), and the 50 generated ones anyway."""
    path = bundle_path() if source == "system" else None
    if path is None:
        if source == "system":
            print("\nno system or certifi CA bundle: using 50 generated certificates")
        path = str(tmp_path / "made.pem")
        made_bundle(path)
    with open(path, "rb") as f:
        data = f.read()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")     # serial 0 in a few roots: deprecation warning
        certs = cx.load_pem_x509_certificates(data)
        want = [expected(c) for c in certs]
        want_hash = [expected_hash(c, c) if c.issuer == c.subject else None for c in certs]
    p = mp.run_program("x509_dump", "bundle", path, timeout=300, heapsize="4m")
    assert p.returncode == 0, p.stderr
    lines = p.stdout.splitlines()
    out = json.loads(lines[0])
    got = [json.loads(x) for x in lines[1:]]
    assert out["n"] == len(got) == len(certs) > 0
    for i, (g, w, wh) in enumerate(zip(got, want, want_hash)):
        assert g == dict(w, hash=wh), "%s #%d %s" % (path, i, w["cn"])
    print("\nx509 bundle %s: %d certificates, parse %.1f ms, hash_data %.1f ms "
          "(%.2f ms per certificate) under micropython"
          % (path, out["n"], out["parse_us"] / 1000, out["hash_us"] / 1000,
             (out["parse_us"] + out["hash_us"]) / 1000 / out["n"]))


# ---- hostile and malformed DER -------------------------------------------------------

def enc(tag, body):
    n = len(body)
    if n < 0x80:
        return bytes([tag, n]) + body
    lb = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes([tag, 0x80 | len(lb)]) + lb + body


def seq(*parts):
    return enc(0x30, b"".join(parts))


ECDSA_SHA256 = seq(enc(0x06, bytes.fromhex("2a8648ce3d040302")))
CN = bytes.fromhex("550403")


def rdn_name(*values):
    """Name of one CN per value: (tag, bytes)."""
    return seq(*[enc(0x31, seq(enc(0x06, CN), enc(tg, v))) for tg, v in values])


NAME = rdn_name((0x0C, b"Crafted"))
VALIDITY = seq(enc(0x17, b"240101000000Z"), enc(0x18, b"20491231235959Z"))
V3 = enc(0xA0, enc(0x02, b"\x02"))


def ext(oid_hex, value, critical=None):
    crit = b"" if critical is None else enc(0x01, critical)
    return seq(enc(0x06, bytes.fromhex(oid_hex)), crit, enc(0x04, value))


def craft(version=V3, serial=enc(0x02, b"\x01"), alg=ECDSA_SHA256, issuer=NAME,
          validity=VALIDITY, subject=NAME, spki=None, tail=b"", outer_alg=ECDSA_SHA256,
          sig=enc(0x03, b"\x00" + b"\x5a" * 16), after=b""):
    spki = SPKI if spki is None else spki
    tbs = seq(version, serial, alg, issuer, validity, subject, spki, tail)
    return seq(tbs, outer_alg, sig) + after


SPKI = seq(seq(enc(0x06, bytes.fromhex("2a8648ce3d0201")),
               enc(0x06, bytes.fromhex("2a8648ce3d030107"))),
           enc(0x03, b"\x00\x04" + bytes(range(64))))


def exts(*e):
    return enc(0xA3, seq(*e))


def nest(depth, tag=0x30, core=b""):
    x = core
    for _ in range(depth):
        x = enc(tag, x)
    return x


BC = "551d13"
KU = "551d0f"


def hostile_cases(real):
    """name -> (kind, data): every one must raise x509.Invalid."""
    deep = nest(1000)
    long_oid = seq(enc(0x06, b"\x2a" + b"\x81" * 64 + b"\x01"))
    c = {
        "empty": b"", "one byte": b"\x30", "empty SEQUENCE": b"\x30\x00",
        "indefinite length": b"\x30\x80" + real[2:] + b"\x00\x00",
        "length 0x84FFFFFFFF": b"\x30\x84\xff\xff\xff\xff" + real[4:],
        "5 length octets": b"\x30\x85\x00\x00\x00\x04\x00" + real[4:],
        "8 length octets": b"\x30\x88" + b"\xff" * 8 + real[4:],
        "non-minimal 0x81": b"\x30\x81\x05" + b"\x02\x01\x01\x05\x00",
        "non-minimal 0x82 00": b"\x30\x82\x00\x90" + bytes(0x90),
        "non-minimal 0x82 short": b"\x30\x82\x00\x05" + b"\x02\x01\x01\x05\x00",
        "huge declared size": b"\x30\x82\x7f\xff" + real[4:],
        "declared 64 KiB": b"\x30\x83\x01\x00\x00" + real[4:],
        "high tag number": b"\x3f\x81\x00" + real,
        "wrong outer tag": b"\x31" + real[1:],
        "over 8 KiB": seq(bytes(9000)),
        "trailing garbage": real + b"\x00",
        "two certificates": real + real,
        "nested 1000 deep": deep,
        "nested 1000 deep, [0] tags": nest(1000, 0xA0),
        "nested as serial": craft(serial=deep),
        "nested as issuer": craft(issuer=deep),
        "nested as CN value": craft(subject=seq(enc(0x31, seq(enc(0x06, CN), nest(900))))),
        "nested as basicConstraints": craft(tail=exts(ext(BC, nest(900)))),
        "nested as time": craft(validity=seq(nest(900), enc(0x17, b"240101000000Z"))),
        "tbs is a SET": seq(enc(0x31, b""), ECDSA_SHA256, enc(0x03, b"\x00")),
        "serial as OCTET STRING": craft(serial=enc(0x04, b"\x01")),
        "serial empty": craft(serial=enc(0x02, b"")),
        "serial non-minimal 00": craft(serial=enc(0x02, b"\x00\x01")),
        "serial non-minimal ff": craft(serial=enc(0x02, b"\xff\x80")),
        "serial 21 octets": craft(serial=enc(0x02, b"\x01" * 21)),
        "serial 22 octets": craft(serial=enc(0x02, b"\x00" + b"\x81" * 21)),
        "version 4": craft(version=enc(0xA0, enc(0x02, b"\x03"))),
        "version negative": craft(version=enc(0xA0, enc(0x02, b"\xff"))),
        "version huge": craft(version=enc(0xA0, enc(0x02, b"\x01" * 9))),
        "version extra": craft(version=enc(0xA0, enc(0x02, b"\x02") + b"\x05\x00")),
        "no validity": craft(validity=b""),
        "month 13": craft(validity=seq(enc(0x17, b"241301000000Z"), enc(0x17, b"250101000000Z"))),
        "Feb 29 2023": craft(validity=seq(enc(0x18, b"20230229000000Z"),
                                          enc(0x17, b"250101000000Z"))),
        "Feb 29 2100": craft(validity=seq(enc(0x18, b"21000229000000Z"),
                                          enc(0x18, b"21010101000000Z"))),
        "day 0": craft(validity=seq(enc(0x17, b"240100000000Z"), enc(0x17, b"250101000000Z"))),
        "hour 24": craft(validity=seq(enc(0x17, b"240101240000Z"), enc(0x17, b"250101000000Z"))),
        "second 60": craft(validity=seq(enc(0x17, b"240101235960Z"),
                                        enc(0x17, b"250101000000Z"))),
        "time offset": craft(validity=seq(enc(0x17, b"2401010000+0100"),
                                          enc(0x17, b"250101000000Z"))),
        "no seconds": craft(validity=seq(enc(0x17, b"2401010000Z"), enc(0x17, b"250101000000Z"))),
        "fraction": craft(validity=seq(enc(0x18, b"20240101000000.5Z"),
                                       enc(0x17, b"250101000000Z"))),
        "non-digit": craft(validity=seq(enc(0x17, b"24010100000xZ"),
                                        enc(0x17, b"250101000000Z"))),
        "minus digit": craft(validity=seq(enc(0x17, b"24-101000000Z"),
                                          enc(0x17, b"250101000000Z"))),
        "time as OCTET STRING": craft(validity=seq(enc(0x04, b"240101000000Z"),
                                                   enc(0x17, b"250101000000Z"))),
        "three times": craft(validity=seq(*[enc(0x17, b"240101000000Z")] * 3)),
        "cA bool 0x01": craft(tail=exts(ext(BC, seq(enc(0x01, b"\x01"))))),
        "cA bool 2 octets": craft(tail=exts(ext(BC, seq(enc(0x01, b"\xff\xff"))))),
        "pathLen negative": craft(tail=exts(ext(BC, seq(enc(0x01, b"\xff"), enc(0x02, b"\xff"))))),
        "pathLen 5 octets": craft(tail=exts(ext(BC, seq(enc(0x01, b"\xff"),
                                                        enc(0x02, b"\x01" * 5))))),
        "BC trailing": craft(tail=exts(ext(BC, seq(enc(0x01, b"\xff")) + b"\x05\x00"))),
        "BC extra field": craft(tail=exts(ext(BC, seq(enc(0x01, b"\xff"), enc(0x02, b"\x01"),
                                                      enc(0x02, b"\x01"))))),
        "two BC": craft(tail=exts(ext(BC, seq()), ext(BC, seq()))),
        "two KU": craft(tail=exts(ext(KU, enc(0x03, b"\x07\x80")),
                                  ext(KU, enc(0x03, b"\x07\x80")))),
        "empty extensions": craft(tail=enc(0xA3, seq())),
        "critical 2 octets": craft(tail=exts(ext(KU, enc(0x03, b"\x07\x80"), b"\xff\x00"))),
        "critical 0x01": craft(tail=exts(ext(KU, enc(0x03, b"\x07\x80"), b"\x01"))),
        "no extnValue": craft(tail=exts(seq(enc(0x06, bytes.fromhex(KU))))),
        "extension trailing": craft(tail=exts(seq(enc(0x06, bytes.fromhex(KU)),
                                                  enc(0x04, enc(0x03, b"\x07\x80")),
                                                  enc(0x05, b"")))),
        "extensions in v1": craft(version=b"", tail=exts(ext(KU, enc(0x03, b"\x07\x80")))),
        "uid in v1": craft(version=b"", tail=enc(0x81, b"\x00\x01")),
        "extensions then uid": craft(tail=exts(ext(KU, enc(0x03, b"\x07\x80")))
                                     + enc(0x81, b"\x00\x01")),
        "unknown tbs field": craft(tail=enc(0xA4, b"")),
        "KU unused 8": craft(tail=exts(ext(KU, enc(0x03, b"\x08\x80")))),
        "KU empty BIT STRING": craft(tail=exts(ext(KU, enc(0x03, b"")))),
        "KU unused without octets": craft(tail=exts(ext(KU, enc(0x03, b"\x01")))),
        "KU unused bits not zero": craft(tail=exts(ext(KU, enc(0x03, b"\x02\x87")))),
        "signature unused bits not zero": craft(sig=enc(0x03, b"\x01\x5a\x5b")),
        "KU as OCTET STRING": craft(tail=exts(ext(KU, enc(0x04, b"\x07\x80")))),
        "key unused bits": craft(spki=seq(seq(enc(0x06, bytes.fromhex("2a8648ce3d0201"))),
                                          enc(0x03, b"\x01\x04\x02"))),
        "key not BIT STRING": craft(spki=seq(seq(enc(0x06, bytes.fromhex("2a8648ce3d0201"))),
                                             enc(0x04, b"\x04\x02"))),
        "spki trailing": craft(spki=seq(SPKI[2:], b"\x05\x00")),
        "OID 66 octets": craft(alg=long_oid, outer_alg=long_oid),
        "OID truncated": craft(alg=seq(enc(0x06, b"\x2a\x86")),
                               outer_alg=seq(enc(0x06, b"\x2a\x86"))),
        "OID non-minimal": craft(alg=seq(enc(0x06, b"\x2a\x80\x01")),
                                 outer_alg=seq(enc(0x06, b"\x2a\x80\x01"))),
        "OID empty": craft(alg=seq(enc(0x06, b"")), outer_alg=seq(enc(0x06, b""))),
        "alg two params": craft(alg=seq(enc(0x06, b"\x2a\x03"), b"\x05\x00", b"\x05\x00")),
        "signature algorithms differ": craft(outer_alg=seq(enc(0x06, b"\x2a\x03"))),
        "signature algorithm parameters differ": craft(outer_alg=ECDSA_SHA256[:1]
                                                       + bytes([ECDSA_SHA256[1] + 2])
                                                       + ECDSA_SHA256[2:] + b"\x05\x00"),
        "nested as CN value, short": craft(subject=seq(enc(0x31, seq(enc(0x06, CN),
                                                                     nest(20))))),
        "sig empty BIT STRING": craft(sig=enc(0x03, b"")),
        "sig missing": craft(sig=b""),
        "CN bad UTF-8": craft(subject=rdn_name((0x0C, b"Caf\xc3"))),
        "CN overlong UTF-8": craft(subject=rdn_name((0x0C, b"\xc0\xaf"))),
        "CN overlong 3 octets": craft(subject=rdn_name((0x0C, b"\xe0\x80\xaf"))),
        "CN UTF-8 surrogate": craft(subject=rdn_name((0x0C, b"\xed\xa0\x80"))),
        "CN UTF-8 past U+10FFFF": craft(subject=rdn_name((0x0C, b"\xf4\x90\x80\x80"))),
        "CN UTF-8 cut": craft(subject=rdn_name((0x0C, b"ab\xe2\x9a"))),
        "CN UTF-8 lone continuation": craft(subject=rdn_name((0x0C, b"a\x80"))),
        "CN BMP odd length": craft(subject=rdn_name((0x1E, b"\x00A\x00"))),
        "CN BMP surrogate": craft(subject=rdn_name((0x1E, b"\xd8\x3d\xdd\x0c"))),
        "CN UCS-4 too big": craft(subject=rdn_name((0x1C, b"\x00\x11\x00\x00"))),
        "CN INTEGER": craft(subject=rdn_name((0x02, b"\x01"))),
        "CN 2000 octets": craft(subject=rdn_name((0x0C, b"a" * 2000))),
        "empty RDN": craft(subject=seq(enc(0x31, b""))),
        "attribute without value": craft(subject=seq(enc(0x31, seq(enc(0x06, CN))))),
        "attribute two values": craft(subject=seq(enc(0x31, seq(enc(0x06, CN), enc(0x0C, b"a"),
                                                                enc(0x0C, b"b"))))),
        "attribute empty OID": craft(subject=seq(enc(0x31, seq(enc(0x06, b""),
                                                               enc(0x0C, b"a"))))),
        "attribute OID truncated": craft(subject=seq(enc(0x31, seq(enc(0x06, b"\x55\x84"),
                                                                   enc(0x0C, b"a"))))),
        "extnID non-minimal": craft(tail=exts(ext("55801d0f", enc(0x03, b"\x07\x80")))),
        "Name of SEQUENCEs": craft(issuer=seq(seq(enc(0x06, CN), enc(0x0C, b"a")))),
    }
    cases = {k: ("der", v) for k, v in c.items()}
    pem = (b"-----BEGIN CERTIFICATE-----\n" + base64.encodebytes(real)
           + b"-----END CERTIFICATE-----\n")
    cases.update({
        "PEM without END": ("load", pem[:-26]),
        "PEM bad padding": ("load", b"-----BEGIN CERTIFICATE-----\n"
                            + base64.b64encode(real)[:-1] + b"\n-----END CERTIFICATE-----\n"),
        "PEM nested BEGIN": ("load", pem[:40] + pem + pem[40:]),
        "PEM block too long": ("load", b"-----BEGIN CERTIFICATE-----\n" + b"A" * 13000
                               + b"\n-----END CERTIFICATE-----\n"),
        "PEM two for load": ("load", pem + pem),
        "PEM none": ("load", b"hello"),
        "PEM none for load_all": ("load_all", b"-----BEGIN PRIVATE KEY-----\n"),
        "PEM empty block": ("load", b"-----BEGIN CERTIFICATE-----\n-----END CERTIFICATE-----\n"),
        "PEM truncated body": ("load", pem[:200] + b"\n-----END CERTIFICATE-----\n"),
        "DER for load, truncated": ("load", real[:-1]),
        "DER for load_all, trailing": ("load_all", real + b"\x30"),
    })
    return cases


KINDS = {"der": 0, "load": 1, "load_all": 2}


@pytest.fixture(scope="session")
def mpy_dir(tmp_path_factory):
    """lib/x509 compiled with mpy-cross -O1, as a board would load it: compiling the
    source inside a 64k heap would fragment it more than any board sees."""
    d = tmp_path_factory.mktemp("mpy")
    (d / "x509").mkdir()
    src = os.path.join(mp.ROOT, "lib", "x509")
    for f in sorted(os.listdir(src)):
        if f.endswith(".py"):
            subprocess.run([MPY_CROSS, "-O1", "-o", str(d / "x509" / (f[:-3] + ".mpy")),
                            os.path.join(src, f)], check=True)
    return str(d)


def run_hostile(mpy_dir, tmp_path, cases, mode, heapsize="64k"):
    """cases: [(kind, bytes)] written as records tests/mp/x509_hostile.py MODE reads;
    x509 is imported from the .mpy files. -> its output."""
    path = tmp_path / "hostile.bin"
    path.write_bytes(b"".join(bytes([KINDS[k]]) + len(d).to_bytes(4, "big") + d
                              for k, d in cases))
    p = subprocess.run([mp.MICROPYTHON, "-X", "heapsize=" + heapsize,
                        os.path.join(mp.MP_DIR, "x509_hostile.py"), mode, str(path)],
                       capture_output=True, text=True, timeout=240, cwd=mp.ROOT,
                       env=mp.env({"MICROPYPATH": mpy_dir}))
    assert p.returncode == 0, p.stdout[-3000:] + p.stderr
    return p.stdout


def test_hostile_der_and_pem_raise_invalid(mpy_dir, tmp_path, pki):
    real = pki["leaf_tls"][0].public_bytes(DER)
    cases = hostile_cases(real)
    names = list(cases)
    out = run_hostile(mpy_dir, tmp_path, [cases[n] for n in names], "invalid")
    results = dict(zip(names, out.splitlines()))
    assert len(results) == len(names)
    bad = {k: v for k, v in results.items() if not v.startswith("Invalid: ")}
    assert not bad, bad
    # a few messages spelled out: they are what a log or a CALLERROR shows
    assert results["indefinite length"] == "Invalid: indefinite length at 0"
    assert results["length 0x84FFFFFFFF"] == "Invalid: length past the end at 0"
    assert results["5 length octets"] == "Invalid: 5 length octets at 0"
    assert results["non-minimal 0x81"] == "Invalid: non-minimal length at 0"
    assert results["over 8 KiB"] == "Invalid: certificate of 9004 bytes, limit 8192"
    assert results["trailing garbage"].startswith("Invalid: 1 extra bytes")
    assert results["Feb 29 2023"].startswith("Invalid: bad day in time")
    assert results["two BC"] == "Invalid: two basicConstraints extensions"
    assert results["PEM two for load"] == "Invalid: 2 certificates, expected one"
    assert results["signature algorithms differ"] == \
        "Invalid: signature and signatureAlgorithm differ"
    assert results["nested as CN value"].startswith("Invalid: name attribute tag 0x30")
    assert results["CN overlong UTF-8"].startswith("Invalid: bad UTF-8")


def test_crafted_valid_corners(mpy_dir, tmp_path):
    """Legal DER at the edges parses, with the values computed here; where
    `cryptography` reads it, it agrees. Deep nesting where the schema allows ANY
    (algorithm parameters, an unknown extension, an unknown attribute) is skipped
    without being read, so it costs one length check."""
    deep = nest(800)
    cases = {
        "v1 no extensions": craft(version=b""),
        "v2 with uids": craft(version=enc(0xA0, enc(0x02, b"\x01")),
                              tail=enc(0x81, b"\x00\x01") + enc(0x82, b"\x00\x02")),
        "GeneralizedTime 2024 leap day": craft(validity=seq(
            enc(0x18, b"20240229123456Z"), enc(0x18, b"99991231235959Z"))),
        "UTCTime 1950 and 2049": craft(validity=seq(enc(0x17, b"500101000000Z"),
                                                    enc(0x17, b"491231235959Z"))),
        "year 2000 leap": craft(validity=seq(enc(0x18, b"20000229000000Z"),
                                             enc(0x18, b"00010101000000Z"))),
        "serial 0": craft(serial=enc(0x02, b"\x00")),
        "serial negative": craft(serial=enc(0x02, b"\xff\x01")),
        "serial 20 octets high bit": craft(serial=enc(0x02, b"\x00" + b"\xff" * 20)),
        "BC empty, critical FALSE encoded": craft(tail=exts(ext(BC, seq(), b"\x00"))),
        "BC pathLen only": craft(tail=exts(ext(BC, seq(enc(0x02, b"\x07"))))),
        "KU trailing zero octet": craft(tail=exts(ext(KU, enc(0x03, b"\x00\x86\x00")))),
        "deep in unknown extension": craft(tail=exts(ext("551d11", deep))),
        "deep in algorithm parameters": craft(alg=seq(enc(0x06, b"\x2a\x03"), deep),
                                              outer_alg=seq(enc(0x06, b"\x2a\x03"), deep)),
        "deep in unknown attribute": craft(subject=seq(enc(0x31, seq(
            enc(0x06, b"\x55\x04\x07"), deep)))),
        "T61 Latin-1": craft(subject=rdn_name((0x14, b"Caf\xe9"))),
        "empty names": craft(issuer=seq(), subject=seq()),
        "OID arcs": craft(alg=seq(enc(0x06, b"\x88\x37\x03\x81\x00\x7f")),
                          outer_alg=seq(enc(0x06, b"\x88\x37\x03\x81\x00\x7f"))),
    }
    names = list(cases)
    out = run_hostile(mpy_dir, tmp_path, [("der", cases[n]) for n in names], "corners")
    got = dict(zip(names, (json.loads(x) for x in out.splitlines())))
    for n in names:
        assert isinstance(got[n], list), (n, got[n])
        v = got[n]
        try:     # cross-check what cryptography can read (signatures are junk here)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                c = cx.load_der_x509_certificate(cases[n])
                w = [c.version.value + 1, format(c.serial_number, "x"),
                     int(c.not_valid_before_utc.timestamp()),
                     int(c.not_valid_after_utc.timestamp())]
        except Exception:
            w = None
        if w is not None and n != "year 2000 leap":
            assert v[:4] == w, n
    assert got["v1 no extensions"][0] == 1 and got["v2 with uids"][0] == 2
    assert got["GeneralizedTime 2024 leap day"][2:4] == [1709210096, 253402300799]
    assert got["UTCTime 1950 and 2049"][2:4] == [-631152000, 2524607999]
    assert got["year 2000 leap"][2:4] == [951782400, -62135596800]
    assert [got[n][1] for n in ("serial 0", "serial negative", "serial 20 octets high bit")] \
        == ["0", "-ff", "f" * 40]
    assert got["BC empty, critical FALSE encoded"][4:6] == [False, None]
    assert got["BC pathLen only"][4:6] == [False, 7]
    assert got["KU trailing zero octet"][6] == 0x61
    assert got["T61 Latin-1"][7] == "Café"
    assert got["empty names"][7] is None
    assert got["OID arcs"][8] == "2.999.3.128.127"
    assert got["deep in unknown extension"][9] > 3000


def test_truncation_at_every_byte(mpy_dir, tmp_path, pki):
    for n in ("rsa_root", "leaf_tls"):
        der = pki[n][0].public_bytes(DER)
        out = run_hostile(mpy_dir, tmp_path, [("der", der)], "truncation")
        assert out.strip() == "ok {'Invalid': %d}" % len(der), (n, out)


def flips(real, seed, count):
    rnd = random.Random(seed)
    out = []
    for _ in range(count):
        b = bytearray(real)
        how = rnd.random()
        if how < 0.6:       # 1-3 single-bit flips
            for _ in range(rnd.randint(1, 3)):
                b[rnd.randrange(len(b))] ^= 1 << rnd.randrange(8)
        elif how < 0.85:    # a random byte at a random place, often a length octet
            b[rnd.randrange(len(b))] = rnd.randrange(256)
        else:               # a run of random bytes
            i = rnd.randrange(len(b))
            for j in range(i, min(len(b), i + rnd.randint(2, 8))):
                b[j] = rnd.randrange(256)
        out.append(bytes(b))
    return out


def test_random_bit_flips(mpy_dir, tmp_path, pki):
    """Mutated certificates parse or raise Invalid, nothing else; fixed seeds plus one
    new seed per run (printed, so a failure can be replayed). Where both lib/x509 and
    `cryptography` (key included) read a mutant, every field agrees."""
    seeds = [1, 2, 3, 2024, 61850] + [random.SystemRandom().randrange(1 << 30)]
    print("\nx509 bit-flip seeds:", seeds)
    lines = []
    for n in ("rsa_root", "leaf_tls", "leaf_ku_all"):
        real = pki[n][0].public_bytes(DER)
        for s in seeds:
            lines += [("der", d) for d in flips(real, s, 150)]
    out = run_hostile(mpy_dir, tmp_path, lines, "flips")
    results = [json.loads(x) for x in out.splitlines()]
    assert len(results) == len(lines)
    other = [(i, r) for i, r in enumerate(results)
             if isinstance(r, str) and not r.startswith("Invalid: ")]
    assert not other, (seeds, other[:5])
    n_ok = agree = 0
    for (_, der), got in zip(lines, results):
        if isinstance(got, str):
            continue
        n_ok += 1
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                want = expected(cx.load_der_x509_certificate(der))
        except Exception:   # bad key material, extension contents lib/x509 never reads
            continue
        assert got == want, (seeds, der.hex())
        agree += 1
    print("x509 bit flips: %d parsed (%d also by cryptography, all fields equal), %d Invalid"
          % (n_ok, agree, len(results) - n_ok))
    assert 0 < agree <= n_ok < len(results)


def test_import_and_parse_memory(tmp_path, pki):
    """Import does no work beyond defining things; a parsed certificate is small."""
    der = pki["rsa_root"][0].public_bytes(DER)
    (tmp_path / "c.der").write_bytes(der)
    p = mp.run_program("x509_memory", tmp_path / "c.der", heapsize="64k")
    assert p.returncode == 0, p.stdout + p.stderr
    out = p.stdout.split()
    print("\nx509 RAM: import %s bytes (source, not frozen), one %d-byte RSA root parsed "
          "and hashed %s bytes" % (out[0], len(der), out[1]))
    assert int(out[1]) < 4096
