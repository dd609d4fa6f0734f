"""X.509 certificates for the OCPP certificate store: a bounded DER reader, PEM, and
OCPP CertificateHashData. Signatures are NOT verified (no RSA/ECDSA in Python here).

    certs = x509.load_all(pem_or_der)       # [Certificate]: a PEM bundle, or one DER
    c = x509.load(data)                     # exactly one certificate, PEM or DER
    c.subject, c.cn, c.org, c.not_after, c.ca, c.key_usage & x509.KEY_CERT_SIGN
    x509.hash_data(leaf, issuer=parent)     # {"hashAlgorithm": "SHA256", ...}
    x509.hash_data(root)                    # self-signed: its own key
    x509.hash_matches(ours, theirs)         # hex compared without regard to case
    x509.issued_by(child, parent); x509.valid_at(c, now); x509.is_ca(c)
    x509.pem_to_der(text) -> [bytes];  x509.der_to_pem(der) -> str

Every malformed or hostile input raises x509.Invalid (a ValueError), with work linear
in the input and at most MAX_CERT bytes of DER per certificate. Times are seconds
since 1970-01-01 UTC (the epoch of MicroPython >= 1.22 on every port); x509.unix()
turns a (Y, M, D, h, m, s) UTC tuple into them.
"""
from .der import Invalid, MAX_CERT, unix
from .cert import (Certificate, load, load_all, is_ca, valid_at, issued_by,
                   DIGITAL_SIGNATURE, NON_REPUDIATION, KEY_ENCIPHERMENT,
                   DATA_ENCIPHERMENT, KEY_AGREEMENT, KEY_CERT_SIGN, CRL_SIGN,
                   ENCIPHER_ONLY, DECIPHER_ONLY)
from .pem import pem_to_der, der_to_pem
from .hashdata import hash_data, hash_matches, serial_hex
