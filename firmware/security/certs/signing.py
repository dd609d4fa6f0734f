"""The station's certificate signing flow, shared by both OCPP versions (1.6 security
whitepaper A02 SignCertificate / CertificateSigned; 2.0.1 A02/A03):

    pem = signing.request(flash, cn, org)      # new P-256 key (kept on flash), CSR PEM
    ok, why = signing.install(flash, chain_pem, now)

request() generates the key on the station (lib/csr, pure MicroPython) and keeps it in
the pending slot of firmware.security.certs.identity; the private key never leaves the flash.
install() accepts a chain only if: it parses (PEM, at most 4 certificates, leaf first);
the leaf carries the pending key; the leaf is valid now; each certificate is signed by
the next; the last is signed by a CSMS root certificate installed in the store. Then
the chain and the key become the station's identity (atomically) and the pending key
goes. Heavy modules (x509, csr, the store) load only inside certs.scope()."""
from micropython import const
from firmware.security import certs
from firmware.security.certs import identity

_MAX_CHAIN = const(4)


def request(flash, cn, org):
    with certs.scope():
        import csr
        d, pub = csr.generate_key()
        der = csr.make_csr(d, pub, cn, org)
        identity.save_pending(flash, csr.key_der(d, pub))
        return csr.csr_pem(der)


def install(flash, chain_pem, now):
    key = identity.load_pending(flash)
    if not key:
        return False, "no signing request pending"
    roots = certs.csms_roots(flash)
    with certs.scope():
        import x509
        import csr
        from firmware.security.certs.sig import check
        try:
            ders = x509.pem_to_der(chain_pem)
            if not ders or len(ders) > _MAX_CHAIN:
                return False, "expected 1 to %d PEM certificates" % _MAX_CHAIN
            chain = [x509.load(d) for d in ders]
            _, pub = csr.load_key(key)
        except ValueError as e:              # x509.Invalid is a ValueError
            return False, "unreadable: %s" % e
        leaf = chain[0]
        if bytes(leaf.spki) != csr.spki_der(pub):
            return False, "the certificate is not for the key of the signing request"
        if not x509.valid_at(leaf, now):
            return False, "expired" if now > leaf.not_after else "not yet valid"
        for c, p in zip(chain, chain[1:]):
            if not x509.issued_by(c, p) or check(c, p) is not True:
                return False, "the chain is broken"
        top = chain[-1]
        ok = False
        for der in roots:
            r = x509.load(der)
            if x509.issued_by(top, r) and check(top, r) is True:
                ok = True
                break
        if not ok:
            return False, "not issued by an installed CSMS root certificate"
        ders = [bytes(c.der) for c in chain]
    identity.save(flash, ders, key)
    identity.drop_pending(flash)
    return True, None
