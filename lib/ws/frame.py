"""RFC 6455 5.2 frame encoding for the client side: masking and the frame header."""
from micropython import const

_FIN = const(0x80)
_MASKED = const(0x80)
_LEN16 = const(126)
_LEN64 = const(127)
# Masking runs in 256-byte chunks: one big-int XOR per chunk instead of a Python loop per
# byte (about 20x faster on the unix port), with short-lived objects of chunk size only.
# A @micropython.viper path is left out on purpose: plain mpy-cross (no -march) rejects
# it ("invalid arch"), and so does the unix port used for the tests.
_CHUNK = const(256)
_REASON_MAX = const(123)  # 125-byte control payload minus the status code
HEAD_MAX = const(14)  # 2 + 8 (64-bit length) + 4 (mask key)


def mask(mv, key):
    """XOR `mv` (a writable memoryview) in place with the 4-byte `key` (RFC 6455 5.3).

    Chunks start at multiples of 4, so the key lines up with the payload offset.
    """
    n = len(mv)
    if not n:
        return
    ch = _CHUNK if n >= _CHUNK else (n + 3) & ~3
    m = int.from_bytes(key * (ch // 4), "little")
    off = 0
    while off < n:
        k = n - off
        if k >= ch:
            k = ch
        else:
            m &= (1 << (k * 8)) - 1  # last, short chunk: drop the key bytes past its end
        seg = mv[off : off + k]
        seg[:] = (int.from_bytes(seg, "little") ^ m).to_bytes(k, "little")
        off += k


def head(buf, op, n, key, fin=True):
    """Write a masked client frame header for an `n`-byte payload into `buf`.

    Returns the header length (6, 8 or 14); the payload goes right after it.
    """
    buf[0] = (_FIN if fin else 0) | op
    if n < _LEN16:
        buf[1] = _MASKED | n
        i = 2
    elif n < 0x10000:
        buf[1] = _MASKED | _LEN16
        buf[2] = n >> 8
        buf[3] = n & 0xFF
        i = 4
    else:
        buf[1] = _MASKED | _LEN64
        buf[2:10] = n.to_bytes(8, "big")
        i = 10
    buf[i : i + 4] = key
    return i + 4


def close_payload(code, reason):
    """The body of a close frame: 2-byte status + UTF-8 reason, cut to fit 125 bytes."""
    if not code:
        return b""
    r = reason.encode() if isinstance(reason, str) else bytes(reason)
    if len(r) > _REASON_MAX:
        i = _REASON_MAX
        while i and r[i] & 0xC0 == 0x80:  # do not cut a UTF-8 sequence in two
            i -= 1
        r = r[:i]
    return code.to_bytes(2, "big") + r
