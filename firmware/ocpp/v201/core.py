"""OCPP 2.0.1 adapter: provisioning (B), availability (G), meter values (J), reset and
remote trigger (F06) on top of the shared Adapter."""
from micropython import const
import time
import ocppj
from firmware.evse import evse as kernel
from firmware.evse.pilot import CP_A
from firmware import memory
from firmware.ocpp import base
from firmware.ocpp.base import faulted, ERROR_CODES
from firmware.ocpp.v201 import schema
from firmware.ocpp.v201.tx import Tx201

# B02/B03 (OCTT TC_B_02, TC_B_30): what a Pending station serves; the rest SecurityError.
_PENDING_OK = const(("GetVariables", "SetVariables", "GetBaseReport", "TriggerMessage", "Reset",
                     "ChangeAvailability", "RequestStartTransaction"))
_TRIGGERABLE = const(("BootNotification", "Heartbeat", "MeterValues", "StatusNotification",
                      "FirmwareStatusNotification", "LogStatusNotification"))


def _security_error():
    raise ocppj.CallError("SecurityError", "Not accepted by the CSMS")


_ADAPTER = const("")                          # the adapter's own method on_<Action>
_CERTS = const("firmware.ocpp.v201.certs")    # modules loaded for the call (on_<Action>)
_SIGN = const("firmware.ocpp.sign")
_NETWORK = const("firmware.ocpp.v201.network")
_VARS = const("firmware.ocpp.v201.variables")
_RESERVE = const("firmware.ocpp.v201.reserve")
_FIRMWARE = const("firmware.ocpp.v201.firmware")
_DT = const("firmware.ocpp.datatransfer")
_DIAG = const("firmware.ocpp.diag")
_SMART = const("firmware.ocpp.v201.smart")
_CUSTOMER = const("firmware.ocpp.v201.customer")


class Adapter201(Tx201, base.Adapter):
    VERSION = "2.0.1"
    PROTOCOL = "ocpp2.0.1"
    REQUESTS = schema.REQUESTS
    RESPONSES = schema.RESPONSES
    PRELOAD_NAMES = (_VARS,)       # firmware.main.preload
    # Every request a 2.0.1 CSMS may send -> its handler (base.Adapter.route): None
    # answers NotImplemented on purpose. A new message is one line here and an
    # on_<Action>; docs/ocpp.md lists this table (tests/unit/test_routes.py checks both).
    ROUTES = (
        ("CancelReservation", _RESERVE),             # H: reservations
        ("CertificateSigned", _SIGN),
        ("ChangeAvailability", _ADAPTER),
        ("ClearCache", _ADAPTER),                    # firmware.ocpp.txbase
        ("ClearChargingProfile", _SMART),
        ("ClearDisplayMessage", None),               # O: display messages
        ("ClearVariableMonitoring", None),           # N: monitoring
        ("CostUpdated", None),                       # I: tariff and cost
        ("CustomerInformation", _CUSTOMER),          # N09/N10: customer information
        ("DataTransfer", _DT),                       # firmware/vendor.py registry
        ("DeleteCertificate", _CERTS),
        ("GetBaseReport", _VARS),
        ("GetChargingProfiles", _SMART),
        ("GetCompositeSchedule", _SMART),
        ("GetDisplayMessages", None),                # O: display messages
        ("GetInstalledCertificateIds", _CERTS),
        ("GetLocalListVersion", _ADAPTER),           # v201.tx
        ("GetLog", _DIAG),                           # N01: logs
        ("GetMonitoringReport", None),               # N: monitoring
        ("GetReport", None),                         # B08: custom reports
        ("GetTransactionStatus", _ADAPTER),          # v201.tx
        ("GetVariables", _VARS),
        ("InstallCertificate", _CERTS),
        ("PublishFirmware", None),                   # L: firmware
        ("RequestStartTransaction", _ADAPTER),       # v201.tx
        ("RequestStopTransaction", _ADAPTER),        # v201.tx
        ("ReserveNow", _RESERVE),                    # H: reservations
        ("Reset", _ADAPTER),
        ("SendLocalList", _ADAPTER),                 # v201.tx
        ("SetChargingProfile", _SMART),
        ("SetDisplayMessage", None),                 # O: display messages
        ("SetMonitoringBase", None),                 # N: monitoring
        ("SetMonitoringLevel", None),                # N: monitoring
        ("SetNetworkProfile", _NETWORK),
        ("SetVariableMonitoring", None),             # N: monitoring
        ("SetVariables", _VARS),
        ("TriggerMessage", _ADAPTER),
        ("UnlockConnector", _ADAPTER),               # v201.tx
        ("UnpublishFirmware", None),                 # L: firmware
        ("UpdateFirmware", _FIRMWARE),               # L: firmware
    )

    def __init__(self, station, *a, **kw):
        self._remote_ids = {}           # evse id -> remoteStartId of a pending RequestStart
        self._token_types = {}          # idToken -> the IdTokenEnumType it came with (v201.tx)
        self._problems = []             # (evse id, error bits, cleared) for NotifyEvent
        self._event_id = 0
        self._event_seq = 0
        self._avail_told = None         # AvailabilityState per connector (0: station) told
        self._resv_updates = []         # (id, "Expired" | "Removed") for ReservationStatusUpdate
        base.Adapter.__init__(self, station, *a, **kw)
        station.iso_handler = self      # firmware.evse.iso15118: an ISO 15118 stack's messages

    async def iso_call(self, action, payload):
        """The OCPP 2.0.1 side of firmware.evse.iso15118: Get15118EVCertificate and
        GetCertificateStatus sent for an ISO 15118 stack, answered with the CSMS's response,
        or status Failed with a reason (offline, no answer within MessageTimeout, a
        CALLERROR). Not journalled: the EV waits for the answer now, a late one is useless."""
        if not self._online():
            return {"status": "Failed", "reason": "offline"}
        try:
            res = await self.call(action, payload)
        except ocppj.CallError as e:
            return {"status": "Failed", "reason": "%s %s" % (e.code, e.description)}
        except (ocppj.Timeout, ocppj.Disconnected) as e:
            return {"status": "Failed", "reason": repr(e)}
        from firmware import log
        log.info("iso", "%s: %s", action, res.get("status"))
        return res

    def on_kernel_event(self, eid, event, data):
        if event in ("ErrorRaised", "ErrorCleared") and len(self._problems) < 8:
            self._problems.append((eid, data, event == "ErrorCleared"))
        elif event == "ReservationEnd" and data[1] in ("Expired", "Removed") and \
                len(self._resv_updates) < 8:
            self._resv_updates.append(data)        # H04: the CSMS did not end it itself
        elif event in ("PluginTimeout", "SessionFinished", "AuthRequired") and eid in self._remote_ids \
                and not (event == "SessionFinished" and self.station.evse(eid).next_auth):
            # (a start given while the old session ended is the next one's: Evse.authorize)
            # F01/F02: a remote start refused (AuthorizeRemoteStart) or timed out names
            # no later session
            from firmware import log
            log.info("tx", "evse %d: remoteStartId %d dropped (%s)", eid, self._remote_ids.pop(eid), event)

    async def send_notifications(self):
        """Availability changes (below), then kernel errors as NotifyEvent (2.0.1 N07):
        component Connector of the EVSE, variable Problem, techCode = the error (the 1.6
        errorCode spelling)."""
        await self._send_availability()
        while self._resv_updates:
            rid, why = self._resv_updates[0]
            await self.send("ReservationStatusUpdate", {"reservationId": rid,
                                                        "reservationUpdateStatus": why})
            self._resv_updates.pop(0)
        while self._problems:
            eid, bits, cleared = self._problems[0]
            data = []
            for bit, code in ERROR_CODES:
                if bits & bit:
                    self._event_id += 1
                    d = {"eventId": self._event_id, "timestamp": self.clock.iso(),
                         "trigger": "Delta", "actualValue": "false" if cleared else "true",
                         "techCode": code, "eventNotificationType": "HardWiredNotification",
                         "component": {"name": "Connector", "evse": {"id": eid, "connectorId": 1}},
                         "variable": {"name": "Problem"}}
                    if cleared:
                        d["cleared"] = True
                    data.append(d)
            if data:
                await self.send("NotifyEvent", {"generatedAt": self.clock.iso(),
                                                "seqNo": self._event_seq, "eventData": data})
                self._event_seq += 1
            self._problems.pop(0)

    async def _send_availability(self):
        """AvailabilityState as NotifyEvent beside each StatusNotification (2.0.1 G01 and
        Part 2 Appendix: AvailabilityState replicates the connector status; the errata
        2023-12 [699] and OCTT TC_E_14/17/24/25, TC_F_23/24 accept either message, OCPP
        plans the NotifyEvent as the successor). trigger Delta, HardWiredNotification (no
        monitor involved, so no variable gates it): the Connector and the EVSE of each
        connector whose StatusNotification went out with a new status (or was triggered),
        then the ChargingStation when ChangeAvailability changed it. It follows what the
        CSMS was told (self._sent, base._send_status), so offline periods too."""
        told = self._avail_told
        if told is None:
            told = self._avail_told = [None] * (self._n + 1)
        now = self.clock.iso()
        data = []
        new = []
        for k in range(1, self._n + 2):         # the connectors, then the station (0)
            if k > self._n:
                k = 0
                st = "Available" if self.station.avail[0] else "Unavailable"
            else:
                st = self._sent[k]
                if st is None:
                    continue                    # its StatusNotification is still due
            if st == told[k]:
                continue
            new.append((k, st))
            comps = (("Connector", {"id": k, "connectorId": 1}), ("EVSE", {"id": k})) if k \
                else (("ChargingStation", None),)
            for name, evse in comps:
                self._event_id += 1
                c = {"name": name}
                if evse:
                    c["evse"] = evse
                data.append({"eventId": self._event_id, "timestamp": now, "trigger": "Delta",
                             "actualValue": st, "eventNotificationType": "HardWiredNotification",
                             "component": c, "variable": {"name": "AvailabilityState"}})
        if data:
            await self.send("NotifyEvent", {"generatedAt": now, "seqNo": self._event_seq,
                                            "eventData": data})
            self._event_seq += 1
            for k, st in new:                   # told once sent (a lost link: again)
                told[k] = st

    # ------------------------------------------------------------ messages
    def boot_payload(self, reason=None):
        c = self.cfg
        cs = {"model": c.get("model", "MicroEVSE")[:20],
              "vendorName": c.get("vendor", "MicroEVSE")[:50],
              "firmwareVersion": self.firmware_version()}
        if c.get("serial"):
            cs["serialNumber"] = c["serial"][:25]
        return {"reason": reason or self.boot_reason(), "chargingStation": cs}

    def after_connect(self):
        """B04: offline longer than OfflineThreshold -> status of every connector."""
        t = self._t_offline
        if t is not None and time.ticks_diff(time.ticks_ms(), t) > \
                self.settings.get("OfflineThreshold") * 1000:
            for k in range(self._n + 1):
                self._sent[k] = None

    def first_connector(self):
        return 1                        # no StatusNotification for evseId 0

    def status(self, k):
        """ConnectorStatusEnumType derived from the kernel."""
        e = self.station.evse(k)
        if faulted(e):
            return "Faulted"
        if e.state == kernel.DISABLED:
            return "Unavailable"
        if e.state == kernel.IDLE and e.cp == CP_A:
            return "Available" if e.reserved() is None else "Reserved"
        return "Occupied"

    def status_payload(self, k, st):
        return {"timestamp": self.clock.iso(), "connectorStatus": st, "evseId": k,
                "connectorId": 1}

    def meter_payload(self, k, context, measurands):
        sv = []
        for m, phase, v, unit in self.values(k, measurands):
            x = {"value": v, "context": context, "measurand": m, "unitOfMeasure": {"unit": unit}}
            if phase:
                x["phase"] = phase
            sv.append(x)
        return {"evseId": k,
                "meterValue": [{"timestamp": self.clock.iso(), "sampledValue": sv}]}

    def sample_interval(self):
        s = self.settings
        return s.get("MeterValueSampleInterval") if s.get("SampledDataEnabled") else 0

    def aligned_interval(self):
        s = self.settings
        return s.get("ClockAlignedDataInterval") if s.get("AlignedDataEnabled") else 0

    # ------------------------------------------------------------ registration gate
    def gate(self, action):
        r = self.registration
        if r == base.REJECTED or r == base.REG_NONE:
            return _security_error
        if r == base.PENDING:
            if action == "RequestStartTransaction":
                return lambda: {"status": "Rejected"}
            if action not in _PENDING_OK:
                return _security_error
        return None

    # ------------------------------------------------------------ CSMS requests
    async def send_requested(self):
        if self.report is not None:                    # GetBaseReport accepted it
            await memory.call(_VARS, "send_report", self)

    async def on_ChangeAvailability(self, p):
        ev = p.get("evse")
        k = 0
        if ev:
            k = ev["id"]
            if k > self._n or ev.get("connectorId", 1) != 1:
                return {"status": "Rejected"}
        return {"status": self.station.change_availability(k, p["operationalStatus"] == "Operative")}

    async def on_Reset(self, p):
        if p.get("evseId") is not None:
            return {"status": "Rejected"}       # reset of one EVSE is not supported
        if p["type"] == "OnIdle" and self.station.busy():
            self.request_reset("ScheduledReset", when_idle=True)
            return {"status": "Scheduled"}
        self.request_reset("RemoteReset", when_idle=False)
        return {"status": "Accepted"}

    async def on_TriggerMessage(self, p):
        msg = p["requestedMessage"]
        if msg == "SignChargingStationCertificate":     # A02 (firmware/ocpp/sign.py)
            return {"status": await memory.call(_SIGN, "trigger", self)}
        ev = p.get("evse")
        k = None
        if ev:
            k = ev["id"]
            if not (0 <= k <= self._n) or ev.get("connectorId", 1) != 1:
                return {"status": "Rejected"}
            if msg == "StatusNotification" and k == 0:
                return {"status": "Rejected"}
        if msg == "TransactionEvent":             # no transaction running there: Rejected
            return {"status": "Accepted" if self.tx_trigger(k or None) else "Rejected"}
        if msg not in _TRIGGERABLE:
            return {"status": "NotImplemented"}
        if msg == "BootNotification" and self.registration == base.ACCEPTED:
            return {"status": "Rejected"}       # F06.FR.17
        told = self._avail_told
        if msg == "StatusNotification" and told:    # its NotifyEvent follows it again
            for i in range(1, self._n + 1) if k is None else (k,):
                told[i] = None
        self.trigger(msg, k)
        return {"status": "Accepted"}
