"""Certificate signing in the adapters (firmware.security.certs.signing): the CSMS triggers it
(1.6 ExtendedTriggerMessage SignChargePointCertificate, 2.0.1 TriggerMessage
SignChargingStationCertificate), the station makes a key and a CSR (CN = its serial
number, else its identity; O = CpoName / SecurityCtrlr.OrganizationName) and sends
SignCertificate; CertificateSigned installs the chain once checked, or is Rejected
with an InvalidChargePointCertificate / InvalidChargingStationCertificate event. With
profile 3 in force the station reconnects to use the new certificate (A02.FR.07).

Loaded for a call and unloaded after it (firmware.memory.call): functions of the adapter `a`,
whose state (csr_busy, _signed) lives on the adapter."""
from micropython import const
import asyncio
import time
import ocppj
from firmware import log

_TRIGGER16 = const(("BootNotification", "Heartbeat", "MeterValues", "StatusNotification"))


async def trigger(a):
    """-> "Accepted" (a CSR is on its way) or "Rejected" (one is already pending)."""
    if a.csr_busy:
        return "Rejected"
    a.csr_busy = True
    asyncio.create_task(_request(a))
    return "Accepted"


async def _request(a):
    """One CSR; SignCertificate again (the same CSR) when no CertificateSigned came
    within CertSigningWaitMinimum s, the wait doubled each time, at most
    CertSigningRepeatTimes more times (2.0.1 A02.FR.17-19, TC_A_23)."""
    try:
        from firmware.security.certs import signing      # on demand: not in the heap at boot
        c = a.cfg
        t0 = time.ticks_ms()
        pem = signing.request(a.flash, c.get("serial") or c["id"],
                              a.settings.get("OrganizationName") or c["id"])
        log.info("certs", "key pair and CSR made in %d ms", time.ticks_diff(time.ticks_ms(), t0))
        p = {"csr": pem}
        if a.VERSION == "2.0.1":
            p["certificateType"] = "ChargingStationCertificate"
        a.csr_signed = asyncio.Event()
        wait = a.settings.get("CertSigningWaitMinimum")
        for i in range(a.settings.get("CertSigningRepeatTimes") + 1):
            res = await a.send("SignCertificate", p)
            st = res and res.get("status")
            log.info("certs", "SignCertificate: %s", st)
            if st != "Accepted":
                return
            try:
                await asyncio.wait_for_ms(a.csr_signed.wait(), wait * 1000)
                return
            except asyncio.TimeoutError:
                log.warn("certs", "no CertificateSigned within %d s", wait)
                wait *= 2
    except (OSError, ValueError, ocppj.Disconnected, ocppj.Timeout) as e:
        log.error("certs", "signing request failed: %r", e)
    finally:
        a.csr_busy = False
        a.csr_signed = None


async def on_ExtendedTriggerMessage(a, p):
    """1.6 security extension: SignChargePointCertificate, LogStatusNotification
    (base.Adapter.send_triggered), and the core messages TriggerMessage knows; the
    firmware status notification is not implemented here."""
    msg = p["requestedMessage"]
    if msg == "SignChargePointCertificate":
        return {"status": await trigger(a)}
    if msg == "FirmwareStatusNotification":    # the extension's: SignedFirmwareStatusNotification
        a.trigger("SignedFirmwareStatusNotification")       # (firmware.update.job.send)
        return {"status": "Accepted"}
    if msg == "LogStatusNotification":              # firmware.ocpp.diag's status
        a.trigger(msg)
        return {"status": "Accepted"}
    if msg in _TRIGGER16:
        q = {"requestedMessage": msg}
        if p.get("connectorId") is not None:
            q["connectorId"] = p["connectorId"]
        return await a.on_TriggerMessage(q)
    return {"status": "NotImplemented"}


async def on_CertificateSigned(a, p):
    from firmware.security.certs import signing
    kind = p.get("certificateType", "ChargingStationCertificate")
    ok, why = (False, "%s not supported" % kind) if kind != "ChargingStationCertificate" \
        else signing.install(a.flash, p["certificateChain"], a.clock.now())
    if not ok:
        log.warn("certs", "CertificateSigned rejected: %s", why)
        a.security_event("InvalidChargePointCertificate" if a.VERSION == "1.6"
                         else "InvalidChargingStationCertificate", why)
        return {"status": "Rejected"}
    log.info("certs", "station certificate installed")
    if a.csr_signed is not None:
        a.csr_signed.set()
    if a.np.profile() == 3:
        a.reconnect_soon()
    return {"status": "Accepted"}
