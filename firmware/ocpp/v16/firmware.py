"""OCPP 1.6 firmware management (loaded for the call): UpdateFirmware (5.19, the
FirmwareManagement profile) and the security extension's SignedUpdateFirmware (L01 of
the security whitepaper). The update itself: firmware.update.job."""
import firmware.clock as clk
from firmware.update import job as fwjob


def _when(text):
    try:
        return clk.parse_iso(text) if text else 0
    except ValueError:
        return 0


def _cancel(a):
    """A new request replaces the one under way, unless it is installing. -> True when
    one was cancelled, None when none ran, False when it could not be."""
    j = a.fw_job
    if j is None:
        return None
    if j.installing:
        return False
    j.task.cancel()
    a.fw_job = None
    return True


async def on_UpdateFirmware(a, p):
    """5.19: no status in the answer; FirmwareStatusNotification tells the rest."""
    if _cancel(a) is False:
        return {}
    fwjob.start(a, fwjob.Job(a, "16", p["location"], None, _when(p.get("retrieveDate")), 0,
                        p.get("retries", 0), p.get("retryInterval", 60)))
    return {}


async def on_SignedUpdateFirmware(a, p):
    from firmware.update import bundle
    fw = p["firmware"]
    if not bundle.cert_ok(a.flash, a.clock.now(), fw["signingCertificate"]):
        a.security_event("InvalidFirmwareSigningCertificate")
        return {"status": "InvalidCertificate"}
    was = _cancel(a)
    if was is False:
        return {"status": "Rejected"}
    fwjob.start(a, fwjob.Job(a, "16s", fw["location"], p["requestId"],
                        _when(fw.get("retrieveDateTime")), _when(fw.get("installDateTime")),
                        p.get("retries", 0), p.get("retryInterval", 60), fw["signature"],
                        fw["signingCertificate"]))
    return {"status": "AcceptedCanceled" if was else "Accepted"}
