"""ECDSA over P-256 with SHA-256 (FIPS 186-4 §6.4, SEC 1 v2 §4.1), nonces derived
deterministically from the key and the message (RFC 6979 §3.2), so signing needs no
random source and a weak one cannot leak the key. Signatures are (r, s) integers;
req.sig_der() gives the DER Ecdsa-Sig-Value. s is not normalised to low-S.
"""
from micropython import const
from hashlib import sha256

from . import p256

_N = const(0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551)  # p256
_TRIES = const(16)      # RFC 6979 retries: each candidate fails with probability ~2^-32


def hmac_sha256(key, *parts):
    """HMAC-SHA256 (RFC 2104) of the concatenated parts."""
    if len(key) > 64:
        key = sha256(key).digest()
    key = key + bytes(64 - len(key))
    inner = sha256(bytes(b ^ 0x36 for b in key))
    for m in parts:
        inner.update(m)
    outer = sha256(bytes(b ^ 0x5C for b in key))
    outer.update(inner.digest())
    return outer.digest()


def nonces(d, h):
    """RFC 6979 §3.2 candidate nonces k in [1, n-1] for private key d and the 32-byte
    digest h (qlen = hlen = 256, so bits2int is a plain conversion), in order."""
    x = d.to_bytes(32, "big")
    h1 = (int.from_bytes(h, "big") % _N).to_bytes(32, "big")      # bits2octets
    v = b"\x01" * 32
    k = bytes(32)
    k = hmac_sha256(k, v, b"\x00", x, h1)                          # step d
    v = hmac_sha256(k, v)                                          # step e
    k = hmac_sha256(k, v, b"\x01", x, h1)                          # step f
    v = hmac_sha256(k, v)                                          # step g
    while True:                                                    # step h
        v = hmac_sha256(k, v)
        t = int.from_bytes(v, "big")
        if 0 < t < _N:
            yield t
        k = hmac_sha256(k, v, b"\x00")
        v = hmac_sha256(k, v)


def sign_digest(d, h):
    """Sign the 32-byte SHA-256 digest h with private key d -> (r, s)."""
    if not 0 < d < _N:
        raise ValueError("private key out of range")
    if len(h) != 32:
        raise ValueError("digest must be 32 bytes")
    e = int.from_bytes(h, "big")
    tries = 0
    for k in nonces(d, h):
        r = p256.mul_g(k)[0] % _N
        if r:
            s = pow(k, _N - 2, _N) * (e + r * d) % _N
            if s:
                return r, s
        tries += 1
        if tries >= _TRIES:
            break
    raise ValueError("no usable RFC 6979 nonce")


def sign(d, msg):
    """ECDSA-with-SHA256 signature of msg (bytes) with private key d -> (r, s)."""
    return sign_digest(d, sha256(msg).digest())


def verify_digest(pub, h, r, s):
    """True if (r, s) signs the 32-byte digest h under the 65-byte public key pub.
    A malformed pub raises ValueError; a wrong signature only returns False."""
    Q = p256.decode(pub)
    if not (0 < r < _N and 0 < s < _N) or len(h) != 32:
        return False
    w = pow(s, _N - 2, _N)
    e = int.from_bytes(h, "big")
    R = p256.mul_add(e * w % _N, r * w % _N, Q)
    return R is not None and R[0] % _N == r


def verify(pub, msg, r, s):
    """True if (r, s) is an ECDSA-with-SHA256 signature of msg under pub."""
    return verify_digest(pub, sha256(msg).digest(), r, s)
