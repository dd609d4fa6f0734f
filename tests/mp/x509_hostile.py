"""lib/x509 against hostile input (tests/unit/test_x509.py), imported from .mpy files in
a 64k heap (MICROPYPATH holds only them): records of (kind, bytes) read from a file,
one output line per record.

argv: MODE PATH — PATH: records of 1 kind byte (0 der, 1 load, 2 load_all), a 4-byte
length and the data; MODE:
  invalid     per record: 'ok' or 'Invalid: ...' (anything else: 'ERROR class: ...')
  corners     per record (der): JSON [version, serial hex, not_before, not_after, ca,
              path_len, key_usage, cn, sig_oid, len(der)] or the error
  truncation  the first record cut at every length: one line, 'ok' for the whole and
              the outcome counts of the cuts
  flips       per record: JSON, the field dump (x509_fields) or the error"""
import gc
import json
import sys

import x509

KINDS = {0: "der", 1: "load", 2: "load_all"}


def one(kind, data):
    try:
        if kind == "der":
            x509.Certificate(data)
        elif kind == "load":
            x509.load(data)
        else:
            x509.load_all(data)
        return "ok"
    except x509.Invalid as e:
        return "Invalid: " + str(e)
    except Exception as e:      # what the test looks for: anything but Invalid
        return "ERROR %s: %s" % (type(e).__name__, e)


def cases():
    with open(sys.argv[2], "rb") as f:
        while True:
            hd = f.read(5)
            if not hd:
                return
            data = f.read(int.from_bytes(hd[1:], "big"))
            gc.collect()
            yield KINDS[hd[0]], data


def invalid():
    for kind, data in cases():
        print(one(kind, data))


def corners():
    for kind, data in cases():
        try:
            c = x509.Certificate(data)
            print(json.dumps([c.version, "%x" % c.serial, c.not_before, c.not_after, c.ca,
                              c.path_len, c.key_usage, c.cn, c.sig_oid, len(c.der)]))
        except Exception as e:
            print(json.dumps("%s: %s" % (type(e).__name__, e)))


def truncation():
    der = [d for _, d in cases()][0]
    mv = memoryview(der)
    counts = {}
    for n in range(len(der)):
        r = one("der", mv[:n])
        r = r.split(":")[0] if r.startswith("Invalid") else r
        counts[r] = counts.get(r, 0) + 1
        if n % 64 == 0:
            gc.collect()
    print(one("der", mv), counts)


def flips():
    from x509_fields import dump
    for kind, data in cases():
        r = one(kind, data)
        print(json.dumps(dump(x509.Certificate(data)) if r == "ok" else r))


{"invalid": invalid, "corners": corners, "truncation": truncation, "flips": flips}[sys.argv[1]]()
