"""SHA-1 (FIPS 180-4) in MicroPython, for the one hash RFC 6455 needs
(Sec-WebSocket-Accept) on builds whose hashlib has no sha1 (it comes with the TLS
library, so a port built without TLS lacks it). Not for security: a handshake check."""
from micropython import const
import struct

_M = const(0xFFFFFFFF)


def _rol(x, n):
    return ((x << n) | (x >> (32 - n))) & _M


def digest(data):
    """SHA-1 of data (bytes) -> 20 bytes."""
    n = len(data)
    msg = bytes(data) + b"\x80" + bytes((55 - n) % 64) + struct.pack(">Q", n * 8)
    h = [0x67452301, 0xEFCDAB89, 0x98BADCFE, 0x10325476, 0xC3D2E1F0]
    w = [0] * 80
    for off in range(0, len(msg), 64):
        for t in range(16):
            w[t] = struct.unpack_from(">I", msg, off + 4 * t)[0]
        for t in range(16, 80):
            w[t] = _rol(w[t - 3] ^ w[t - 8] ^ w[t - 14] ^ w[t - 16], 1)
        a, b, c, d, e = h
        for t in range(80):
            if t < 20:
                f, k = (b & c) | (~b & d), 0x5A827999
            elif t < 40:
                f, k = b ^ c ^ d, 0x6ED9EBA1
            elif t < 60:
                f, k = (b & c) | (b & d) | (c & d), 0x8F1BBCDC
            else:
                f, k = b ^ c ^ d, 0xCA62C1D6
            a, b, c, d, e = (_rol(a, 5) + (f & _M) + e + k + w[t]) & _M, a, _rol(b, 30), c, d
        h = [(x + y) & _M for x, y in zip(h, (a, b, c, d, e))]
    return struct.pack(">5I", *h)
