"""NIST P-256 (secp256r1; SEC 2 v2 §2.4.2, FIPS 186-4 D.1.2.3) in pure MicroPython.

Points are affine (x, y) tuples or None for the point at infinity; the work is done in
Jacobian coordinates (X, Y, Z) <-> (X/Z^2, Y/Z^3), with the a = -3 doubling.
k*G uses a 4-tooth comb (64 doublings, <= 64 mixed additions) over a 15-point table
built on first use (about 2.5 KB; free() drops it); k*Q uses a 4-bit fixed window.

Not constant time: Python big-int arithmetic leaks timing whatever the algorithm. A
station runs this once per key and once per CSR, not on attacker-timed requests.
"""
from micropython import const
import os

_P = const(0xFFFFFFFF00000001000000000000000000000000FFFFFFFFFFFFFFFFFFFFFFFF)
_N = const(0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551)
_B = const(0x5AC635D8AA3A93E7B3EBBD55769886BC651D06B0CC53B0F63BCE3C3E27D2604B)
_GX = const(0x6B17D1F2E12C4247F8BCE6E563A440F277037D812DEB33A0F4A13945D898C296)
_GY = const(0x4FE342E2FE1A7F9B8EE7EB4A7C0F9E162BCE33576B315ECECBB6406837BF51F5)
_KEY_TRIES = const(64)      # a 32-byte draw is >= n with probability ~2^-32

_comb = None                # [None, T1..T15]: T[i] = sum of 2^(64j)*G over bits j of i


def free():
    """Drop the k*G table (rebuilt on the next use)."""
    global _comb
    _comb = None


def _dbl(X, Y, Z):
    # dbl-2001-b (a = -3): 3M + 5S; Y != 0 always holds (the group order is odd)
    p = _P
    d = Z * Z % p
    g = Y * Y % p
    b = X * g % p
    a = 3 * (X - d) * (X + d) % p
    X3 = (a * a - 8 * b) % p
    return X3, (a * (4 * b - X3) - 8 * g * g) % p, 2 * Y * Z % p


def _madd(X1, Y1, Z1, x2, y2):
    # Jacobian + affine (Z2 = 1): 8M + 3S; None when the sum is the point at infinity
    p = _P
    z = Z1 * Z1 % p
    h = (x2 * z - X1) % p
    r = (y2 * z * Z1 - Y1) % p
    if not h:
        return None if r else _dbl(X1, Y1, Z1)
    hh = h * h % p
    hhh = h * hh % p
    v = X1 * hh % p
    X3 = (r * r - hhh - 2 * v) % p
    return X3, (r * (v - X3) - Y1 * hhh) % p, Z1 * h % p


def _add(A, B):
    # Jacobian + Jacobian (add-1998-cmo-2), either may be None
    if A is None:
        return B
    if B is None:
        return A
    p = _P
    X1, Y1, Z1 = A
    X2, Y2, Z2 = B
    z1 = Z1 * Z1 % p
    z2 = Z2 * Z2 % p
    u1 = X1 * z2 % p
    s1 = Y1 * z2 * Z2 % p
    h = (X2 * z1 - u1) % p
    r = (Y2 * z1 * Z1 - s1) % p
    if not h:
        return None if r else _dbl(X1, Y1, Z1)
    hh = h * h % p
    hhh = h * hh % p
    v = u1 * hh % p
    X3 = (r * r - hhh - 2 * v) % p
    return X3, (r * (v - X3) - s1 * hhh) % p, Z1 * Z2 * h % p


def _affine(R):
    if R is None:
        return None
    p = _P
    X, Y, Z = R
    zi = pow(Z, p - 2, p)           # Fermat: p is prime
    z2 = zi * zi % p
    return X * z2 % p, Y * z2 * zi % p


def _table():
    global _comb
    if _comb is None:
        base = [(_GX, _GY, 1)]
        for _ in range(3):
            R = base[-1]
            for _ in range(64):
                R = _dbl(*R)
            base.append(R)
        t = [None]
        for i in range(1, 16):
            low = i & -i
            t.append(_add(t[i ^ low], base[(1, 2, 4, 8).index(low)]))
        _comb = [None] + [_tight(_affine(R)) for R in t[1:]]
    return _comb


def _tight(Q):
    # a reduced product keeps the digit buffer of its 512-bit dividend: copying through
    # bytes halves what the table holds (about 2.5 KB instead of 5 KB)
    return int.from_bytes(Q[0].to_bytes(32, "big"), "big"), \
        int.from_bytes(Q[1].to_bytes(32, "big"), "big")


def _mul_g(k):
    # Jacobian k*G, 0 <= k < 2^256: column i takes bits i, i+64, i+128, i+192 of k
    T = _table()
    kb = k.to_bytes(32, "big")
    R = None
    for i in range(63, -1, -1):
        if R is not None:
            R = _dbl(*R)
        o = 31 - (i >> 3)
        s = i & 7
        j = ((kb[o] >> s) & 1 | ((kb[o - 8] >> s) & 1) << 1
             | ((kb[o - 16] >> s) & 1) << 2 | ((kb[o - 24] >> s) & 1) << 3)
        if j:
            x, y = T[j]
            R = (x, y, 1) if R is None else _madd(R[0], R[1], R[2], x, y)
    return R


def _mul(k, Q):
    # Jacobian k*Q for an affine Q, 0 <= k < 2^256: 4-bit fixed window
    T = [None, (Q[0], Q[1], 1)]
    T.append(_dbl(*T[1]))
    for i in range(3, 16):
        T.append(_add(T[i - 1], T[1]))
    R = None
    for byte in k.to_bytes(32, "big"):
        for j in (byte >> 4, byte & 15):
            if R is not None:
                R = _dbl(*_dbl(*_dbl(*_dbl(*R))))
            if j:
                R = _add(R, T[j])
    return R


def mul_g(k):
    """k*G as an affine point, or None for the point at infinity (k = 0 mod n)."""
    return _affine(_mul_g(k % _N))


def mul(k, Q):
    """k*Q for an affine point Q on the curve."""
    return _affine(_mul(k % _N, Q))


def mul_add(u1, u2, Q):
    """u1*G + u2*Q (the ECDSA verification sum), affine or None."""
    return _affine(_add(_mul_g(u1 % _N), _mul(u2 % _N, Q)))


def on_curve(Q):
    """True if Q = (x, y) satisfies y^2 = x^3 - 3x + b over GF(p)."""
    x, y = Q
    p = _P
    return 0 <= x < p and 0 <= y < p and (y * y - (x * x - 3) * x - _B) % p == 0


def encode(Q):
    """Affine point -> 65 bytes, SEC 1 §2.3.3 uncompressed: 04 || X || Y."""
    return b"\x04" + Q[0].to_bytes(32, "big") + Q[1].to_bytes(32, "big")


def decode(pub):
    """65-byte uncompressed point -> (x, y); ValueError unless it is on the curve."""
    if len(pub) != 65 or pub[0] != 4:
        raise ValueError("not an uncompressed P-256 point")
    Q = (int.from_bytes(pub[1:33], "big"), int.from_bytes(pub[33:], "big"))
    if not on_curve(Q):
        raise ValueError("point not on P-256")
    return Q


def public_key(d):
    """The 65-byte public key of the private scalar d in [1, n-1]."""
    if not 0 < d < _N:
        raise ValueError("private key out of range")
    return encode(mul_g(d))


def generate_key(rand=None):
    """A new key pair -> (d, pub): d uniform in [1, n-1] by rejection sampling
    (FIPS 186-4 B.4.2) over rand(32) (default os.urandom), pub its 65-byte point.
    OSError if rand keeps giving out-of-range values (a broken random source)."""
    rand = rand or os.urandom
    for _ in range(_KEY_TRIES):
        d = int.from_bytes(rand(32), "big")
        if 0 < d < _N:
            return d, public_key(d)
    raise OSError("random source gives no scalar in [1, n-1]")
