"""The dev CSMS acting as a CA for the station's certificate signing (1.6 security
whitepaper A02, 2.0.1 A02/A03): on SignCertificate it answers Accepted, then sends
CertificateSigned with a certificate for the CSR's key and subject, signed by its CA.

    signer = SigningCA(ca_cert_pem, ca_key_pem, days=365)
    Csms(..., signer=signer)           # or: python -m tools.csms --sign-ca CERT --sign-key KEY
    signer.sign(csr_pem) -> PEM text   # leaf first, then the CA if include_ca
    signer.issued                      # [(station id, PEM)] sent so far

A CSR whose signature does not verify is refused (SignCertificate Rejected)."""
import datetime

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.x509.oid import ExtendedKeyUsageOID


class SigningCA:
    def __init__(self, cert_pem, key_pem, days=365, include_ca=False):
        self.cert = x509.load_pem_x509_certificate(_b(cert_pem))
        self.key = serialization.load_pem_private_key(_b(key_pem), None)
        self.days = days
        self.include_ca = include_ca
        self.issued = []

    @classmethod
    def from_files(cls, cert_path, key_path, **kw):
        with open(cert_path, "rb") as c, open(key_path, "rb") as k:
            return cls(c.read(), k.read(), **kw)

    def check(self, csr_pem):
        try:
            return x509.load_pem_x509_csr(_b(csr_pem)).is_signature_valid
        except ValueError:
            return False

    def sign(self, csr_pem):
        csr = x509.load_pem_x509_csr(_b(csr_pem))
        if not csr.is_signature_valid:
            raise ValueError("CSR signature does not verify")
        now = datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(minutes=5)
        pub = csr.public_key()
        cert = (x509.CertificateBuilder()
                .subject_name(csr.subject).issuer_name(self.cert.subject).public_key(pub)
                .serial_number(x509.random_serial_number())
                .not_valid_before(now).not_valid_after(now + datetime.timedelta(days=self.days))
                .add_extension(x509.BasicConstraints(ca=False, path_length=None), True)
                .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), False)
                .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(
                    self.key.public_key()), False)
                .sign(self.key, hashes.SHA256()))
        pem = cert.public_bytes(serialization.Encoding.PEM)
        if self.include_ca:
            pem += self.cert.public_bytes(serialization.Encoding.PEM)
        return pem.decode()


def _b(x):
    return x.encode() if isinstance(x, str) else x
