"""OCPP CertificateHashData: how a station names an installed certificate.

OCPP 2.0.1 Part 2 CertificateHashDataType (errata 2023-12 §2.15.1) and the 1.6
security whitepaper ed.2 (same fields, no rule of its own):
- hashAlgorithm: "SHA256", the one hash every MicroPython port has (hashlib).
- issuerNameHash: hash of the DER issuer Name of the certificate itself.
- issuerKeyHash: hash of the issuer's subjectPublicKey value without tag, length and
  unused-bits octet (RFC 6960 §4.1.1 CertID; OpenSSL X509_pubkey_digest): a
  self-signed root's own key, the parent's key for every other certificate.
- serialNumber: hex "without the prefix 0x and without leading zeroes". The spec and
  the JSON schemas (string, maxLength 40) set no case; we send lower case, as EVerest
  libevse-security does (PR #11: "printed in lowercase hex (seems this is not an issue
  with OCTT)"; OpenSSL's BN_bn2hex would give upper case). Hashes are lower-case hex
  too. Incoming hash data is matched case-insensitively (hash_matches).
"""
from binascii import hexlify
from hashlib import sha256

from .der import Invalid
from .cert import issued_by


def _sha256_hex(data):
    return hexlify(sha256(data).digest()).decode()


def serial_hex(cert):
    """serialNumber as OCPP sends it: lower-case hex, no "0x", no leading zeros ("0"
    for 0; a negative serial, which RFC 5280 forbids, keeps its "-")."""
    return "%x" % cert.serial


def hash_data(cert, issuer=None):
    """CertificateHashData of `cert` -> dict with hashAlgorithm, issuerNameHash,
    issuerKeyHash, serialNumber.

    `issuer` is the certificate that issued `cert`; leave it out only for a self-issued
    one (issuer Name == subject Name), whose own key is then used. Raises Invalid if
    the issuer's subject is not `cert`'s issuer (nothing checks a signature).
    """
    if issuer is None:
        if not issued_by(cert, cert):
            raise Invalid("not self-issued: the issuer certificate is needed")
        issuer = cert
    elif not issued_by(cert, issuer):
        raise Invalid("the issuer's subject is not the certificate's issuer")
    return {
        "hashAlgorithm": "SHA256",
        "issuerNameHash": _sha256_hex(cert.issuer),
        "issuerKeyHash": _sha256_hex(issuer.public_key),
        "serialNumber": serial_hex(cert),
    }


def _hex(v, serial=False):
    if not isinstance(v, str):
        return None
    v = v.lower()
    if serial:
        v = v.lstrip("0") or "0"
    return v


def hash_matches(a, b):
    """True if CertificateHashData dicts `a` and `b` name the same certificate: same
    hashAlgorithm, hex compared without regard to case (and serials without leading
    zeros). Missing or non-string fields never match."""
    alg = a.get("hashAlgorithm")
    if not isinstance(alg, str) or alg != b.get("hashAlgorithm"):
        return False
    for k in ("issuerNameHash", "issuerKeyHash", "serialNumber"):
        x = _hex(a.get(k), k == "serialNumber")
        if x is None or x != _hex(b.get(k), k == "serialNumber"):
            return False
    return True
