"""OCPP 1.6J adapter: Core and RemoteTrigger profiles on top of the shared Adapter."""
from micropython import const
from firmware.evse import evse as kernel
from firmware.ocpp import base
from firmware.ocpp.base import error_code, faulted
from firmware.ocpp.v16 import schema
from firmware.ocpp.v16.tx import Tx16

_IN_SESSION_PENDING_REJECT = const(("RemoteStartTransaction", "RemoteStopTransaction"))
_TRIGGERABLE = const(("BootNotification", "Heartbeat", "MeterValues", "StatusNotification",
                      "FirmwareStatusNotification", "DiagnosticsStatusNotification"))


def _no_reply():
    return None


_ADAPTER = const("")                          # the adapter's own method on_<Action>
_CERTS = const("firmware.ocpp.v16.certs")     # modules loaded for the call (on_<Action>)
_SIGN = const("firmware.ocpp.sign")
_CONFIG = const("firmware.ocpp.v16.config")
_RESERVE = const("firmware.ocpp.v16.reserve")
_FIRMWARE = const("firmware.ocpp.v16.firmware")
_DT = const("firmware.ocpp.datatransfer")
_DIAG = const("firmware.ocpp.diag")
_SMART = const("firmware.ocpp.v16.smart")


class Adapter16(Tx16, base.Adapter):
    VERSION = "1.6"
    PROTOCOL = "ocpp1.6"
    REQUESTS = schema.REQUESTS
    RESPONSES = schema.RESPONSES
    PRELOAD_NAMES = (_CONFIG,)       # firmware.main.preload
    # Every request a 1.6 central system may send (Core, the other feature profiles and
    # the security extension) -> its handler (base.Adapter.route): None answers
    # NotImplemented on purpose. A new message is one line here and an on_<Action>;
    # docs/ocpp.md lists this table (tests/unit/test_routes.py checks both).
    ROUTES = (
        ("CancelReservation", _RESERVE),             # Reservation profile
        ("CertificateSigned", _SIGN),
        ("ChangeAvailability", _ADAPTER),
        ("ChangeConfiguration", _CONFIG),
        ("ClearCache", _ADAPTER),                    # firmware.ocpp.txbase
        ("ClearChargingProfile", _SMART),
        ("DataTransfer", _DT),                       # firmware/vendor.py registry
        ("DeleteCertificate", _CERTS),
        ("ExtendedTriggerMessage", _SIGN),
        ("GetCompositeSchedule", _SMART),
        ("GetConfiguration", _CONFIG),
        ("GetDiagnostics", _DIAG),                   # FirmwareManagement profile
        ("GetInstalledCertificateIds", _CERTS),
        ("GetLocalListVersion", _ADAPTER),           # v16.tx
        ("GetLog", _DIAG),                           # security extension: logs
        ("InstallCertificate", _CERTS),
        ("RemoteStartTransaction", _ADAPTER),        # v16.tx
        ("RemoteStopTransaction", _ADAPTER),         # v16.tx
        ("ReserveNow", _RESERVE),                    # Reservation profile
        ("Reset", _ADAPTER),
        ("SendLocalList", _ADAPTER),                 # v16.tx
        ("SetChargingProfile", _SMART),
        ("SignedUpdateFirmware", _FIRMWARE),         # security extension: firmware
        ("TriggerMessage", _ADAPTER),
        ("UnlockConnector", _ADAPTER),               # v16.tx
        ("UpdateFirmware", _FIRMWARE),               # FirmwareManagement profile
    )

    def __init__(self, *a, **kw):
        self._reset_kind = "Reboot"     # the stop reason of a CSMS Reset (Hard/SoftReset)
        base.Adapter.__init__(self, *a, **kw)

    # ------------------------------------------------------------ messages
    def boot_payload(self, reason=None):
        c = self.cfg
        p = {"chargePointVendor": c.get("vendor", "MicroEVSE")[:20],
             "chargePointModel": c.get("model", "MicroEVSE")[:20],
             "firmwareVersion": self.firmware_version()}
        if c.get("serial"):
            p["chargePointSerialNumber"] = c["serial"][:25]
        return p

    def status(self, k):
        """(status, errorCode), OCPP 1.6 4.9 / 7.7, derived from the kernel."""
        st = self.station
        if k == 0:
            return ("Available" if st.avail[0] else "Unavailable", "NoError")
        e = st.evse(k)
        code = error_code(e.errors)
        if faulted(e):
            return ("Faulted", code)
        s = e.state
        if s == kernel.DISABLED:
            return ("Unavailable", code)
        if s == kernel.IDLE:
            if e.authorized:
                return ("Preparing", code)
            return ("Reserved" if e.reserved() is not None else "Available", code)
        if s in (kernel.WAIT_AUTH, kernel.PREPARE):
            return ("Preparing", code)
        if s == kernel.CHARGING:
            return ("Charging", code)
        if s == kernel.PAUSED_EV:
            return ("SuspendedEV", code)
        if s == kernel.PAUSED_EVSE:
            return ("SuspendedEVSE", code)
        if s == kernel.STOPPING:
            return ("SuspendedEVSE" if e.authorized else "Finishing", code)
        return ("Finishing", code)

    def status_payload(self, k, st):
        return {"connectorId": k, "errorCode": st[1], "status": st[0],
                "timestamp": self.clock.iso()}

    def meter_payload(self, k, context, measurands):
        sv = []
        for m, phase, v, unit in self.values(k, measurands):
            x = {"value": str(v), "context": context, "measurand": m, "unit": unit}
            if phase:
                x["phase"] = phase
            sv.append(x)
        return {"connectorId": k,
                "meterValue": [{"timestamp": self.clock.iso(), "sampledValue": sv}]}

    # ------------------------------------------------------------ registration gate
    def gate(self, action):
        """1.6 4.2.1: Rejected (or not yet answered): no answers at all. Pending: config
        and trigger calls are served, remote start/stop refused."""
        r = self.registration
        if r == base.REJECTED or r == base.REG_NONE:
            return _no_reply
        if r == base.PENDING and action in _IN_SESSION_PENDING_REJECT:
            return lambda: {"status": "Rejected"}
        return None

    # ------------------------------------------------------------ CSMS requests
    async def on_ChangeAvailability(self, p):
        k = p["connectorId"]
        if k > self._n:
            return {"status": "Rejected"}
        return {"status": self.station.change_availability(k, p["type"] == "Operative")}

    async def on_Reset(self, p):
        # Hard and Soft both end transactions (reason HardReset / SoftReset) and reboot.
        self._reset_kind = "HardReset" if p["type"] == "Hard" else "SoftReset"
        self.request_reset("RemoteReset", when_idle=False)
        return {"status": "Accepted"}

    def reset_stop_reason(self, reason):
        return self._reset_kind

    async def on_TriggerMessage(self, p):
        msg = p["requestedMessage"]
        k = p.get("connectorId")
        if k is not None and not (0 <= k <= self._n):
            return {"status": "Rejected"}
        if msg not in _TRIGGERABLE:
            return {"status": "NotImplemented"}
        if msg == "BootNotification" and self.registration == base.ACCEPTED:
            return {"status": "Rejected"}       # 1.6 errata 3.35: not after Accepted
        self.trigger(msg, k)
        return {"status": "Accepted"}
