"""Certificate signature checks for the certificate store: does `issuer`'s key verify
`cert`'s signature? lib/x509 reads certificates but checks no signature; this module
checks the two algorithms a station can check in pure MicroPython:

- sha256WithRSAEncryption (RFC 8017 §8.2.2 RSASSA-PKCS1-v1_5, RFC 4055 OID) with the
  modular exponentiation of MicroPython's big integers (pow(s, e, n));
- ecdsa-with-SHA256 over P-256 (RFC 5758, FIPS 186-4 §6.4) with lib/csr's ECDSA.

Anything else (SHA-384/512 digests: MicroPython's hashlib has only SHA-1 and SHA-256;
P-384 keys; RSA-PSS; SHA-1 signatures, which are not accepted as proof) gives None:
"cannot tell", for the caller to treat as it must (the AdditionalRootCertificateCheck
refuses it, a self-signature check lets it pass on structure alone).
"""
from micropython import const
from hashlib import sha256

from x509.der import Invalid, expect, done, integer

_SEQ = const(0x30)
_INT = const(0x02)
_MAX_RSA = const(1024)      # modulus octets (8192 bits): bounded work on untrusted keys
_MAX_E = const(4)           # public exponent octets: at most 32 squarings
_RSA_SHA256 = const("1.2.840.113549.1.1.11")
_ECDSA_SHA256 = const("1.2.840.10045.4.3.2")
_RSA_KEY = const("1.2.840.113549.1.1.1")
_EC_KEY = const("1.2.840.10045.2.1")
# SubjectPublicKeyInfo of a P-256 key up to the point (RFC 5480): SEQUENCE, id-ecPublicKey,
# prime256v1, BIT STRING of 66 octets (unused-bits octet + 65-octet uncompressed point)
_P256_SPKI = const(b"\x30\x59\x30\x13\x06\x07\x2a\x86\x48\xce\x3d\x02\x01\x06\x08\x2a\x86\x48\xce\x3d\x03\x01\x07\x03\x42\x00")
# DigestInfo of SHA-256 up to the digest (RFC 8017 §9.2 note 1)
_DI_SHA256 = const(b"\x30\x31\x30\x0d\x06\x09\x60\x86\x48\x01\x65\x03\x04\x02\x01\x05\x00\x04\x20")


def check(cert, issuer):
    """True if issuer's public key verifies cert's signature, False if it does not (or
    the key or signature is malformed, or the key cannot make such a signature), None
    if the algorithm or curve is not one checked here."""
    alg, key = cert.sig_oid, issuer.key_oid
    try:
        if alg == _RSA_SHA256:
            return _rsa(cert, issuer) if key == _RSA_KEY else False
        if alg == _ECDSA_SHA256:
            return _ecdsa(cert, issuer) if key == _EC_KEY else False
    except Invalid:
        return False
    return None


def _uint(b, s, e, what):
    s, c = expect(b, s, e, _INT, what)
    integer(b, s, c)
    if b[s] & 0x80:
        raise Invalid("negative " + what)
    return s, c


def _rsa(cert, issuer):
    k = issuer.public_key                      # RSAPublicKey ::= SEQUENCE { n, e }
    s, e = expect(k, 0, len(k), _SEQ, "RSAPublicKey")
    done(e, len(k), "RSA key")
    ns, ne = _uint(k, s, e, "modulus")
    es, ee = _uint(k, ne, e, "publicExponent")
    done(ee, e, "RSAPublicKey")
    if k[ns] == 0:
        ns += 1
    size = ne - ns
    if size > _MAX_RSA or ee - es > _MAX_E:
        return None                            # outside what we check (work bound)
    if size < len(_DI_SHA256) + 32 + 11:
        return False                           # too short to hold a SHA-256 signature
    n = int.from_bytes(bytes(k[ns:ne]), "big")
    exp = int.from_bytes(bytes(k[es:ee]), "big")
    sig = cert.signature
    if len(sig) != size:
        return False                           # RFC 8017 §8.2.2 step 1
    m = int.from_bytes(bytes(sig), "big")
    if m >= n or exp < 3:
        return False
    em = pow(m, exp, n).to_bytes(size, "big")
    t = _DI_SHA256 + sha256(cert.tbs).digest()
    pad = size - len(t) - 3
    return em == b"\x00\x01" + b"\xff" * pad + b"\x00" + t


def _ecdsa(cert, issuer):
    return ecdsa_digest(issuer, sha256(cert.tbs).digest(), cert.signature)


def ecdsa_digest(issuer, digest, sig):
    """True if `issuer`'s P-256 key verifies the DER Ecdsa-Sig-Value `sig` over the
    SHA-256 `digest`, False if not (or malformed), None if the key is on another curve.
    Also what a firmware bundle's signature is checked with (firmware.update.bundle)."""
    spki = issuer.spki
    if len(spki) != len(_P256_SPKI) + 65 or bytes(spki[:len(_P256_SPKI)]) != _P256_SPKI:
        return None                            # another curve (P-384, ...)
    try:
        from csr.ecdsa import verify_digest    # lib/csr: only loaded when needed
    except ImportError:
        return None
    b = sig                                    # Ecdsa-Sig-Value ::= SEQUENCE { r, s }
    try:
        s, e = expect(b, 0, len(b), _SEQ, "ECDSA signature")
        done(e, len(b), "ECDSA signature")
        rs, re = _uint(b, s, e, "r")
        ss, se = _uint(b, re, e, "s")
        done(se, e, "ECDSA signature")
    except Invalid:
        return False
    if re - rs > 33 or se - ss > 33:
        return False
    r = int.from_bytes(bytes(b[rs:re]), "big")
    s = int.from_bytes(bytes(b[ss:se]), "big")
    try:
        return verify_digest(bytes(issuer.public_key), digest, r, s)
    except ValueError:
        return False                           # not a point on the curve
