"""The field dump every lib/x509 comparison uses (tests/unit/test_x509.py): raw parts as
hex (small) or their sha256 (large). Imported by x509_dump.py and x509_hostile.py."""
import binascii
import hashlib

import x509


def hx(v):
    return binascii.hexlify(v).decode()


def sha(v):
    return hx(hashlib.sha256(v).digest())


def dump(c):
    return {"der": sha(c.der), "tbs": sha(c.tbs), "version": c.version,
            "serial": "%x" % c.serial, "serial_bytes": hx(c.serial_bytes),
            "sig_oid": c.sig_oid, "issuer": hx(c.issuer), "subject": hx(c.subject),
            "cn": c.cn, "org": c.org, "not_before": c.not_before, "not_after": c.not_after,
            "spki": sha(c.spki), "key_oid": c.key_oid, "public_key": sha(c.public_key),
            "signature": sha(c.signature), "ca": c.ca, "path_len": c.path_len,
            "key_usage": c.key_usage, "is_ca": x509.is_ca(c),
            "self_issued": x509.issued_by(c, c)}
