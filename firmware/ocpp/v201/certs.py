"""OCPP 2.0.1 certificate management (M03-M05): InstallCertificate,
GetInstalledCertificateIds, DeleteCertificate over the certificate store, and the
device-model variable SecurityCtrlr.CertificateEntries (the number of certificates
installed, maxLimit = CertificateStoreMaxLength; Part 2 Appendix, OCTT Part 6 table of
required variables).

Rejected and Failed answers carry statusInfo with a reason code of Appendix 5
(InvalidCertificate, OutOfStorage, InternalError). GetInstalledCertificateIds with no
certificateType lists every type (TC_M_18); V2GCertificateChain entries carry their
sub-CAs as childCertificateHashData; nothing matching -> NotFound without a list
(TC_M_19). The station's own V2G certificate cannot be deleted (M04.FR.05, TC_M_23)."""
from firmware import log
from firmware import certs as C
from firmware.ocpp.v201.variables import Variables

_KINDS = tuple(k for _, k in C.TYPES201)
_ENTRIES = "CertificateEntries"


class Certs201(C.CertsMixin):
    async def on_InstallCertificate(self, p):
        st, code, info = self.cert_install(C.kind_of(C.TYPES201, p["certificateType"]),
                                           p["certificate"])
        res = {"status": st}
        if st != "Accepted":
            log.warn("certs", "InstallCertificate %s: %s", st, info)
            res["statusInfo"] = {"reasonCode": code, "additionalInfo": (info or "")[:512]}
        return res

    async def on_GetInstalledCertificateIds(self, p):
        names = p.get("certificateType")
        kinds = tuple(C.kind_of(C.TYPES201, n) for n in names) if names else _KINDS
        out = []
        for k, hd, kids in self.cert_op(lambda st: st.listing(kinds)):
            x = {"certificateType": C.name_of(C.TYPES201, k), "certificateHashData": hd}
            if kids:
                x["childCertificateHashData"] = kids
            out.append(x)
        if not out:
            return {"status": "NotFound"}
        return {"status": "Accepted", "certificateHashDataChain": out}

    async def on_DeleteCertificate(self, p):
        return {"status": self.cert_delete(p["certificateHashData"], _KINDS)}

    # ------------------------------------------------------------ SecurityCtrlr.CertificateEntries
    def _find(self, comp, var):
        if comp.get("name") == "SecurityCtrlr" and var.get("name") == _ENTRIES and \
                var.get("instance") is None and not comp.get("evse") and \
                comp.get("instance") is None:
            return ("Accepted", None, str(self.cert_count()))
        return Variables._find(self, comp, var)

    def _report_items(self, full):
        n = self.cert_count() if full else 0
        for it in Variables._report_items(self, full):
            yield it
        if full:
            yield _ENTRIES, {"name": "SecurityCtrlr"}, _ENTRIES, n

    def _report_entry(self, r, comp, vname, x):
        if r != _ENTRIES:
            return Variables._report_entry(self, r, comp, vname, x)
        return {"component": comp, "variable": {"name": vname},
                "variableAttribute": [{"type": "Actual", "value": str(x),
                                       "mutability": "ReadOnly", "persistent": True,
                                       "constant": False}],
                "variableCharacteristics": {"dataType": "integer", "supportsMonitoring": False,
                                            "maxLimit": self.settings.get("CertificateStoreMaxLength")}}
