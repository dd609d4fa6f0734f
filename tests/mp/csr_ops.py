"""lib/csr under MicroPython (tests/unit/test_csr.py, `cryptography` the oracle there):
P-256 points, ECDSA both ways, RFC 6979 nonces, the DER writer, the SEC 1 key and the
PKCS#10 CSR, the heap it needs, and a mutual-TLS handshake with the key it made.

argv: CASE [DATA] — CASE one of the functions in CASES; DATA a JSON file with the
case's inputs (scalars, messages as hex, signatures, certificates, a port)."""
import gc
import hashlib
import json
import sys
import time
from binascii import hexlify, unhexlify

import csr
from csr import der, ecdsa, p256
from out import report

N = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551     # the group order
P = 2**256 - 2**224 + 2**192 + 2**96 - 1                                     # the field prime


def made(out, data):
    gc.collect()
    t = time.ticks_ms()
    d, pub = csr.generate_key()
    out['t_key_first'] = time.ticks_diff(time.ticks_ms(), t)      # includes the comb table
    t = time.ticks_ms()
    der_ = csr.make_csr(d, pub, 'CS-000042', 'Example CPO \u00c4G')
    out['t_csr'] = time.ticks_diff(time.ticks_ms(), t)
    t = time.ticks_ms()
    csr.generate_key()
    out['t_key'] = time.ticks_diff(time.ticks_ms(), t)
    out['pem'] = csr.csr_pem(der_)
    out['der'] = hexlify(der_).decode()
    out['key'] = hexlify(csr.key_der(d, pub)).decode()
    out['pub'] = hexlify(pub).decode()
    out['spki'] = hexlify(csr.spki_der(pub)).decode()
    out['d'] = '%x' % d
    out['back'] = csr.load_key(csr.key_der(d, pub)) == (d, pub)


def inputs(out, data):
    d, pub = csr.generate_key()
    d2, pub2 = csr.generate_key()
    def err(f, *a):
        try:
            f(*a)
            return None
        except ValueError as e:
            return str(e)
    out['mismatch'] = err(csr.make_csr, d, pub2, 'CS1', 'O')
    out['empty_cn'] = err(csr.make_csr, d, pub, '', 'O')
    out['long_org'] = err(csr.make_csr, d, pub, 'CS1', 'x' * 65)
    out['max'] = len(csr.csr_pem(csr.make_csr(d, pub, '\u20ac' * 64, 'x' * 64)))
    out['big_pem'] = err(csr.csr_pem, bytes(4009))       # 5502 characters
    out['pem_4008'] = len(csr.csr_pem(bytes(4008)))     # 5498 characters
    k = csr.key_der(d, pub)
    out['load_other'] = err(csr.load_key, k[:56] + pub2)
    out['load_short'] = err(csr.load_key, k[:-1])
    out['load_flip'] = err(csr.load_key, k[:3] + b'\x02' + k[4:])
    out['bad_pub'] = err(csr.spki_der, pub[1:])
    out['pubkey_0'] = err(p256.public_key, 0)


def rejects(out, data):
    N1 = unhexlify('FFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632550')
    draws = [bytes(32), b'\xff' * 32, N1[:-1] + b'\x51', N1]   # 0, > n, n, then n - 1
    def rand(n):
        return draws.pop(0)
    d, pub = csr.generate_key(rand)
    out['d'] = '%x' % d
    out['left'] = len(draws)
    out['pub'] = hexlify(pub).decode()
    try:
        csr.generate_key(lambda n: b'\xff' * n)
        out['broken'] = None
    except OSError as e:
        out['broken'] = str(e)


def points(out, data):
    S = data['scalars']
    out['pub'] = [hexlify(p256.public_key(k)).decode() for k in S]
    G = p256.mul_g(1)
    Q = p256.mul_g(S[-1])
    # k*Q against (k*q)*G, and the ECDSA sum against its parts
    out['mul'] = all(p256.mul(k, Q) == p256.mul_g(k * S[-1]) for k in S[:12])
    out['mul_add'] = all(p256.mul_add(a, b, Q) == p256.mul_g(a + b * S[-1])
                         for a, b in zip(S, S[4:]))
    out['inf'] = [p256.mul_g(0), p256.mul_g(N), p256.mul(N, Q), p256.mul_add(1, N - 1, G)]
    out['neg'] = p256.mul_g(-1) == (G[0], P - G[1])
    out['on'] = [p256.on_curve(G), p256.on_curve((G[0], G[1] + 1))]
    p256.free()
    out['again'] = hexlify(p256.public_key(S[-1])).decode() == out['pub'][-1]


def decode(out, data):
    d, pub = csr.generate_key()
    def err(b):
        try:
            p256.decode(b)
            return 'accepted'
        except ValueError as e:
            return str(e)
    out['cases'] = [err(pub[:-1]), err(b'\x02' + pub[1:]),
                    err(pub[:-1] + bytes([pub[-1] ^ 1])),
                    err(b'\x04' + P.to_bytes(32, 'big') + pub[33:]),     # x = p: out of range
                    err(pub)]
    try:
        ecdsa.verify(pub[:-1] + bytes([pub[-1] ^ 1]), b'm', 1, 1)
        out['verify_bad_pub'] = None
    except ValueError as e:
        out['verify_bad_pub'] = str(e)


def our_sigs(out, data):
    d, pub = csr.generate_key()
    M = [unhexlify(m) for m in data['messages']]
    out['pub'] = hexlify(pub).decode()
    out['d'] = '%x' % d
    t = time.ticks_ms()
    sigs = [csr.sign(d, m) for m in M]
    out['t_sign'] = time.ticks_diff(time.ticks_ms(), t) // len(M)
    out['sigs'] = [['%x' % r, '%x' % s] for r, s in sigs]
    out['der'] = [hexlify(csr.sig_der(r, s)).decode() for r, s in sigs]
    t = time.ticks_ms()
    out['self'] = [csr.verify(pub, m, r, s) for m, (r, s) in zip(M, sigs)]
    out['t_verify'] = time.ticks_diff(time.ticks_ms(), t) // len(M)
    out['again'] = [csr.sign(d, m) for m in M] == sigs                  # deterministic
    out['digest'] = csr.sign_digest(d, hashlib.sha256(M[2]).digest()) == sigs[2]


def their_sigs(out, data):
    pub = unhexlify(data['pub'])
    M = [unhexlify(m) for m in data['messages']]
    S = data['sigs']
    n = N
    out['good'] = [csr.verify(pub, m, r, s) for m, (r, s) in zip(M, S)]
    r, s = S[0]
    out['bad'] = [csr.verify(pub, M[1], r, s), csr.verify(pub, M[0], r + 1, s),
                  csr.verify(pub, M[0], s, r), csr.verify(pub, M[0], r, s + 1),
                  csr.verify(pub, M[0], 0, s), csr.verify(pub, M[0], r, 0),
                  csr.verify(pub, M[0], r + n, s), csr.verify(pub, M[0], n, s),
                  csr.verify_digest(pub, b'\x00' * 31, r, s)]
    out['malleable'] = csr.verify(pub, M[0], r, n - s)     # (r, n - s) is valid too (no low-S)


def rfc6979(out, data):
    x = 0xC9AFA9D845BA75166B5C215767B1D6934E50C3DB36E89B127B8A622B120F6721
    out['pub'] = hexlify(p256.public_key(x)).decode()
    for m in ('sample', 'test', 'wv[vnX'):
        k = next(ecdsa.nonces(x, hashlib.sha256(m.encode()).digest()))
        r, s = csr.sign(x, m.encode())
        out[m] = ['%064X' % v for v in (k, r, s)]
    # RFC 4231 test case 2 for the HMAC underneath
    out['hmac'] = hexlify(ecdsa.hmac_sha256(b'Jefe', b'what do ya want ', b'for nothing?')).decode()
    out['hmac_long_key'] = hexlify(ecdsa.hmac_sha256(b'\xaa' * 131,
        b'Test Using Larger Than Block-Size Key - Hash Key First')).decode()


def der_writer(out, data):
    out['int'] = [hexlify(der.integer(v)).decode() for v in (0, 1, 127, 128, 255, 256, 0x7FFF, 0x8000,
                                                       2**255)]
    out['oid'] = [hexlify(der.oid(o)).decode() for o in ('1.2.840.10045.2.1', '1.2.840.10045.3.1.7',
                                                   '1.2.840.10045.4.3.2', '2.5.4.3',
                                                   '2.999.3', '1.2.840.113549.1.1.11')]
    out['len'] = [hexlify(der.octet_string(bytes(n))[:4]).decode() for n in (127, 128, 255, 256)]
    out['str'] = [hexlify(der.utf8('\u00e4')).decode(), hexlify(der.printable("A b'(+,-./:=?)")).decode()]
    out['set'] = hexlify(der.set_of(b'\x02\x01\x05', b'\x02\x01\x03')).decode()
    out['ctx'] = [hexlify(der.ctx(0)).decode(), hexlify(der.ctx(1, der.integer(1))).decode()]
    out['bits'] = hexlify(der.bit_string(b'\xab')).decode()
    def err(f, *a):
        try:
            f(*a)
            return None
        except ValueError as e:
            return 'ValueError'
    out['errors'] = [err(der.integer, -1), err(der.printable, 'a@b'), err(der.printable, '\u00e4'),
                     err(der.oid, '3.1'), err(der.oid, '1.40'), err(der.oid, '1'),
                     err(der.octet_string, bytes(65536))]


def mtls(out, data):
    import socket, ssl
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.verify_mode = ssl.CERT_REQUIRED
    ctx.load_verify_locations(cadata=unhexlify(data['ca']))
    ctx.load_cert_chain(unhexlify(data['cert']), unhexlify(data['key']))
    s = socket.socket()
    s.connect(socket.getaddrinfo('127.0.0.1', data['port'])[0][-1])
    t = ctx.wrap_socket(s, server_hostname='localhost')
    t.write(b'ping')
    out['reply'] = t.read(100).decode()
    t.close()


def heap(out, data):
    gc.collect()
    out['after_import'] = gc.mem_alloc()
    p256._table()
    gc.collect()
    out['table'] = gc.mem_alloc() - out['after_import']
    d, pub = csr.generate_key()
    der_ = csr.make_csr(d, pub, 'CS-000042', 'Example CPO')
    pem = csr.csr_pem(der_)
    k = csr.key_der(d, pub)
    r, s = csr.sign(d, b'x')
    out['ok'] = csr.load_key(k) == (d, pub) and csr.verify(pub, b'x', r, s)
    del d, pub, der_, pem, k, r, s
    p256.free()
    gc.collect()
    out['after_free'] = gc.mem_alloc() - out['after_import']


CASES = {"made": made, "inputs": inputs, "rejects": rejects, "points": points, "decode": decode,
         "our_sigs": our_sigs, "their_sigs": their_sigs, "rfc6979": rfc6979,
         "der_writer": der_writer, "mtls": mtls, "heap": heap}
data = None
if len(sys.argv) > 2:
    with open(sys.argv[2]) as f:
        data = json.load(f)
result = {}
CASES[sys.argv[1]](result, data)
report(result)
