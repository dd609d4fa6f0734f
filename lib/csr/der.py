"""A minimal DER writer (X.690 §8, §10): just what keys and CSRs need. Every function
returns the complete encoding (tag, length, contents) as bytes."""
from micropython import const

_MAX_LEN = const(0xFFFF)    # two length octets are plenty for a CSR
_PRINTABLE = const(b" '()+,-./0123456789:=?ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz")


def _length(n):
    if n < 0x80:
        return bytes((n,))
    if n < 0x100:
        return bytes((0x81, n))
    if n <= _MAX_LEN:
        return bytes((0x82, n >> 8, n & 0xFF))
    raise ValueError("DER contents too long")


def tlv(tag, *parts):
    """One element: a single tag octet, the definite length, the joined parts."""
    body = b"".join(parts)
    return bytes((tag,)) + _length(len(body)) + body


def integer(v):
    """INTEGER of a non-negative int, in the fewest octets (a leading 00 when the top
    bit would be set, X.690 §8.3.2)."""
    if v < 0:
        raise ValueError("negative INTEGER")
    n = 1
    while v >> (8 * n - 1):
        n += 1
    return tlv(0x02, v.to_bytes(n, "big"))


def bit_string(data):
    """BIT STRING of whole octets (no unused bits)."""
    return tlv(0x03, b"\x00", data)


def octet_string(data):
    return tlv(0x04, data)


def oid(dotted):
    """OBJECT IDENTIFIER from its dotted form, e.g. "1.2.840.10045.2.1" (§8.19)."""
    arcs = [int(a) for a in dotted.split(".")]
    if len(arcs) < 2 or arcs[0] > 2 or (arcs[0] < 2 and arcs[1] > 39) or min(arcs) < 0:
        raise ValueError("bad OID " + dotted)
    out = bytearray()
    for v in [40 * arcs[0] + arcs[1]] + arcs[2:]:
        sub = [v & 0x7F]
        v >>= 7
        while v:
            sub.append(0x80 | (v & 0x7F))
            v >>= 7
        sub.reverse()
        out.extend(bytes(sub))
    return tlv(0x06, out)


def utf8(s):
    return tlv(0x0C, s.encode())


def printable(s):
    """PrintableString; ValueError for a character outside its set (X.680 §41.4)."""
    b = s.encode()
    for c in b:
        if c not in _PRINTABLE:
            raise ValueError("not a PrintableString character: %r" % chr(c))
    return tlv(0x13, b)


def seq(*parts):
    return tlv(0x30, *parts)


def set_of(*parts):
    """SET OF: the elements sorted by their encodings, as DER requires (§11.6)."""
    return tlv(0x31, *sorted(parts))


def ctx(n, *parts):
    """Constructed context-specific tag [n] (explicit tagging), 0 <= n <= 30."""
    return tlv(0xA0 | n, *parts)
