"""The strict check of a frame before json.loads: one pass over its bytes.

MicroPython's json parser accepts what RFC 8259 does not (missing commas and colons,
trailing commas, leading zeros, non-string keys, unknown escapes), nests without a
bound (a few thousand "[" exhaust the heap inside the parser), and decodes a JSON
escape of a surrogate (RFC 8259 7, "\\ud83d\\ude00") into a str holding each half
encoded on its own: sent back, that is invalid UTF-8 (RFC 3629 3).

scan(b) walks the tokens of `b` (bytes): string bodies with bytes.find, so the Python
work is per token and escape, not per byte; it allocates nothing but a small stack.
It returns OK, BAD (not JSON), DEEP (nested beyond `depth`), or OK | SURR (valid, with
a \\uD800-\\uDFFF escape: fix() it before json.loads). utf8(b) checks UTF-8 fully
(no overlongs, surrogates or code points past U+10FFFF), for binary frames.
"""
from micropython import const
import json

OK = const(0)
BAD = const(1)
DEEP = const(2)
SURR = const(4)

# bytes as the ints that indexing gives
_QUOTE = const(34)
_BSL = const(92)
_LBRACK = const(91)
_RBRACK = const(93)
_LBRACE = const(123)
_RBRACE = const(125)
_COMMA = const(44)
_COLON = const(58)
_MINUS = const(45)
_DOT = const(46)
_ZERO = const(48)
_NINE = const(57)
_U = const(117)
_HEXD = const(b"0123456789abcdefABCDEF")
_ESC = const(b'"\\/bfnrt')
_WS = const(b" \t\r\n")

# what the scanner expects next
_VALUE = const(0)        # a value
_AFTER = const(1)        # "," or the container's close (or the end, at depth 0)
_KEY = const(2)          # a key string
_COLON_NEXT = const(3)   # ":"
_FIRST_VALUE = const(4)  # a value or "]" (just after "[")
_FIRST_KEY = const(5)    # a key or "}" (just after "{")


def _string(b, i, n):
    """b[i] is '"' -> the index after the closing quote; -1: not a valid string;
    below -1: -2 - that index, the string holding a surrogate escape (no tuple: the
    scan allocates nothing per token)."""
    i += 1
    surr = False
    while True:
        q = b.find(b'"', i)
        if q < 0:
            return -1
        k = b.find(b"\\", i, q)
        if k < 0:
            return -2 - (q + 1) if surr else q + 1
        # an escape before the quote: check it, then go on after it
        c = b[k + 1]
        if c == _U:
            if k + 6 > n:
                return -1
            for j in range(k + 2, k + 6):
                if b[j] not in _HEXD:
                    return -1
            c = b[k + 3] | 0x20            # "d" then 8-f: U+D800..U+DFFF
            if b[k + 2] | 0x20 == 100 and (c == 56 or c == 57 or c >= 97):
                surr = True
            i = k + 6
        elif c in _ESC:
            i = k + 2
        else:
            return -1


def _number(b, i, n):
    """-?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)? from b[i]; -> end index or -1."""
    if b[i] == _MINUS:
        i += 1
        if i >= n:
            return -1
    c = b[i]
    i += 1
    if c != _ZERO:
        if not _ZERO < c <= _NINE:
            return -1
        while i < n and _ZERO <= b[i] <= _NINE:
            i += 1
    if i < n and b[i] == _DOT:
        i += 1
        s = i
        while i < n and _ZERO <= b[i] <= _NINE:
            i += 1
        if i == s:
            return -1
    if i < n and b[i] | 0x20 == 101:    # e, E
        i += 1
        if i < n and (b[i] == 43 or b[i] == _MINUS):
            i += 1
        s = i
        while i < n and _ZERO <= b[i] <= _NINE:
            i += 1
        if i == s:
            return -1
    return i


def scan(b, depth=32):
    """Check that `b` is exactly one JSON value (RFC 8259) nested at most `depth`."""
    n = len(b)
    stack = bytearray(depth)      # the open containers: "[" or "{"
    d = 0
    i = 0
    flags = OK
    want = _VALUE
    while i < n:
        c = b[i]
        if c <= 32:
            if c not in _WS:
                return BAD
            i += 1
            continue
        if c == _QUOTE and want != _AFTER and want != _COLON_NEXT:
            # a string, key or value: one place checks it and notes a surrogate escape
            i = _string(b, i, n)
            if i < -1:
                i = -2 - i
                flags = SURR
            elif i < 0:
                return BAD
            want = _COLON_NEXT if want == _KEY or want == _FIRST_KEY else _AFTER
        elif want == _AFTER:
            if d == 0:
                return BAD                     # something after the value
            top = stack[d - 1]
            if c == _COMMA:
                want = _KEY if top == _LBRACE else _VALUE
            elif c == top + 2:                 # "[" + 2 = "]", "{" + 2 = "}"
                d -= 1
            else:
                return BAD
            i += 1
        elif want == _COLON_NEXT:
            if c != _COLON:
                return BAD
            want = _VALUE
            i += 1
        elif want >= _KEY and want != _FIRST_VALUE:   # _KEY, _FIRST_KEY (a string: above)
            if c == _RBRACE and want == _FIRST_KEY:
                d -= 1
                want = _AFTER
                i += 1
            else:
                return BAD                     # keys are strings
        elif c == _RBRACK and want == _FIRST_VALUE:
            d -= 1
            want = _AFTER
            i += 1
        else:                                  # a value (_VALUE, _FIRST_VALUE; a string: above)
            want = _AFTER
            if c == _LBRACK or c == _LBRACE:
                if d >= depth:
                    return DEEP
                stack[d] = c
                d += 1
                want = _FIRST_VALUE if c == _LBRACK else _FIRST_KEY
                i += 1
            elif c == 116 and b.startswith(b"true", i):
                i += 4
            elif c == 102 and b.startswith(b"false", i):
                i += 5
            elif c == 110 and b.startswith(b"null", i):
                i += 4
            else:
                i = _number(b, i, n)
                if i < 0:
                    return BAD
    return flags if want == _AFTER and d == 0 else BAD


def head(b):
    """(MessageTypeId, message id) read from the start of a frame that is not valid as a
    whole ("[2, \"id\", ..."), or None. Only the error path calls it."""
    n = len(b)
    i = 0
    parts = []
    for want in (_LBRACK, 0, _COMMA, _QUOTE):
        while i < n and b[i] in _WS:
            i += 1
        if i >= n:
            return None
        if want == 0:
            e = _number(b, i, n)
            if e < 0 or b[i] == _MINUS or e - i > 2:
                return None
            try:
                parts.append(int(b[i:e]))
            except ValueError:
                return None
            i = e
        elif want == _QUOTE:
            if b[i] != _QUOTE:
                return None
            e = _string(b, i, n)
            if e == -1:
                return None
            f = e < -1
            if f:
                e = -2 - e
            if e - i > 256:
                return None
            parts.append(json.loads(fix(b[i:e]) if f else b[i:e]))
        elif b[i] != want:
            return None
        else:
            i += 1
    return parts[0], parts[1]


def _hex4(b, i):
    return int(b[i:i + 4], 16)


def fix(b):
    """b (valid JSON with SURR set) with each escaped surrogate pair written as its
    UTF-8 character and each lone surrogate escape as \\ufffd (U+FFFD)."""
    out = bytearray()
    i = 0
    n = len(b)
    while True:
        k = b.find(b"\\", i)      # in valid JSON a backslash starts an escape
        if k < 0:
            out += b[i:]
            return bytes(out)
        out += b[i:k]
        if b[k + 1] != _U:
            out += b[k:k + 2]
            i = k + 2
            continue
        v = _hex4(b, k + 2)
        i = k + 6
        if v < 0xD800 or v > 0xDFFF:
            out += b[k:i]
            continue
        if v <= 0xDBFF and i + 6 <= n and b[i] == _BSL and b[i + 1] == _U:
            w = _hex4(b, i + 2)
            if 0xDC00 <= w <= 0xDFFF:
                out += chr(0x10000 + ((v - 0xD800) << 10) + (w - 0xDC00)).encode()
                i += 6
                continue
        out += b"\\ufffd"


# lead bytes after which the next byte must lie in [lo, hi] (RFC 3629 4): E0 (no
# overlong), ED (no surrogate), F0 (no overlong), F4 (not past U+10FFFF)
_LEADS = const(b"\xe0\xa0\xbf\xed\x80\x9f\xf0\x90\xbf\xf4\x80\x8f")
_NEVER = const(b"\xc0\xc1\xf5\xf6\xf7")  # (str() already refuses F8-FF)


def utf8(b):
    """True if `b` is valid UTF-8. str(b, "utf-8") on MicroPython checks the sequence
    structure only; the rest is a few bytes.find (nothing to do for ASCII)."""
    try:
        s = str(b, "utf-8")
    except UnicodeError:
        return False
    if len(s) == len(b):          # ASCII
        return True
    for j in range(len(_NEVER)):
        if b.find(_NEVER[j:j + 1]) >= 0:
            return False
    for j in range(0, len(_LEADS), 3):
        lead = _LEADS[j:j + 1]
        lo = _LEADS[j + 1]
        hi = _LEADS[j + 2]
        k = b.find(lead)
        while k >= 0:
            if k + 1 >= len(b) or not lo <= b[k + 1] <= hi:
                return False
            k = b.find(lead, k + 1)
    return True
