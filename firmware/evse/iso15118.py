"""The kernel-level API an ISO 15118 stack uses for the certificate messages that OCPP
2.0.1 carries for it (M: Get15118EVCertificate, GetCertificateStatus). MicroEVSE has no
ISO 15118 stack of its own; one running beside the firmware (or the simulator's
control channel) calls these, and the OCPP 2.0.1 adapter, which registers itself as
station.iso_handler, sends them to the CSMS:

    from firmware.evse import iso15118
    res = await iso15118.ev_certificate(station, evse_id, "urn:iso:15118:2:2013:MsgDef",
                                        "Install", exi_b64)
        # -> {"status": "Accepted" | "Failed", "exiResponse": str, ...}
    res = await iso15118.certificate_status(station, {"hashAlgorithm": "SHA256",
                                        "issuerNameHash": ..., "issuerKeyHash": ...,
                                        "serialNumber": ..., "responderURL": ...})
        # -> {"status": "Accepted" | "Failed", "ocspResult": str, ...}

Without a 2.0.1 adapter (1.6 has no such messages), offline, or on a CSMS error the
answer is status Failed with a "reason": the stack then tells the EV so, it never
waits forever (each call is bounded by the adapter's MessageTimeout)."""
from micropython import const

_ACTIONS = const(("Install", "Update"))
_HASHES = const(("SHA256", "SHA384", "SHA512"))


def _failed(reason):
    return {"status": "Failed", "reason": reason}


async def ev_certificate(station, evse_id, schema_version, action, exi_request):
    h = getattr(station, "iso_handler", None)
    if h is None:
        return _failed("no OCPP 2.0.1 adapter")
    if station.evse(evse_id) is None:
        return _failed("no EVSE %r" % (evse_id,))
    if action not in _ACTIONS or not isinstance(exi_request, str) or \
            not 0 < len(exi_request) <= 5600 or not isinstance(schema_version, str) or \
            not 0 < len(schema_version) <= 50:
        return _failed("bad request")
    return await h.iso_call("Get15118EVCertificate", {
        "iso15118SchemaVersion": schema_version, "action": action, "exiRequest": exi_request})


async def certificate_status(station, ocsp):
    h = getattr(station, "iso_handler", None)
    if h is None:
        return _failed("no OCPP 2.0.1 adapter")
    try:
        ok = ocsp["hashAlgorithm"] in _HASHES and len(ocsp["issuerNameHash"]) <= 128 and \
            len(ocsp["issuerKeyHash"]) <= 128 and len(ocsp["serialNumber"]) <= 40 and \
            0 < len(ocsp["responderURL"]) <= 512
    except (KeyError, TypeError):
        ok = False
    if not ok:
        return _failed("bad OCSP request data")
    return await h.iso_call("GetCertificateStatus", {"ocspRequestData": ocsp})
