"""DER reader (ITU-T X.690 §8, §10) for the parts of X.509 that lib/x509 needs.

Every reader takes the buffer and offsets and returns offsets or a small value, so
nothing bigger than a name string is copied. Input is untrusted: anything that is not
DER as a certificate uses it raises `Invalid` with a message, never IndexError, and
the work is linear in the input. There is no recursion: lib/x509/cert.py follows the
fixed certificate schema, so the nesting depth is set by the code, not by the input.
"""
from micropython import const

MAX_CERT = const(8192)      # bytes of DER per certificate (OCPP limits PEM to 5500/10000)
_MAX_OID = const(64)        # content octets of an OID we decode to text
_MAX_TEXT = const(1024)     # content octets of a name string we decode
_MAX_INT = const(4)         # content octets of a small INTEGER (version, pathLen)

# Universal tags of the string and time types (X.680 §8.4)
_UTF8 = const(0x0C)
_NUMERIC = const(0x12)
_PRINTABLE = const(0x13)
_T61 = const(0x14)
_IA5 = const(0x16)
_UTCTIME = const(0x17)
_GENTIME = const(0x18)
_VISIBLE = const(0x1A)
_UNIVERSAL = const(0x1C)
_BMP = const(0x1E)


class Invalid(ValueError):
    """Malformed, hostile or unsupported certificate data; str(e) says what and where."""


def tlv(b, pos, end):
    """The element at b[pos:end] -> (tag, content start, content end).

    Only the DER forms: low tag numbers, definite lengths in the fewest octets.
    """
    if end - pos < 2:
        raise Invalid("truncated at %d" % pos)
    tag = b[pos]
    if tag & 0x1F == 0x1F:
        raise Invalid("high tag number at %d" % pos)
    n = b[pos + 1]
    at = pos
    pos += 2
    if n & 0x80:
        k = n & 0x7F
        if k == 0:
            raise Invalid("indefinite length at %d" % at)
        if k > 4:
            raise Invalid("%d length octets at %d" % (k, at))
        if end - pos < k:
            raise Invalid("truncated length at %d" % at)
        if b[pos] == 0:
            raise Invalid("non-minimal length at %d" % at)
        if k > 2:   # >= 65536, more than any certificate here; no big int on 32-bit ports
            raise Invalid("length past the end at %d" % at)
        n = b[pos]
        if k == 2:
            n = (n << 8) | b[pos + 1]
        elif n < 0x80:
            raise Invalid("non-minimal length at %d" % at)
        pos += k
    if n > end - pos:
        raise Invalid("length %d past the end at %d" % (n, at))
    return tag, pos, pos + n


def expect(b, pos, end, tag, what):
    """Like tlv() for an element that must have `tag`: returns (content start, end)."""
    t, s, e = tlv(b, pos, end)
    if t != tag:
        raise Invalid("%s: tag 0x%02x, expected 0x%02x at %d" % (what, t, tag, pos))
    return s, e


def done(pos, end, what):
    """Raise unless a constructed element's content was read to its last octet."""
    if pos != end:
        raise Invalid("%d extra bytes in %s at %d" % (end - pos, what, pos))


def is_(b, s, e, lit):
    """True if b[s:e] equals the bytes `lit` (no slice is made)."""
    if e - s != len(lit):
        return False
    for i in range(len(lit)):
        if b[s + i] != lit[i]:
            return False
    return True


def integer(b, s, e):
    """Check an INTEGER's content is minimal two's complement (X.690 §8.3.2)."""
    if e <= s:
        raise Invalid("empty INTEGER at %d" % s)
    if e - s > 1 and ((b[s] == 0 and b[s + 1] < 0x80) or (b[s] == 0xFF and b[s + 1] >= 0x80)):
        raise Invalid("non-minimal INTEGER at %d" % s)


def signed(b, s, e):
    """The value of a checked INTEGER content (any size)."""
    n = 0
    for i in range(s, e):
        n = (n << 8) | b[i]
    if b[s] & 0x80:
        n -= 1 << (8 * (e - s))
    return n


def small_int(b, s, e, what):
    """A non-negative INTEGER of at most 4 content octets (version, pathLenConstraint)."""
    integer(b, s, e)
    if b[s] & 0x80:
        raise Invalid("negative %s" % what)
    if e - s > _MAX_INT:
        raise Invalid("%s too large" % what)
    return signed(b, s, e)


def boolean(b, s, e):
    """BOOLEAN content: one octet, 0x00 or 0xFF in DER (X.690 §11.1)."""
    if e - s != 1 or b[s] not in (0, 0xFF):
        raise Invalid("bad BOOLEAN at %d" % s)
    return b[s] == 0xFF


def bit_string(b, s, e):
    """BIT STRING content -> (offset of the first value octet, unused bits in the last).

    DER: at most 7 unused bits, none without a value octet, and all of them zero
    (X.690 §8.6.2, §11.2.1).
    """
    if e <= s:
        raise Invalid("empty BIT STRING at %d" % s)
    unused = b[s]
    if unused > 7 or (unused and (e - s == 1 or b[e - 1] & ((1 << unused) - 1))):
        raise Invalid("bad BIT STRING at %d" % s)
    return s + 1, unused


def oid_ok(b, s, e):
    """Check OBJECT IDENTIFIER content (X.690 §8.19): 1.._MAX_OID octets, each
    subidentifier minimal and complete. Used on OIDs that are compared, not read."""
    if e <= s or e - s > _MAX_OID:
        raise Invalid("bad OID length at %d" % s)
    if b[e - 1] & 0x80:
        raise Invalid("truncated OID at %d" % s)
    lead = True
    for i in range(s, e):
        c = b[i]
        if lead and c == 0x80:
            raise Invalid("non-minimal OID at %d" % i)
        lead = c < 0x80


def oid(b, s, e):
    """OBJECT IDENTIFIER content as dotted text (X.690 §8.19)."""
    oid_ok(b, s, e)
    arcs = []
    n = 0
    first = True
    for i in range(s, e):
        c = b[i]
        n = (n << 7) | (c & 0x7F)
        if c & 0x80:
            continue
        if first:
            first = False
            if n < 80:
                arcs.append(str(n // 40))
                n %= 40
            else:
                arcs.append("2")
                n -= 80
        arcs.append(str(n))
        n = 0
    return ".".join(arcs)


def _digits(b, s, n):
    v = 0
    for i in range(s, s + n):
        c = b[i] - 48
        if c < 0 or c > 9:
            raise Invalid("bad digit in time at %d" % i)
        v = v * 10 + c
    return v


_MDAYS = const(b"\x1f\x1c\x1f\x1e\x1f\x1e\x1f\x1f\x1e\x1f\x1e\x1f")


def time_tuple(b, tag, s, e):
    """UTCTime or GeneralizedTime content -> (Y, M, D, h, m, s), UTC.

    RFC 5280 §4.1.2.5: YYMMDDHHMMSSZ (YY >= 50 is 19YY) or YYYYMMDDHHMMSSZ; seconds
    always present, no fractions, always Z.
    """
    if tag == _UTCTIME and e - s == 13:
        y = _digits(b, s, 2)
        y += 1900 if y >= 50 else 2000
        s += 2
    elif tag == _GENTIME and e - s == 15:
        y = _digits(b, s, 4)
        s += 4
    else:
        raise Invalid("bad time at %d" % s)
    if b[e - 1] != 0x5A:
        raise Invalid("time not in UTC at %d" % s)
    mo = _digits(b, s, 2)
    d = _digits(b, s + 2, 2)
    h = _digits(b, s + 4, 2)
    mi = _digits(b, s + 6, 2)
    sec = _digits(b, s + 8, 2)
    if mo < 1 or mo > 12 or h > 23 or mi > 59 or sec > 59:
        raise Invalid("bad time at %d" % s)
    leap = y % 4 == 0 and (y % 100 != 0 or y % 400 == 0)
    if d < 1 or d > _MDAYS[mo - 1] + (1 if mo == 2 and leap else 0):
        raise Invalid("bad day in time at %d" % s)
    return y, mo, d, h, mi, sec


def unix(t):
    """(Y, M, D, h, m, s) UTC -> seconds since 1970-01-01 UTC (negative before).

    Days from the proleptic Gregorian calendar, counted in 400-year eras of 146097
    days with March as the first month so the leap day comes last.
    """
    y, m, d, hh, mm, ss = t
    if m <= 2:
        y -= 1
    era = y // 400
    yoe = y - era * 400
    doy = (153 * ((m + 9) % 12) + 2) // 5 + d - 1
    days = era * 146097 + yoe * 365 + yoe // 4 - yoe // 100 + doy - 719468
    return days * 86400 + hh * 3600 + mm * 60 + ss


def _utf8(b, s, e):
    # RFC 3629 §4, strictly: MicroPython's decoder lets overlong forms through
    # (C0 AF would read as "/"), surrogates and code points past U+10FFFF.
    i = s
    while i < e:
        c = b[i]
        i += 1
        if c < 0x80:
            continue
        if c < 0xC2 or c > 0xF4:
            raise Invalid("bad UTF-8 at %d" % (i - 1))
        n = 1 if c < 0xE0 else 2 if c < 0xF0 else 3
        if e - i < n:
            raise Invalid("truncated UTF-8 at %d" % (i - 1))
        cp = c & (0x3F >> n)
        for j in range(i, i + n):
            if b[j] & 0xC0 != 0x80:
                raise Invalid("bad UTF-8 at %d" % j)
            cp = (cp << 6) | (b[j] & 0x3F)
        if cp < (0x80, 0x800, 0x10000)[n - 1] or 0xD800 <= cp <= 0xDFFF or cp > 0x10FFFF:
            raise Invalid("bad UTF-8 at %d" % (i - 1))
        i += n


def text(b, tag, s, e):
    """A DirectoryString / IA5String attribute value as str (RFC 5280 §4.1.2.4).

    UTF8String and the ASCII types (Printable, IA5, Visible, Numeric; their character
    sets are not enforced) are read as UTF-8, BMPString as UCS-2 and UniversalString
    as UCS-4, both big-endian. TeletexString is read as Latin-1, as OpenSSL does
    (`cryptography` reads it as UTF-8; the two agree on ASCII).
    """
    if tag in (_UTF8, _PRINTABLE, _IA5, _VISIBLE, _NUMERIC):
        w = 0
    elif tag == _T61:
        w = 1
    elif tag == _BMP:
        w = 2
    elif tag == _UNIVERSAL:
        w = 4
    else:
        raise Invalid("name attribute tag 0x%02x is no string at %d" % (tag, s))
    if e - s > _MAX_TEXT:
        raise Invalid("name string too long at %d" % s)
    if w == 0:
        _utf8(b, s, e)
        return str(b[s:e], "utf-8")
    if (e - s) % w:
        raise Invalid("bad string length at %d" % s)
    out = []
    for i in range(s, e, w):
        c = 0
        for j in range(i, i + w):
            c = (c << 8) | b[j]
        if c > 0x10FFFF or 0xD800 <= c <= 0xDFFF:
            raise Invalid("bad character at %d" % i)
        out.append(chr(c))
    return "".join(out)
