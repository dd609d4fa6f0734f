"""The fleet's own PKI for security profiles 2 and 3, made per run with `cryptography`:
a root CA, the tap's server certificate (localhost, 127.0.0.1) and, for profile 3, one
client certificate per station (CN = the station identity), all EC P-256 (cheap to make,
what the stations' mbedTLS handles well). Files land in DIR as PEM:

    pki = FleetPki(workdir)
    pki.ca_path                         # what every TLS station gets as its CSMS root
    pki.client(ident) -> (cert, key)    # profile 3: paths for tools/harness/sim
    pki.server_context()                # the tap's TLS side: client certs asked for,
                                        # verified against the CA when presented"""
import datetime
import ipaddress
import os
import ssl

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

_PEM = serialization.Encoding.PEM
HOSTS = ("localhost", "127.0.0.1")


def _name(cn):
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn),
                      x509.NameAttribute(NameOID.ORGANIZATION_NAME, "MicroEVSE fleet")])


def _key_pem(key):
    return key.private_bytes(_PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


class FleetPki:
    def __init__(self, directory, days=30):
        self.dir = os.path.join(str(directory), "pki")
        os.makedirs(self.dir, exist_ok=True)
        self.days = days
        self.ca_key = ec.generate_private_key(ec.SECP256R1())
        now = datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(hours=1)
        self._t0 = now
        subject = _name("MicroEVSE fleet test CA")
        pub = self.ca_key.public_key()
        self.ca = (x509.CertificateBuilder().subject_name(subject).issuer_name(subject)
                   .public_key(pub).serial_number(x509.random_serial_number())
                   .not_valid_before(now).not_valid_after(now + datetime.timedelta(days=days))
                   .add_extension(x509.BasicConstraints(ca=True, path_length=None), True)
                   .add_extension(x509.KeyUsage(False, False, False, False, False, True, True,
                                                False, False), True)
                   .add_extension(x509.SubjectKeyIdentifier.from_public_key(pub), False)
                   .sign(self.ca_key, hashes.SHA256()))
        self.ca_pem = self.ca.public_bytes(_PEM)
        self.ca_path = self._write("ca.pem", self.ca_pem)
        sans = []
        for h in HOSTS:
            try:
                sans.append(x509.IPAddress(ipaddress.ip_address(h)))
            except ValueError:
                sans.append(x509.DNSName(h))
        self.server_cert, self.server_key = self._leaf("fleet-tap", ExtendedKeyUsageOID.SERVER_AUTH,
                                                       "server", sans)

    def _write(self, name, data):
        path = os.path.join(self.dir, name)
        with open(path, "wb") as f:
            f.write(data)
        return path

    def _leaf(self, cn, usage, name, sans=None):
        key = ec.generate_private_key(ec.SECP256R1())
        pub = key.public_key()
        b = (x509.CertificateBuilder().subject_name(_name(cn)).issuer_name(self.ca.subject)
             .public_key(pub).serial_number(x509.random_serial_number())
             .not_valid_before(self._t0)
             .not_valid_after(self._t0 + datetime.timedelta(days=self.days))
             .add_extension(x509.BasicConstraints(ca=False, path_length=None), True)
             .add_extension(x509.KeyUsage(True, False, False, False, True, False, False,
                                          False, False), True)
             .add_extension(x509.ExtendedKeyUsage([usage]), False)
             .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(
                 self.ca_key.public_key()), False))
        if sans:
            b = b.add_extension(x509.SubjectAlternativeName(sans), False)
        cert = b.sign(self.ca_key, hashes.SHA256())
        safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in name)
        return (self._write(safe + ".crt", cert.public_bytes(_PEM)),
                self._write(safe + ".key", _key_pem(key)))

    def client(self, ident):
        """A client certificate for station `ident` (profile 3) -> (cert path, key path)."""
        return self._leaf(ident, ExtendedKeyUsageOID.CLIENT_AUTH, "client-" + ident)

    def server_context(self):
        """The tap's TLS context: its certificate; a client certificate is asked for and,
        when one comes, must chain to the fleet CA (the tap then checks that a profile 3
        station presented one with its own identity)."""
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.minimum_version = ssl.TLSVersion.TLSv1_2
        ctx.load_cert_chain(self.server_cert, self.server_key)
        ctx.verify_mode = ssl.CERT_OPTIONAL
        ctx.load_verify_locations(cadata=self.ca_pem.decode())
        return ctx
