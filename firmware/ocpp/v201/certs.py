"""OCPP 2.0.1 certificate management (M03-M05): InstallCertificate,
GetInstalledCertificateIds, DeleteCertificate over the certificate store, and the
device-model variable SecurityCtrlr.CertificateEntries (the number of certificates
installed, maxLimit = CertificateStoreMaxLength; Part 2 Appendix, OCTT Part 6 table of
required variables).

Rejected and Failed answers carry statusInfo with a reason code of Appendix 5
(InvalidCertificate, OutOfStorage, InternalError). GetInstalledCertificateIds with no
certificateType lists every type (TC_M_18); V2GCertificateChain entries carry their
sub-CAs as childCertificateHashData; nothing matching -> NotFound without a list
(TC_M_19). The station's own V2G certificate cannot be deleted (M04.FR.05, TC_M_23).
CertificateEntries is served by firmware.ocpp.v201.variables.

Loaded for a call and unloaded after it (firmware.memory.call): functions of the adapter `a`."""
from firmware import log
from firmware.security import certs

_KINDS = tuple(k for _, k in certs.TYPES201)


async def on_InstallCertificate(a, p):
    st, code, info = certs.cert_install(a, certs.kind_of(certs.TYPES201, p["certificateType"]),
                                    p["certificate"])
    res = {"status": st}
    if st != "Accepted":
        log.warn("certs", "InstallCertificate %s: %s", st, info)
        res["statusInfo"] = {"reasonCode": code, "additionalInfo": (info or "")[:512]}
    return res


async def on_GetInstalledCertificateIds(a, p):
    names = p.get("certificateType")
    kinds = tuple(certs.kind_of(certs.TYPES201, n) for n in names) if names else _KINDS
    out = []
    for k, hd, kids in certs.cert_op(a, lambda st: st.listing(kinds)):
        x = {"certificateType": certs.name_of(certs.TYPES201, k), "certificateHashData": hd}
        if kids:
            x["childCertificateHashData"] = kids
        out.append(x)
    if not out:
        return {"status": "NotFound"}
    return {"status": "Accepted", "certificateHashDataChain": out}


async def on_DeleteCertificate(a, p):
    return {"status": certs.cert_delete(a, p["certificateHashData"], _KINDS)}
