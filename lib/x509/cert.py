"""One X.509 certificate (RFC 5280 §4.1) read from DER, its parts kept as memoryviews.

Signatures are NOT verified: there is no RSA or ECDSA here. `tbs`, `sig_oid` and
`signature` are exposed for whoever can (mbedTLS checks chains in the TLS handshake).
"""
from micropython import const

from .der import (Invalid, MAX_CERT, tlv, expect, done, is_, integer, signed,
                  small_int, boolean, bit_string, oid, oid_ok, time_tuple, unix, text)
from .pem import pem_to_der

_BOOL = const(0x01)
_INT = const(0x02)
_BITS = const(0x03)
_OCTETS = const(0x04)
_OID = const(0x06)
_SEQ = const(0x30)
_SET = const(0x31)
_VERSION = const(0xA0)      # [0] EXPLICIT Version
_ISSUER_UID = const(0x81)   # [1] IMPLICIT UniqueIdentifier
_SUBJECT_UID = const(0x82)  # [2] IMPLICIT UniqueIdentifier
_EXTENSIONS = const(0xA3)   # [3] EXPLICIT Extensions
_MAX_SERIAL = const(20)     # octets, RFC 5280 §4.1.2.2 (OCPP serialNumber: 40 hex digits)

_CN = const(b"\x55\x04\x03")   # 2.5.4.3 commonName
_O = const(b"\x55\x04\x0a")    # 2.5.4.10 organizationName
_BC = const(b"\x55\x1d\x13")   # 2.5.29.19 basicConstraints
_KU = const(b"\x55\x1d\x0f")   # 2.5.29.15 keyUsage

# keyUsage (RFC 5280 §4.2.1.3): named bit n is 1 << n in Certificate.key_usage
DIGITAL_SIGNATURE = const(0x001)
NON_REPUDIATION = const(0x002)
KEY_ENCIPHERMENT = const(0x004)
DATA_ENCIPHERMENT = const(0x008)
KEY_AGREEMENT = const(0x010)
KEY_CERT_SIGN = const(0x020)
CRL_SIGN = const(0x040)
ENCIPHER_ONLY = const(0x080)
DECIPHER_ONLY = const(0x100)


class Certificate:
    """A certificate parsed from DER (bytes-like, at most MAX_CERT bytes); raises Invalid.

    der           the whole certificate (memoryview of a private bytes copy)
    tbs           tbsCertificate with tag and length: what the signature covers
    version       1, 2 or 3
    serial        serialNumber as int (RFC 5280 says positive; 0 and negatives exist)
    serial_bytes  its content octets as bytes, two's complement as encoded
    sig_oid       signatureAlgorithm OID as dotted text
    issuer        issuer Name with tag and length (hash and compare these bytes)
    subject       subject Name with tag and length
    cn, org       the subject's first commonName / organizationName as str, or None
    not_before    validity, seconds since 1970-01-01 UTC (UTCTime or GeneralizedTime)
    not_after
    spki          subjectPublicKeyInfo with tag and length
    key_oid       its algorithm OID as dotted text
    public_key    the subjectPublicKey BIT STRING value (no tag, length, unused-bits octet)
    signature     the signatureValue BIT STRING value
    ca            basicConstraints cA: None without the extension, else True/False
    path_len      basicConstraints pathLenConstraint, or None
    key_usage     keyUsage bits (KEY_CERT_SIGN | ...), or None without the extension
    """

    def __init__(self, der):
        n = len(der)
        if n > MAX_CERT:
            raise Invalid("certificate of %d bytes, limit %d" % (n, MAX_CERT))
        if isinstance(der, str):
            raise Invalid("DER must be bytes (x509.load reads PEM text)")
        if not isinstance(der, bytes):
            der = bytes(der)    # our own copy: the views below must not change under us
        b = memoryview(der)
        self.der = b
        s, e = expect(b, 0, n, _SEQ, "Certificate")
        done(e, n, "the input after the certificate")
        ts, te = expect(b, s, e, _SEQ, "tbsCertificate")
        self.tbs = b[s:te]
        alg = self._tbs(b, ts, te)
        s, p = expect(b, te, e, _SEQ, "signatureAlgorithm")
        self.sig_oid = _alg(b, s, p)
        if b[te:p] != alg:
            raise Invalid("signature and signatureAlgorithm differ")  # RFC 5280 §4.1.1.2
        s, p = expect(b, p, e, _BITS, "signatureValue")
        v, _ = bit_string(b, s, p)
        self.signature = b[v:p]
        done(p, e, "Certificate")

    def _tbs(self, b, p, e):
        t, s, c = tlv(b, p, e)
        self.version = 1
        if t == _VERSION:
            vs, ve = expect(b, s, c, _INT, "version")
            done(ve, c, "version")
            v = small_int(b, vs, ve, "version")
            if v > 2:
                raise Invalid("unknown version %d" % (v + 1))
            self.version = v + 1
            p = c
            t, s, c = tlv(b, p, e)
        if t != _INT:
            raise Invalid("serialNumber: tag 0x%02x at %d" % (t, p))
        integer(b, s, c)
        if c - s > _MAX_SERIAL and not (c - s == _MAX_SERIAL + 1 and b[s] == 0):
            raise Invalid("serialNumber longer than 20 octets")
        self.serial_bytes = bytes(b[s:c])
        self.serial = signed(b, s, c)
        s, p = expect(b, c, e, _SEQ, "signature")
        _alg(b, s, p)
        alg = b[c:p]
        s, c = expect(b, p, e, _SEQ, "issuer")
        _name(b, s, c)
        self.issuer = b[p:c]
        s, p = expect(b, c, e, _SEQ, "validity")
        self.not_before, s = _time(b, s, p)
        self.not_after, s = _time(b, s, p)
        done(s, p, "validity")
        s, c = expect(b, p, e, _SEQ, "subject")
        self.cn, self.org = _name(b, s, c)
        self.subject = b[p:c]
        s, p = expect(b, c, e, _SEQ, "subjectPublicKeyInfo")
        self.spki = b[c:p]
        s, c = expect(b, s, p, _SEQ, "subjectPublicKeyInfo algorithm")
        self.key_oid = _alg(b, s, c)
        s, c = expect(b, c, p, _BITS, "subjectPublicKey")
        done(c, p, "subjectPublicKeyInfo")
        v, unused = bit_string(b, s, c)
        if unused:
            raise Invalid("subjectPublicKey is not whole octets")
        self.public_key = b[v:c]
        self.ca = self.path_len = self.key_usage = None
        last = 0
        while p < e:    # [1], [2], [3], each optional, in this order
            t, s, c = tlv(b, p, e)
            if t <= last or t not in (_ISSUER_UID, _SUBJECT_UID, _EXTENSIONS):
                raise Invalid("tbsCertificate: tag 0x%02x at %d" % (t, p))
            if t == _EXTENSIONS:
                if self.version != 3:
                    raise Invalid("extensions in a version %d certificate" % self.version)
                self._extensions(b, s, c)
            else:
                if self.version == 1:
                    raise Invalid("unique identifier in a version 1 certificate")
                bit_string(b, s, c)
            last = t
            p = c
        return alg

    def _extensions(self, b, s, e):
        s, p = expect(b, s, e, _SEQ, "extensions")
        done(p, e, "[3]")
        if s == p:
            raise Invalid("empty extensions")
        while s < p:
            x, xe = expect(b, s, p, _SEQ, "Extension")
            os, oe = expect(b, x, xe, _OID, "extnID")
            oid_ok(b, os, oe)
            t, vs, ve = tlv(b, oe, xe)
            if t == _BOOL:  # critical (an encoded FALSE is tolerated)
                boolean(b, vs, ve)
                t, vs, ve = tlv(b, ve, xe)
            if t != _OCTETS:
                raise Invalid("extnValue: tag 0x%02x at %d" % (t, vs))
            done(ve, xe, "Extension")
            if is_(b, os, oe, _BC):
                if self.ca is not None:
                    raise Invalid("two basicConstraints extensions")
                self._basic_constraints(b, vs, ve)
            elif is_(b, os, oe, _KU):
                if self.key_usage is not None:
                    raise Invalid("two keyUsage extensions")
                self._key_usage(b, vs, ve)
            s = xe

    def _basic_constraints(self, b, s, e):
        # BasicConstraints ::= SEQUENCE { cA BOOLEAN DEFAULT FALSE,
        #                                 pathLenConstraint INTEGER (0..MAX) OPTIONAL }
        s, p = expect(b, s, e, _SEQ, "basicConstraints")
        done(p, e, "basicConstraints extnValue")
        ca = False
        if s < p:
            t, vs, ve = tlv(b, s, p)
            if t == _BOOL:
                ca = boolean(b, vs, ve)
                s = ve
        if s < p:
            vs, s = expect(b, s, p, _INT, "pathLenConstraint")
            self.path_len = small_int(b, vs, s, "pathLenConstraint")
        done(s, p, "basicConstraints")
        self.ca = ca

    def _key_usage(self, b, s, e):
        s, p = expect(b, s, e, _BITS, "keyUsage")
        done(p, e, "keyUsage extnValue")
        v, _ = bit_string(b, s, p)
        bits = 0
        for n in range(9):      # digitalSignature (0) .. decipherOnly (8)
            i = v + (n >> 3)
            if i < p and b[i] & (0x80 >> (n & 7)):
                bits |= 1 << n
        self.key_usage = bits


def _alg(b, s, e):
    # AlgorithmIdentifier ::= SEQUENCE { algorithm OID, parameters ANY OPTIONAL }
    os, oe = expect(b, s, e, _OID, "algorithm")
    if oe < e:
        _, _, pe = tlv(b, oe, e)    # parameters: one element, not read
        done(pe, e, "AlgorithmIdentifier")
    return oid(b, os, oe)


def _time(b, p, e):
    t, s, c = tlv(b, p, e)
    return unix(time_tuple(b, t, s, c)), c


def _name(b, s, e):
    # Name ::= SEQUENCE OF SET SIZE (1..MAX) OF SEQUENCE { type OID, value ANY }
    cn = org = None
    while s < e:
        r, re = expect(b, s, e, _SET, "RelativeDistinguishedName")
        if r == re:
            raise Invalid("empty RelativeDistinguishedName at %d" % s)
        while r < re:
            a, ae = expect(b, r, re, _SEQ, "AttributeTypeAndValue")
            os, oe = expect(b, a, ae, _OID, "attribute type")
            oid_ok(b, os, oe)
            t, vs, ve = tlv(b, oe, ae)
            done(ve, ae, "AttributeTypeAndValue")
            if cn is None and is_(b, os, oe, _CN):
                cn = text(b, t, vs, ve)
            elif org is None and is_(b, os, oe, _O):
                org = text(b, t, vs, ve)
            r = ae
        s = re
    return cn, org


def is_ca(cert):
    """True if basicConstraints says cA (RFC 5280 §4.2.1.9); a v1 root without
    extensions is not a CA by this test."""
    return cert.ca is True


def valid_at(cert, unix_time):
    """notBefore <= unix_time <= notAfter, both ends included (RFC 5280 §4.1.2.5)."""
    return cert.not_before <= unix_time <= cert.not_after


def issued_by(child, parent):
    """True if child's issuer Name is byte for byte parent's subject Name (no RFC 5280
    §7.1 name matching, no signature check)."""
    return child.issuer == parent.subject


def _ders(data):
    if isinstance(data, str) or not len(data) or data[0] != _SEQ:
        return pem_to_der(data)
    return [data]


def load(data):
    """Exactly one certificate from DER or PEM (str or bytes) -> Certificate."""
    ders = _ders(data)
    if len(ders) != 1:
        raise Invalid("%d certificates, expected one" % len(ders))
    return Certificate(ders[0])


def load_all(data):
    """Every certificate of a PEM bundle (or the one of a DER) -> [Certificate], in
    order; at least one."""
    ders = _ders(data)
    if not ders:
        raise Invalid("no certificate")
    return [Certificate(d) for d in ders]
