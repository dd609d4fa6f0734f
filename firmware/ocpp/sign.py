"""Certificate signing in the adapters (firmware.certs.signing): the CSMS triggers it
(1.6 ExtendedTriggerMessage SignChargePointCertificate, 2.0.1 TriggerMessage
SignChargingStationCertificate), the station makes a key and a CSR (CN = its serial
number, else its identity; O = CpoName / SecurityCtrlr.OrganizationName) and sends
SignCertificate; CertificateSigned installs the chain once checked, or is Rejected
with an InvalidChargePointCertificate / InvalidChargingStationCertificate event. With
profile 3 in force the station reconnects to use the new certificate (A02.FR.07)."""
import asyncio
import time
import ocppj
from firmware import log

_TRIGGER16 = ("BootNotification", "Heartbeat", "MeterValues", "StatusNotification")


class SignMixin:
    _sign_busy = False

    def trigger_sign(self):
        if self._sign_busy:
            return "Rejected"
        self._sign_busy = True
        asyncio.create_task(self._sign_request())
        return "Accepted"

    async def _sign_request(self):
        """One CSR; SignCertificate again (the same CSR) when no CertificateSigned came
        within CertSigningWaitMinimum s, the wait doubled each time, at most
        CertSigningRepeatTimes more times (2.0.1 A02.FR.17-19, TC_A_23)."""
        try:
            from firmware.certs import signing      # on demand: not in the heap at boot
            c = self.cfg
            t0 = time.ticks_ms()
            pem = signing.request(self.flash, c.get("serial") or c["id"],
                                  self.settings.get("OrganizationName") or c["id"])
            log.info("certs", "key pair and CSR made in %d ms", time.ticks_diff(time.ticks_ms(), t0))
            p = {"csr": pem}
            if self.VERSION == "2.0.1":
                p["certificateType"] = "ChargingStationCertificate"
            self._signed = asyncio.Event()
            wait = self.settings.get("CertSigningWaitMinimum")
            for i in range(self.settings.get("CertSigningRepeatTimes") + 1):
                res = await self.send("SignCertificate", p)
                st = res and res.get("status")
                log.info("certs", "SignCertificate: %s", st)
                if st != "Accepted":
                    return
                try:
                    await asyncio.wait_for_ms(self._signed.wait(), wait * 1000)
                    return
                except asyncio.TimeoutError:
                    log.warn("certs", "no CertificateSigned within %d s", wait)
                    wait *= 2
        except (OSError, ValueError, ocppj.Disconnected, ocppj.Timeout) as e:
            log.error("certs", "signing request failed: %r", e)
        finally:
            self._sign_busy = False
            self._signed = None

    _signed = None

    async def on_ExtendedTriggerMessage(self, p):
        """1.6 security extension: SignChargePointCertificate, and the core messages
        TriggerMessage knows; the status notifications of firmware, diagnostics and
        logs are not implemented here."""
        msg = p["requestedMessage"]
        if msg == "SignChargePointCertificate":
            return {"status": self.trigger_sign()}
        if msg in _TRIGGER16:
            q = {"requestedMessage": msg}
            if p.get("connectorId") is not None:
                q["connectorId"] = p["connectorId"]
            return await self.on_TriggerMessage(q)
        return {"status": "NotImplemented"}

    async def on_CertificateSigned(self, p):
        from firmware.certs import signing
        kind = p.get("certificateType", "ChargingStationCertificate")
        ok, why = (False, "%s not supported" % kind) if kind != "ChargingStationCertificate" \
            else signing.install(self.flash, p["certificateChain"], self.clock.now())
        if not ok:
            log.warn("certs", "CertificateSigned rejected: %s", why)
            self.security_event("InvalidChargePointCertificate" if self.VERSION == "1.6"
                                else "InvalidChargingStationCertificate", why)
            return {"status": "Rejected"}
        log.info("certs", "station certificate installed")
        if self._signed is not None:
            self._signed.set()
        if self.np.profile() == 3:
            self.reconnect_soon()
        return {"status": "Accepted"}
