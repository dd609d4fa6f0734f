"""Certificates on flash and what the OCPP adapters share about them (1.6 security
whitepaper M03-M05, 2.0.1 M03-M05).

    from firmware.security import certs
    certs.csms_roots("/flash")         # [DER]: the CA(s) to verify the CSMS with
    with certs.scope():                # loads the store (and x509, and csr for ECDSA)...
        st = certs.open_store("/flash")
        st.install(certs.CSMS, pem, now, limit) -> (status, reasonCode, info)
        st.listing(kinds); st.delete(hash_data, kinds, keep_csms); chain.add(st, ders, ...)
                                       # ...and unloads, on exit, what it loaded

This module is small and always loaded with the adapters; the store, the signature
checks and lib/x509 (about 45 KB of heap on the 64-bit unix port, more with lib/csr's
P-256) are loaded only for a certificate operation and dropped after it (scope): a
station handles certificates rarely and needs its heap for everything else.

Storage, power-cut rules and the index: store.py; signature checks: sig.py (RSA and
ECDSA P-256 with SHA-256 only); the station's V2G chain: chain.py.
"""
from micropython import const

# store kinds: the certificate types of both OCPP versions map to these
CSMS = "csms"        # 1.6 CentralSystemRootCertificate, 2.0.1 CSMSRootCertificate
MF = "mf"            # ManufacturerRootCertificate
V2G = "v2g"          # 2.0.1 V2GRootCertificate
MO = "mo"            # 2.0.1 MORootCertificate
CHAIN = "chain"      # 2.0.1 V2GCertificateChain: the station's V2G leaf (+ sub-CAs)

TYPES16 = (("CentralSystemRootCertificate", CSMS), ("ManufacturerRootCertificate", MF))
TYPES201 = (("CSMSRootCertificate", CSMS), ("ManufacturerRootCertificate", MF),
            ("V2GRootCertificate", V2G), ("MORootCertificate", MO),
            ("V2GCertificateChain", CHAIN))

_HEAVY = const(("firmware.security.certs.store", "firmware.security.certs.sig", "firmware.security.certs.chain",
                "x509", "x509.der", "x509.cert", "x509.pem", "x509.hashdata",
                "csr", "csr.ecdsa", "csr.p256", "csr.req", "csr.der"))


def kind_of(types, name):
    for n, k in types:
        if n == name:
            return k
    return None


def name_of(types, kind):
    for n, k in types:
        if k == kind:
            return n
    return None


def scope():
    """`with scope():` unloads, on exit, the heavy modules it found not loaded (a
    module someone else loaded before stays): a firmware.memory.Scope."""
    from firmware.memory import Scope
    return Scope(_HEAVY)


def open_store(flash="/flash", check=True):
    """The CertStore at <flash>/certs; check: made consistent after a power cut
    (CertStore.check), once a boot is enough. Use inside scope()."""
    from firmware.security.certs.store import CertStore
    st = CertStore(flash + "/certs")
    if check:
        st.check()
    return st


def csms_roots(flash="/flash", fallback=True):
    """DER of the CSMS root certificate(s) to verify the CSMS with, the one in force
    first, then a fallback kept by the AdditionalRootCertificateCheck (M05.FR.13)
    unless fallback=False."""
    with scope():
        return open_store(flash).csms_roots(fallback)


def _entries(flash):
    """The store index's entries, read alone (no store or x509 loaded); [] if none."""
    import store
    idx, _ = store.load_json(flash + "/certs/index.json", None)
    e = idx.get("e") if isinstance(idx, dict) else None
    return e if isinstance(e, list) else []


def count(flash="/flash"):
    """Certificates installed (2.0.1 SecurityCtrlr.CertificateEntries)."""
    return len(_entries(flash))


def has_fallback(flash="/flash"):
    """A fallback CSMS root is kept (read from the index alone: nothing loaded)."""
    return any(isinstance(x, list) and len(x) > 2 and x[1] == CSMS
               and isinstance(x[2], int) and x[2] & 1 for x in _entries(flash))


def drop_fallback(flash="/flash"):
    """The new CSMS root verified a connection: the old one goes (M05.FR.12)."""
    with scope():
        return open_store(flash).drop_fallback()


def flash_of(a):
    """The mount adapter `a` keeps its state on (state.json at its root): the one the
    certificates live on."""
    p = a.persist.path
    return p[:p.rfind("/")] if "/" in p else "."


def cert_op(a, fn):
    """For the certificate handlers of adapter `a` (1.6 and 2.0.1): fn(store) -> its
    result, on a store opened for it inside scope() (plain data only: nothing of the
    store may leak out)."""
    with scope():
        st = open_store(flash_of(a), not getattr(a, "certs_checked", False))
        a.certs_checked = True
        return fn(st)


def cert_install(a, kind, pem):
    s = a.settings
    now, limit = a.clock.now(), s.get("CertificateStoreMaxLength")
    check = bool(s.get("AdditionalRootCertificateCheck"))
    return cert_op(a, lambda st: st.install(kind, pem, now, limit, check))


def cert_delete(a, hd, kinds):
    # SW16 M04.FR.06: the CSMS root in use cannot go. With TLS (profile 2, 3) the
    # last CSMS root is the one the connection was verified with.
    keep = a.settings.get("SecurityProfile") >= 2
    return cert_op(a, lambda st: st.delete(hd, kinds, keep))
