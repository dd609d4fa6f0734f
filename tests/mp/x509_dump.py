"""lib/x509 under MicroPython for tests/unit/test_x509.py: certificates dumped field by
field, the PEM/bundle helpers and hash matching, a CA bundle (with timings).

argv: CASE PATH —
  list PATH       PATH: JSON [[der hex, issuer der hex or null], ...] -> {"r": [dump + hash]}
  helpers PATH    PATH: JSON {bundle, crlf, ders, pem0}
  bundle PATH     a PEM bundle: prints a JSON line {n, parse_us, hash_us}, then one JSON
                  line per certificate (its dump and hash data), not an OUT line (large)
The heap of an import and a parse: x509_memory.py (small enough for a 64k heap)."""
import binascii
import gc
import json
import sys
import time

from out import report


def dump_list(path):
    import x509
    from x509_fields import dump
    with open(path) as f:
        items = json.load(f)
    out = []
    for d, i in items:
        c = x509.load(binascii.unhexlify(d))
        r = dump(c)
        if i is not None:
            r["hash"] = x509.hash_data(c, x509.load(binascii.unhexlify(i)))
        out.append(r)
    return {"r": out}


def helpers(path):
    import x509
    with open(path) as f:
        d = json.load(f)
    out = {}
    ders = x509.pem_to_der(d['bundle'])
    out['split'] = [binascii.hexlify(x).decode() for x in ders]
    out['split_bytes'] = len(x509.pem_to_der(d['bundle'].encode()))
    out['load_all'] = len(x509.load_all(d['bundle']))
    out['pem'] = [x509.der_to_pem(binascii.unhexlify(x)) for x in d['ders']]
    out['crlf'] = binascii.hexlify(x509.load(d['crlf']).der).decode()
    der0 = binascii.unhexlify(d['ders'][0])
    out['der_all'] = len(x509.load_all(der0))
    out['bytearray'] = x509.load(bytearray(der0)).serial == x509.load(memoryview(der0)).serial
    out['keys'] = [binascii.hexlify(x).decode() for x in x509.pem_to_der(d['bundle'], 'PRIVATE KEY')]
    out['none'] = x509.pem_to_der('no pem here')
    certs = x509.load_all(d['bundle'])
    root, leaf, inter = certs[0], certs[4], certs[2]
    out['chain'] = [x509.issued_by(leaf, inter), x509.issued_by(inter, root),
                    x509.issued_by(leaf, root), x509.issued_by(root, root)]
    out['valid'] = [x509.valid_at(root, root.not_before), x509.valid_at(root, root.not_after),
                    x509.valid_at(root, root.not_before - 1), x509.valid_at(root, root.not_after + 1)]
    out['is_ca'] = [x509.is_ca(c) for c in certs]
    out['ku_const'] = [x509.KEY_CERT_SIGN, x509.CRL_SIGN, x509.DIGITAL_SIGNATURE, x509.DECIPHER_ONLY]
    out['unix'] = [x509.unix((1970, 1, 1, 0, 0, 0)), x509.unix((2000, 3, 1, 0, 0, 0)),
                   x509.unix((1969, 12, 31, 23, 59, 59)), x509.unix((2100, 3, 1, 0, 0, 0))]
    errs = []
    for args in ((leaf,), (leaf, root)):
        try:
            x509.hash_data(*args)
        except x509.Invalid as e:
            errs.append(str(e))
    out['errs'] = errs
    h = x509.hash_data(leaf, inter)
    up = dict(h, issuerNameHash=h['issuerNameHash'].upper(), serialNumber='000' + h['serialNumber'].upper())
    out['match'] = [x509.hash_matches(h, up), x509.hash_matches(up, h),
                    x509.hash_matches(h, dict(h, hashAlgorithm='SHA384')),
                    x509.hash_matches(h, dict(h, serialNumber=h['serialNumber'] + '0')),
                    x509.hash_matches(h, {'hashAlgorithm': 'SHA256'}),
                    x509.hash_matches(h, dict(h, issuerKeyHash=7)),
                    x509.hash_matches(x509.hash_data(root), x509.hash_data(root, root))]
    return out


def bundle(path):
    import x509
    from x509_fields import dump
    with open(path) as f:
        data = f.read()
    gc.collect()
    t0 = time.ticks_us()
    certs = x509.load_all(data)
    t1 = time.ticks_us()
    hd = [x509.hash_data(c) if x509.issued_by(c, c) else None for c in certs]
    t2 = time.ticks_us()
    print(json.dumps({"n": len(certs), "parse_us": time.ticks_diff(t1, t0),
                      "hash_us": time.ticks_diff(t2, t1)}))
    data = None
    for c, d in zip(certs, hd):
        r = dump(c)
        r["hash"] = d
        print(json.dumps(r))


CASE, PATH = sys.argv[1], sys.argv[2]
if CASE == "bundle":
    bundle(PATH)
else:
    report({"list": dump_list, "helpers": helpers}[CASE](PATH))
