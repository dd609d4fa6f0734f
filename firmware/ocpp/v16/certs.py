"""OCPP 1.6J security extension (whitepaper ed.2): certificate management of
CentralSystemRootCertificate and ManufacturerRootCertificate (M03-M05).

InstallCertificate: Accepted; Rejected for an invalid, expired or not-CA certificate,
a full store (CertificateStoreMaxLength, M05.FR.03), a root the
AdditionalRootCertificateCheck refuses (M05.FR.10); Failed when the flash write fails
(M05.FR.04). GetInstalledCertificateIds: the hash data of each certificate of the type,
or NotFound (M03.FR.02). DeleteCertificate: Accepted, NotFound, Failed for the CSMS
root in use (M04.FR.06).

Loaded for a call and unloaded after it (firmware.memory.call): functions of the adapter `a`."""
from firmware import log
from firmware.security import certs

_KINDS = (certs.CSMS, certs.MF)


async def on_InstallCertificate(a, p):
    st, code, info = certs.cert_install(a, certs.kind_of(certs.TYPES16, p["certificateType"]),
                                    p["certificate"])
    if st != "Accepted":
        log.warn("certs", "InstallCertificate %s: %s", st, info)
    return {"status": st}


async def on_GetInstalledCertificateIds(a, p):
    k = certs.kind_of(certs.TYPES16, p["certificateType"])
    hds = [hd for _, hd, _ in certs.cert_op(a, lambda st: st.listing((k,)))]
    if not hds:
        return {"status": "NotFound"}
    return {"status": "Accepted", "certificateHashData": hds}


async def on_DeleteCertificate(a, p):
    return {"status": certs.cert_delete(a, p["certificateHashData"], _KINDS)}
