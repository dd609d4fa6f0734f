"""The heap lib/x509's import and one parsed, hashed certificate take, in a 64k heap
(tests/unit/test_x509.py): prints the two figures in bytes.

argv: PATH — a DER file"""
import gc
import sys

gc.collect()
m0 = gc.mem_alloc()
import x509  # noqa: E402  (measured)

gc.collect()
m1 = gc.mem_alloc()
with open(sys.argv[1], "rb") as f:
    der = f.read()
gc.collect()
m2 = gc.mem_alloc()
c = x509.Certificate(der)
h = x509.hash_data(c)
gc.collect()
m3 = gc.mem_alloc()
print(m1 - m0, m3 - m2)
