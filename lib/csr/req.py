"""DER documents for a station's own key: SubjectPublicKeyInfo (RFC 5480 §2), the
private key as SEC 1 ECPrivateKey (RFC 5915 §3, what mbedTLS and so MicroPython's
ssl take as `key=`), and the PKCS#10 CertificationRequest (RFC 2986 §4) that OCPP
SignCertificate carries as PEM (OCPP 1.6 security whitepaper / 2.0.1 A02, A03)."""
from micropython import const
from binascii import b2a_base64

from . import p256
from .der import seq, set_of, ctx, integer, bit_string, octet_string, oid, utf8
from .ecdsa import sign

_UB_NAME = const(64)        # RFC 5280 A.1: ub-common-name, ub-organization-name
_MAX_PEM = const(5500)      # OCPP SignCertificate csr: string[5500]
_KEY_LEN = const(121)       # key_der() length for P-256


def _ec_alg():
    # id-ecPublicKey with namedCurve prime256v1 (RFC 5480 §2.1.1)
    return seq(oid("1.2.840.10045.2.1"), oid("1.2.840.10045.3.1.7"))


def _point(pub):
    if len(pub) != 65 or pub[0] != 4:
        raise ValueError("public key must be a 65-byte uncompressed point")
    return bit_string(pub)


def spki_der(pub):
    """SubjectPublicKeyInfo DER of a 65-byte uncompressed public key."""
    return seq(_ec_alg(), _point(pub))


def key_der(d, pub):
    """ECPrivateKey DER (RFC 5915): version 1, the 32-byte scalar, [0] prime256v1,
    [1] the public key. PEM label, if wanted: "EC PRIVATE KEY"."""
    if d <= 0:
        raise ValueError("private key out of range")
    return seq(integer(1), octet_string(d.to_bytes(32, "big")),
               ctx(0, oid("1.2.840.10045.3.1.7")), ctx(1, _point(pub)))


def load_key(der):
    """(d, pub) back from key_der() output (also what OpenSSL writes for a P-256
    "EC PRIVATE KEY"); ValueError for any other layout or a pub that is not d*G."""
    der = bytes(der)
    if len(der) != _KEY_LEN:
        raise ValueError("not a P-256 ECPrivateKey of the expected layout")
    d = int.from_bytes(der[7:39], "big")
    pub = der[56:]
    if key_der(d, pub) != der:
        raise ValueError("not a P-256 ECPrivateKey of the expected layout")
    if p256.public_key(d) != pub:
        raise ValueError("public key does not belong to the private key")
    return d, pub


def _rdn(dotted, value):
    if not 0 < len(value) <= _UB_NAME:
        raise ValueError("name attribute %s must be 1..%d characters" % (dotted, _UB_NAME))
    return set_of(seq(oid(dotted), utf8(value)))


def subject_der(cn, org):
    """Name: O = org, CN = cn, as UTF8String (RFC 5280 §4.1.2.6)."""
    return seq(_rdn("2.5.4.10", org), _rdn("2.5.4.3", cn))


def sig_der(r, s):
    """Ecdsa-Sig-Value DER (RFC 5480 §2.2 / RFC 3279 §2.2.3)."""
    return seq(integer(r), integer(s))


def make_csr(d, pub, cn, org):
    """PKCS#10 CertificationRequest DER for the key pair (d, pub): subject O = org,
    CN = cn (OCPP: the station's serial number / identity), no attributes, signed
    ecdsa-with-SHA256 (RFC 5758 §3.2). ValueError if pub is not d*G."""
    if p256.public_key(d) != pub:
        raise ValueError("public key does not belong to the private key")
    info = seq(integer(0), subject_der(cn, org), spki_der(pub), ctx(0))
    r, s = sign(d, info)
    return seq(info, seq(oid("1.2.840.10045.4.3.2")), bit_string(sig_der(r, s)))


def csr_pem(der):
    """CSR DER -> PEM text, 64-character lines; ValueError past OCPP's 5500 chars."""
    mv = memoryview(der)
    out = ["-----BEGIN CERTIFICATE REQUEST-----\n"]
    for i in range(0, len(mv), 48):
        out.append(b2a_base64(mv[i:i + 48]).decode())
    out.append("-----END CERTIFICATE REQUEST-----\n")
    pem = "".join(out)
    if len(pem) > _MAX_PEM:
        raise ValueError("CSR PEM of %d characters, OCPP allows %d" % (len(pem), _MAX_PEM))
    return pem
