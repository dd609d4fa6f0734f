#!/usr/bin/env python3
"""Certificate and TLS figures (issue 5), run by `make bench`; appends its section to
BENCHMARKS.md:

- heap of a TLS connection from MicroPython's `tls` to a loopback CPython TLS server
  (certificates from tests/certs.py): what stays allocated while connected (mbedTLS
  allocates from the GC heap), and the smallest -X heapsize at which the connect still
  works (binary search, 4 KiB), profile 2 (server verified) and 3 (client certificate),
  P-256 and RSA-2048 server keys;
- flash per stored certificate: littlefs blocks used by 8 installed roots (P-256 and
  RSA-2048) through the firmware's CertStore, per certificate, index included;
- key pair + CSR time (lib/csr, pure MicroPython) and the whole signing.request.

    .venv/bin/python tools/bench/certbench.py [--no-record]"""
import argparse
import os
import socket
import ssl
import subprocess
import sys
import tempfile
import threading

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, ROOT)

from tests import certs  # noqa: E402

MP = os.path.join(os.path.dirname(sys.executable), "micropython")
ENV = dict(os.environ, MICROPYPATH=".frozen:%s:%s" % (os.path.join(ROOT, "lib"), ROOT))


def _mp(code, heap="2m", args=()):
    p = subprocess.run([MP, "-X", "heapsize=" + heap, "-c", code] + list(args), capture_output=True,
                       text=True, env=ENV, cwd=ROOT, timeout=120)
    return p.returncode, p.stdout, p.stderr


class _Server:
    """A TLS server on loopback that completes handshakes and holds each connection."""

    def __init__(self, ctx):
        self.ctx = ctx
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(8)
        self.port = self.sock.getsockname()[1]
        threading.Thread(target=self._run, daemon=True).start()

    def _run(self):
        while True:
            try:
                c, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._one, args=(c,), daemon=True).start()

    def _one(self, c):
        try:
            s = self.ctx.wrap_socket(c, server_side=True)
            s.recv(16)
            s.close()
        except (OSError, ssl.SSLError):
            c.close()


TLS_CODE = r"""
import gc, socket, tls, sys
ca = open(sys.argv[1], 'rb').read()
cert = open(sys.argv[2], 'rb').read() if sys.argv[2] != '-' else None
key = open(sys.argv[3], 'rb').read() if sys.argv[3] != '-' else None
port = int(sys.argv[4])
def rss():
    with open('/proc/self/statm') as f:
        return int(f.read().split()[1]) * 4096
gc.collect(); m0 = gc.mem_alloc(); r0 = rss()
ctx = tls.SSLContext(tls.PROTOCOL_TLS_CLIENT)
ctx.verify_mode = tls.CERT_REQUIRED
ctx.load_verify_locations(ca)
if cert:
    ctx.load_cert_chain(cert, key)
s = socket.socket()
s.connect(socket.getaddrinfo('127.0.0.1', port)[0][-1])
ss = ctx.wrap_socket(s, server_hostname='localhost')
ss.write(b'x')
gc.collect(); m1 = gc.mem_alloc()
print('HELD', m1 - m0, rss() - r0)
ss.close()
"""


def tls_heap(tmp, key_type, profile):
    ca, server, client = certs.make_pki(key_type=key_type)
    files = {}
    for name, data in (("ca", ca.cert_der), ("cert", client.cert_der), ("key", client.key_der)):
        files[name] = os.path.join(tmp, "%s-%s.der" % (name, key_type))
        with open(files[name], "wb") as f:
            f.write(data)
    srv = _Server(certs.server_ssl_context(server, client_ca=ca if profile == 3 else None))
    args = [files["ca"], files["cert"] if profile == 3 else "-",
            files["key"] if profile == 3 else "-", str(srv.port)]
    rc, out, err = _mp(TLS_CODE, "1m", args)
    held, rss = (int(x) for x in out.split("HELD")[1].split()) if rc == 0 else (None, None)
    lo, hi = 16, 1024                                   # KiB: fails at lo, works at hi
    while hi - lo > 4:
        mid = (lo + hi) // 2 // 4 * 4
        rc, out, _ = _mp(TLS_CODE, "%dk" % mid, args)
        if rc == 0 and "HELD" in out:
            hi = mid
        else:
            lo = mid
    srv.sock.close()
    return held, rss, hi


FLASH_CODE = r"""
import os, sys, time
from boards.sim.flash import FlashDevice
from firmware.security import certs
img = sys.argv[-1]
try: os.remove(img)
except OSError: pass
d = FlashDevice(img, 256); d.mount('/flash')
def used():
    s = os.statvfs('/flash')
    return (s[2] - s[3]) * s[0]
ders = [open(p, 'rb').read() for p in sys.argv[1:-1]]
u0 = used()
with certs.scope():
    st = certs.open_store('/flash')
    for der in ders:
        r = st.install(certs.MF, der, time.time(), 64)
        assert r[0] == 'Accepted', r
u1 = used()
print('FLASH', u1 - u0, sum(len(x) for x in ders))
"""


def flash_per_cert(tmp, key_type, n=8):
    paths = []
    for i in range(n):
        ca = certs.make_ca(cn="Bench Root %d" % i, key_type=key_type)
        p = os.path.join(tmp, "root-%s-%d.der" % (key_type, i))
        with open(p, "wb") as f:
            f.write(ca.cert_der)
        paths.append(p)
    rc, out, err = _mp(FLASH_CODE, "1m", paths + [os.path.join(tmp, "flash-%s.img" % key_type)])
    if rc:
        raise RuntimeError(err)
    used, der = (int(x) for x in out.split("FLASH")[1].split())
    return used / n, der / n


CSR_CODE = r"""
import time, gc, os
import csr
t = []; c = []
for i in range(10):
    t0 = time.ticks_us(); d, pub = csr.generate_key(); t1 = time.ticks_us()
    der = csr.make_csr(d, pub, 'CS-00042', 'Example CPO'); t2 = time.ticks_us()
    t.append(time.ticks_diff(t1, t0)); c.append(time.ticks_diff(t2, t1))
from boards.sim.flash import FlashDevice
try: os.remove('/tmp/certbench-sig.img')
except OSError: pass
dv = FlashDevice('/tmp/certbench-sig.img', 64); dv.mount('/flash')
from firmware.security.certs import signing
r = []
for i in range(5):
    t0 = time.ticks_us(); signing.request('/flash', 'CS-00042', 'Example CPO'); r.append(time.ticks_diff(time.ticks_us(), t0))
print('CSR', sum(t) // 10000, max(t) // 1000, sum(c) // 10000, max(c) // 1000, sum(r) // 5000, max(r) // 1000)
"""


def csr_times():
    rc, out, err = _mp(CSR_CODE, "1m")
    if rc:
        raise RuntimeError(err)
    return [int(x) for x in out.split("CSR")[1].split()]


def main(append=True):
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for kt in ("ec", "rsa"):
            for prof in (2, 3):
                held, rss, need = tls_heap(tmp, kt, prof)
                rows.append(("TLS connection, profile %d, %s keys" % (prof, "P-256" if kt == "ec" else "RSA-2048"),
                             "%s B of GC heap held while connected (connects from -X heapsize=%dk); "
                             "process RSS +%d KiB" % (held, need, rss // 1024),
                             "MicroPython tls client to a loopback CPython server, 64-bit unix port. "
                             "mbedTLS allocates from the C heap on this port (and on esp32, the IDF "
                             "heap), so the GC figure is the Python side only; RSS growth is the "
                             "C side (record buffers, handshake), an upper bound"))
        for kt in ("ec", "rsa"):
            per, der = flash_per_cert(tmp, kt)
            rows.append(("flash per stored certificate, %s root" % ("P-256" if kt == "ec" else "RSA-2048"),
                         "%.0f B (DER %.0f B)" % (per, der),
                         "8 roots installed through CertStore on the 1 MiB sim littlefs "
                         "(statvfs blocks, index and directory included)"))
    k, kmax, c, cmax, r, rmax = csr_times()
    rows.append(("P-256 key generation", "%d ms mean, %d ms max" % (k, kmax), "lib/csr, 10 runs"))
    rows.append(("PKCS#10 CSR (sign + DER)", "%d ms mean, %d ms max" % (c, cmax), "lib/csr, 10 runs"))
    rows.append(("signing.request (load, key, CSR, pending key on flash, unload)",
                 "%d ms mean, %d ms max" % (r, rmax), "firmware/security/certs/signing.py, 5 runs"))
    from tools.bench.benchrec import report
    return report("Certificates and TLS", "tools/bench/certbench.py", rows, append)


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--no-record", action="store_true")
    main(append=not ap.parse_args().no_record)
