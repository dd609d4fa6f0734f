"""The TLS context for the next connection to the CSMS, made fresh for every attempt
from what is on flash, so a root installed by InstallCertificate or a station
certificate installed by CertificateSigned is used at the next (re)connect.

    ctx, why = tlsctx.make(flash, profile, ca_file, now)   # (SSLContext, None) | (None, why)

Security profile 2 and 3 (OCPP 1.6 security whitepaper, 2.0.1 A00): the CSMS is
verified against the CSMS root certificate(s) in the store (firmware.security.certs) and its
host name (checked by the caller's wrap_socket(server_hostname=...)); verify_mode is
CERT_REQUIRED always: there is no unverified fallback, no root means no connection.
Profile 3 adds the station's certificate and key (firmware.security.certs.identity).

ca_file (the configuration's "ca", a DER or PEM file relative to the flash directory) is
factory provisioning: installed into the store when it holds no CSMS root, here at the
first connect rather than at boot, because a board's clock is only plausible after NTP
(boards.common.net) and the root's validity is checked against it."""
from firmware.security import certs
from firmware import log


def _provision(flash, ca_file, now):
    path = ca_file if ca_file.startswith("/") else flash + "/" + ca_file
    import store
    try:
        data = store.read(path)
    except OSError as e:
        log.error("tls", "CA %s unreadable: %r", path, e)
        return
    if not data:
        log.error("tls", "CA %s missing", path)
        return
    with certs.scope():
        st, _, info = certs.open_store(flash).install(certs.CSMS, data, now, 24)
    log.info("tls", "CSMS root from %s: %s %s", path, st, info or "")


def make(flash, profile, ca_file=None, now=0, fallback=True):
    """fallback=False: the CSMS root in force only, without the one an
    AdditionalRootCertificateCheck replacement keeps as fallback (M05.FR.12/13)."""
    roots = certs.csms_roots(flash, fallback)
    if not roots and ca_file:
        _provision(flash, ca_file, now)
        roots = certs.csms_roots(flash)
    if not roots:
        return None, "no CSMS root certificate installed"
    ident = None
    if profile >= 3:
        from firmware.security.certs import identity
        ident = identity.load(flash)
        if ident is None:
            return None, "security profile 3 needs the station certificate (none installed)"
    import tls
    ctx = tls.SSLContext(tls.PROTOCOL_TLS_CLIENT)
    ctx.verify_mode = tls.CERT_REQUIRED
    for der in roots:
        ctx.load_verify_locations(der)       # several calls accumulate (mbedTLS chain)
    if ident is not None:
        ctx.load_cert_chain(ident[0][0], ident[1])
    return ctx, None
