"""OCPP 2.0.1 block L, firmware management (loaded for the call): UpdateFirmware (L01
secure; one without signingCertificate and signature is Rejected, OCTT TC_L_18). A
second request cancels the first unless it is installing (L01.FR.24: AcceptedCanceled;
Rejected when it cannot be). The update itself: firmware.update.job."""
import firmware.clock as clk
from firmware.update import job as fwjob


def _when(text):
    try:
        return clk.parse_iso(text) if text else 0
    except ValueError:
        return 0


async def on_UpdateFirmware(a, p):
    from firmware.update import bundle
    fw = p["firmware"]
    cert, sig = fw.get("signingCertificate"), fw.get("signature")
    if cert is None or sig is None:
        # a secure update only (L01.FR.11; OCTT TC_L_18): no unsigned 2.0.1 update (L02)
        return {"status": "Rejected", "statusInfo": {"reasonCode": "MissingSignature"}}
    if cert is not None and not bundle.cert_ok(a.flash, a.clock.now(), cert):
        a.security_event("InvalidFirmwareSigningCertificate")      # L01.FR.02
        return {"status": "InvalidCertificate"}
    j = a.fw_job
    if j is not None:
        if j.installing:
            return {"status": "Rejected"}
        j.task.cancel()
        a.fw_job = None
    nj = fwjob.Job(a, "201", fw["location"], p["requestId"], _when(fw.get("retrieveDateTime")),
                   _when(fw.get("installDateTime")), p.get("retries", 0),
                   p.get("retryInterval", 60), sig, cert)
    fwjob.start(a, nj)
    return {"status": "AcceptedCanceled" if j is not None else "Accepted"}
