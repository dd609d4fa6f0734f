"""PEM armor for certificates (RFC 7468 §2, §5): bundles in, one block out."""
from micropython import const
from binascii import a2b_base64, b2a_base64

from .der import Invalid

_MAX_B64 = const(12288)     # base64 text of a MAX_CERT certificate in CRLF lines, + slack


def pem_to_der(data, label="CERTIFICATE"):
    """The decoded body of every `-----BEGIN <label>-----` block in `data` (str or
    bytes), in order -> [bytes]; [] if there is none.

    Text between blocks and blocks with another label (keys, "TRUSTED CERTIFICATE")
    are skipped; a block without its END line, one holding a "-----" line, one longer
    than a MAX_CERT certificate needs, or bad base64 padding raise Invalid. Characters
    outside the base64 alphabet are ignored, as binascii does.
    """
    if isinstance(data, str):
        data = data.encode()
    elif not isinstance(data, bytes):
        data = bytes(data)
    lab = label.encode()
    begin = b"-----BEGIN " + lab + b"-----"
    end = b"-----END " + lab + b"-----"
    mv = memoryview(data)
    out = []
    p = 0
    while True:
        i = data.find(begin, p)
        if i < 0:
            return out
        i += len(begin)
        j = data.find(end, i)
        if j < 0:
            raise Invalid("PEM block without an END line")
        if j - i > _MAX_B64:
            raise Invalid("PEM block of %d characters, limit %d" % (j - i, _MAX_B64))
        if data.find(b"-----", i, j) >= 0:
            raise Invalid("PEM block inside a PEM block")
        try:
            out.append(a2b_base64(mv[i:j]))
        except ValueError:
            raise Invalid("bad base64 in a PEM block")
        p = j + len(end)


def der_to_pem(der, label="CERTIFICATE"):
    """DER (bytes-like) -> PEM text (str): 64-character lines ending in "\\n"."""
    mv = memoryview(der)
    out = ["-----BEGIN %s-----\n" % label]
    for i in range(0, len(mv), 48):
        out.append(b2a_base64(mv[i:i + 48]).decode())
    out.append("-----END %s-----\n" % label)
    return "".join(out)
