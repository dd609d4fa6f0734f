"""Test PKI made at test time with `cryptography`: a CA, server and client certificates.

Every function returns an `Issued` holding the certificate and key as PEM and DER
bytes (MicroPython's ssl wants DER in older releases, CPython's wants PEM files):

    ca = make_ca()
    server = make_server_cert(ca, hosts=("127.0.0.1", "localhost"))
    client = make_client_cert(ca, "CS1", org="MicroEVSE CPO")   # profile 3 identity
    ca, server, client = make_pki()                              # all three at once
    server_ssl_context(server, client_ca=ca)   # wss server, client certs required
    client_ssl_context(ca, client)             # CPython station side
    paths = server.write(tmp_path, "server")   # {"cert": ..., "key": ...} PEM files

Keys are EC P-256 by default (fast, and what MicroPython's mbedTLS handles well);
key_type="rsa" gives RSA 2048. Keys are PKCS#8 (PEM "PRIVATE KEY", DER).
"""
import datetime
import ipaddress
import os
import ssl
import tempfile
from dataclasses import dataclass

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

_DER = serialization.Encoding.DER
_PEM = serialization.Encoding.PEM


@dataclass
class Issued:
    cert: x509.Certificate
    key: object
    cert_pem: bytes
    cert_der: bytes
    key_pem: bytes
    key_der: bytes

    def write(self, directory, name):
        """Write name.crt / name.key (PEM) into directory; returns their paths."""
        paths = {"cert": os.path.join(str(directory), name + ".crt"),
                 "key": os.path.join(str(directory), name + ".key")}
        with open(paths["cert"], "wb") as f:
            f.write(self.cert_pem)
        with open(paths["key"], "wb") as f:
            f.write(self.key_pem)
        return paths


def _key(key_type):
    if key_type == "ec":
        return ec.generate_private_key(ec.SECP256R1())
    if key_type == "rsa":
        return rsa.generate_private_key(public_exponent=65537, key_size=2048)
    raise ValueError("key_type is 'ec' or 'rsa'")


def _name(cn, org=None):
    attrs = [x509.NameAttribute(NameOID.COMMON_NAME, cn)]
    if org:
        attrs.append(x509.NameAttribute(NameOID.ORGANIZATION_NAME, org))
    return x509.Name(attrs)


def _issued(cert, key):
    fmt = serialization.PrivateFormat.PKCS8
    none = serialization.NoEncryption()
    return Issued(cert, key, cert.public_bytes(_PEM), cert.public_bytes(_DER),
                  key.private_bytes(_PEM, fmt, none), key.private_bytes(_DER, fmt, none))


def _builder(subject, issuer_name, public_key, days, not_before=None):
    start = not_before or (datetime.datetime.now(datetime.timezone.utc)
                           - datetime.timedelta(days=1))
    return (x509.CertificateBuilder()
            .subject_name(subject).issuer_name(issuer_name).public_key(public_key)
            .serial_number(x509.random_serial_number())
            .not_valid_before(start).not_valid_after(start + datetime.timedelta(days=days))
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), False))


def make_ca(cn="MicroEVSE Test CA", org="MicroEVSE", key_type="ec", days=3650, issuer=None):
    """A CA certificate: self-signed root, or an intermediate when issuer is an Issued CA."""
    key = _key(key_type)
    subject = _name(cn, org)
    b = _builder(subject, issuer.cert.subject if issuer else subject, key.public_key(), days)
    b = (b.add_extension(x509.BasicConstraints(ca=True, path_length=None), True)
          .add_extension(x509.KeyUsage(False, False, False, False, False, True, True,
                                       False, False), True))
    signer = issuer.key if issuer else key
    if issuer:
        b = b.add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(
            issuer.key.public_key()), False)
    return _issued(b.sign(signer, hashes.SHA256()), key)


def _leaf(ca, subject, key_type, days, usage, sans, not_before):
    key = _key(key_type)
    b = _builder(subject, ca.cert.subject, key.public_key(), days, not_before)
    b = (b.add_extension(x509.BasicConstraints(ca=False, path_length=None), True)
          .add_extension(x509.KeyUsage(True, False, isinstance(key, rsa.RSAPrivateKey),
                                       False, isinstance(key, ec.EllipticCurvePrivateKey),
                                       False, False, False, False), True)
          .add_extension(x509.ExtendedKeyUsage([usage]), False)
          .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(
              ca.key.public_key()), False))
    if sans:
        b = b.add_extension(x509.SubjectAlternativeName(sans), False)
    return _issued(b.sign(ca.key, hashes.SHA256()), key)


def make_server_cert(ca, hosts=("127.0.0.1", "localhost"), key_type="ec", days=365,
                     not_before=None):
    """Server (CSMS) certificate for hosts (IPs and DNS names); CN = first host."""
    sans = []
    for h in hosts:
        try:
            sans.append(x509.IPAddress(ipaddress.ip_address(h)))
        except ValueError:
            sans.append(x509.DNSName(h))
    return _leaf(ca, _name(hosts[0]), key_type, days, ExtendedKeyUsageOID.SERVER_AUTH,
                 sans, not_before)


def make_client_cert(ca, cn="CS1", org="MicroEVSE CPO", key_type="ec", days=365,
                     not_before=None):
    """Station client certificate (security profile 3: CN = serial/id, O = CPO name)."""
    return _leaf(ca, _name(cn, org), key_type, days, ExtendedKeyUsageOID.CLIENT_AUTH,
                 None, not_before)


def make_pki(hosts=("127.0.0.1", "localhost"), client_cn="CS1", key_type="ec"):
    """(ca, server, client) in one go."""
    ca = make_ca(key_type=key_type)
    return (ca, make_server_cert(ca, hosts, key_type),
            make_client_cert(ca, client_cn, key_type=key_type))


def _load_chain(ctx, issued):
    # ssl wants files; a private temporary directory keeps the key out of sight.
    with tempfile.TemporaryDirectory() as d:
        paths = issued.write(d, "leaf")
        ctx.load_cert_chain(paths["cert"], paths["key"])


def server_ssl_context(server, client_ca=None):
    """TLS server context with `server`; with client_ca, client certs are required."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    _load_chain(ctx, server)
    if client_ca is not None:
        ctx.verify_mode = ssl.CERT_REQUIRED
        ctx.load_verify_locations(cadata=client_ca.cert_pem.decode())
    return ctx


def client_ssl_context(ca, client=None):
    """TLS client context trusting `ca` (hostname checked), optionally with a client cert."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.load_verify_locations(cadata=ca.cert_pem.decode())
    if client is not None:
        _load_chain(ctx, client)
    return ctx


def sign_csr(ca, csr_pem, days=365, not_before=None):
    """The CSMS acting as a CA (SignCertificate -> CertificateSigned): a client
    certificate for the CSR's key and subject, signed by ca; returns the PEM bytes.
    The CSR's own signature is checked first (ValueError when it does not verify)."""
    csr = x509.load_pem_x509_csr(csr_pem.encode() if isinstance(csr_pem, str) else csr_pem)
    if not csr.is_signature_valid:
        raise ValueError("CSR signature does not verify")
    pub = csr.public_key()
    b = _builder(csr.subject, ca.cert.subject, pub, days, not_before)
    b = (b.add_extension(x509.BasicConstraints(ca=False, path_length=None), True)
          .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), False)
          .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(
              ca.key.public_key()), False))
    return b.sign(ca.key, hashes.SHA256()).public_bytes(_PEM)
