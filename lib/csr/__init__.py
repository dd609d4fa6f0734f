"""The station's own key pair and certificate signing request, for OCPP security
profile 3 (1.6 security whitepaper SignCertificate, 2.0.1 A02/A03): P-256, ECDSA with
SHA-256 and RFC 6979 nonces, a small DER writer. Pure MicroPython, no ssl internals.

    d, pub = csr.generate_key()              # d: int, pub: 65-byte 04||X||Y
    der = csr.make_csr(d, pub, "CS-00042", "Example CPO")   # PKCS#10 DER
    csr.csr_pem(der)                         # "-----BEGIN CERTIFICATE REQUEST-----..."
    key = csr.key_der(d, pub)                # RFC 5915 DER: ssl load_cert_chain(cert, key)
    d, pub = csr.load_key(key)               # and back, checked
    r, s = csr.sign(d, msg); csr.verify(pub, msg, r, s)
    csr.spki_der(pub); csr.sig_der(r, s)

Errors are ValueError (bad input) or OSError (a random source that never gives an
in-range scalar). The k*G table (about 2.5 KB) is built on first use; p256.free()
drops it. Not constant time (see p256).
"""
from .p256 import generate_key, public_key
from .ecdsa import sign, verify, sign_digest, verify_digest
from .req import make_csr, key_der, load_key, spki_der, sig_der, subject_der, csr_pem
