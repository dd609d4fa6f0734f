"""Default answers: what a station expects of a reasonable CSMS.

The handlers are registered with the ocpp package's `@on` routing (so they land in
`ChargePoint.route_map`), but they take and return the wire payload: a camelCase
dict. `Link._handle_call` calls them as `handler(payload)` and sends the result
unchanged (after schema validation), which keeps any key spelling exact.
"""
import asyncio
from ocpp.routing import on

from .replies import utc_now

_ACCEPTED = {"status": "Accepted"}


def _empty(cls, actions):
    """Register `action -> {}` handlers for notifications whose response has no fields."""
    for action in actions:
        def handler(self, payload):
            return {}
        # @on records the function name globally; give each its own before decorating.
        handler.__name__ = handler.__qualname__ = "on_" + action
        setattr(cls, handler.__name__, on(action)(handler))
    return cls


class _Common:
    """Answers that are spelled the same in 1.6 and 2.0.1."""

    @on("BootNotification")
    def on_BootNotification(self, payload):
        return {"status": self._csms.boot_status, "currentTime": utc_now(),
                "interval": self._csms.boot_interval}

    @on("Heartbeat")
    def on_Heartbeat(self, payload):
        return {"currentTime": utc_now()}

    @on("DataTransfer")
    def on_DataTransfer(self, payload):
        return dict(_ACCEPTED)

    @on("SignCertificate")
    def on_SignCertificate(self, payload):
        signer = self._csms.signer
        if signer is None:
            return dict(_ACCEPTED)
        if not signer.check(payload["csr"]):
            return {"status": "Rejected"}
        asyncio.ensure_future(self._certificate_signed(signer, payload))
        return dict(_ACCEPTED)

    async def _certificate_signed(self, signer, payload):
        """The CA's answer, after the SignCertificate response is out."""
        await asyncio.sleep(0.2)
        pem = signer.sign(payload["csr"])
        p = {"certificateChain": pem}
        if self.version == "2.0.1":
            p["certificateType"] = payload.get("certificateType", "ChargingStationCertificate")
        signer.issued.append((self.station_id, pem))
        try:
            res = await self.call("CertificateSigned", p)
            self._csms._log_line(self.station_id, "**", "CertificateSigned: %s" % res.get("status"))
        except Exception as e:  # noqa: BLE001 - the link may be gone: logged, not raised
            self._csms._log_line(self.station_id, "**", "CertificateSigned failed: %r" % e)


class V16Defaults(_Common):
    @on("Authorize")
    def on_Authorize(self, payload):
        return {"idTagInfo": dict(_ACCEPTED)}

    @on("StartTransaction")
    def on_StartTransaction(self, payload):
        return {"transactionId": self._csms.next_transaction_id(),
                "idTagInfo": dict(_ACCEPTED)}

    @on("StopTransaction")
    def on_StopTransaction(self, payload):
        return {"idTagInfo": dict(_ACCEPTED)}


_empty(V16Defaults, (
    "StatusNotification", "MeterValues", "SecurityEventNotification",
    "DiagnosticsStatusNotification", "FirmwareStatusNotification",
    "LogStatusNotification", "SignedFirmwareStatusNotification"))


class V201Defaults(_Common):
    @on("Authorize")
    def on_Authorize(self, payload):
        return {"idTokenInfo": dict(_ACCEPTED)}

    @on("TransactionEvent")
    def on_TransactionEvent(self, payload):
        # E01-E03: idTokenInfo answers an idToken; without one there is nothing to say.
        if "idToken" in payload:
            return {"idTokenInfo": dict(_ACCEPTED)}
        return {}

    @on("NotifyEVChargingNeeds")
    def on_NotifyEVChargingNeeds(self, payload):
        return dict(_ACCEPTED)

    @on("NotifyEVChargingSchedule")
    def on_NotifyEVChargingSchedule(self, payload):
        return dict(_ACCEPTED)


_empty(V201Defaults, (
    "StatusNotification", "MeterValues", "NotifyReport", "NotifyEvent",
    "SecurityEventNotification", "FirmwareStatusNotification", "LogStatusNotification",
    "NotifyMonitoringReport", "NotifyChargingLimit", "ClearedChargingLimit",
    "ReportChargingProfiles", "NotifyCustomerInformation", "NotifyDisplayMessages",
    "PublishFirmwareStatusNotification", "ReservationStatusUpdate"))
