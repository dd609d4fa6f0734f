"""The station's V2G certificate chain in the certificate store (2.0.1
V2GCertificateChain, reported by GetInstalledCertificateIds with its sub-CAs as
childCertificateHashData). For the CertificateSigned work (certificateType
V2GCertificate), which installs a chain the CSMS signed."""
from micropython import const
import store
import x509
from firmware.security.certs import CHAIN, V2G
from firmware.security.certs.sig import check as sig_check
from firmware.security.certs.store import _fp, _no

_MAX_CHILDREN = const(4)     # 2.0.1 childCertificateHashData maxItems


def add(st, ders, now, limit):
    """Install the chain `ders` (leaf first, then up to 4 sub-CAs, each issued by the
    next, the last by an installed V2GRootCertificate) into CertStore st, replacing the
    previous chain -> (status, reasonCode, info). The leaf need not be a CA; every
    certificate must be valid now and not disproved by a signature check."""
    try:
        cs = [x509.Certificate(d) for d in ders]
    except x509.Invalid as ex:
        return _no("InvalidCertificate", str(ex))
    if not cs or len(cs) > _MAX_CHILDREN + 1:
        return _no("InvalidCertificate", "1 to 5 certificates")
    idx = st._load()
    es = idx["e"]
    roots = [p for p in (st._cert(e) for e in es if e[1] == V2G) if p is not None]
    hds = []
    for n, c in enumerate(cs):
        up = cs[n + 1] if n + 1 < len(cs) else st._issuer(es, c, roots)
        if up is None or not x509.issued_by(c, up) or sig_check(c, up) is False:
            return _no("InvalidCertificate", "certificate %d: issuer not in the chain or store" % n)
        if not x509.valid_at(c, now) or (n and not x509.is_ca(c)):
            return _no("InvalidCertificate", "certificate %d: expired or not a CA" % n)
        hds.append(x509.hash_data(c, up))
    drop = [e for e in es if e[1] == CHAIN]
    if len(es) - len(drop) + len(cs) > limit:
        return _no("OutOfStorage", "CertificateStoreMaxLength %d reached" % limit)
    if not st._room(sum(len(d) for d in ders), len(cs)):
        return _no("OutOfStorage", "flash full")
    i0 = i = idx["next"]
    new = []
    for c, hd in zip(cs, hds):
        der = bytes(c.der)
        try:
            store.atomic_write(st._path(i), der)
        except OSError as ex:
            st._rm(new)
            return ("Failed", "InternalError", "flash write: %s" % ex)
        new.append([i, CHAIN, 0, len(der), _fp(der), hd["issuerNameHash"],
                    hd["issuerKeyHash"], hd["serialNumber"], 0 if i == i0 else i0])
        i += 1
    return st._commit(idx, new, drop, i)
