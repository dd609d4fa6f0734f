"""OCPP 2.0.1 transactions and authorization (E, F, C blocks): TransactionEvent
Started/Updated/Ended with seqNo and the offline flag, TxStartPoint / TxStopPoint,
RequestStart/StopTransaction, GetTransactionStatus, Authorize, UnlockConnector,
ClearCache, SendLocalList, GetLocalListVersion."""
import asyncio
import os
import time
import binascii
from firmware import memory
from firmware.clock import parse_iso
from firmware.evse import evse as kernel
from firmware.evse.pilot import CP_A, CP_B, CP_D
from firmware.ocpp.txbase import TxMixin
from firmware.ocpp.base import faulted

_CHARGING_STATE = {kernel.CHARGING: "Charging", kernel.PAUSED_EV: "SuspendedEV",
                   kernel.PAUSED_EVSE: "SuspendedEVSE", kernel.STOPPING: "SuspendedEVSE"}
# stoppedReason -> triggerReason of the Ended event
_TRIGGER = {"EVDisconnected": "EVCommunicationLost", "Remote": "RemoteStop",
            "Local": "StopAuthorized", "DeAuthorized": "Deauthorized",
            "ImmediateReset": "ResetCommand", "PowerLoss": "AbnormalCondition",
            "Reboot": "AbnormalCondition", "UnlockCommand": "UnlockCommand",
            "Other": "AbnormalCondition", "EmergencyStop": "AbnormalCondition",
            "Timeout": "EVConnectTimeout"}


_NO_AUTH = {"idToken": "", "type": "NoAuthorization"}


def _info(tok_info):
    exp = tok_info.get("cacheExpiryDateTime")
    try:
        exp = parse_iso(exp) if exp else None
    except ValueError:
        exp = None
    grp = tok_info.get("groupIdToken")
    return {"status": tok_info.get("status", "Invalid"), "expiry": exp,
            "parent": grp.get("idToken") if grp else None}


def _charging_state(e):
    if e.cp == CP_A:
        return "Idle"                   # no EV (a transaction kept over an EV-side unplug)
    if e.state in _CHARGING_STATE:
        return _CHARGING_STATE[e.state]
    if e.state == kernel.PREPARE and e.cp == CP_B:
        return "SuspendedEV"            # TC_E_38: authorized, offered, the EV not ready
    return "EVConnected" if CP_B <= e.cp <= CP_D else "Idle"


class Tx201(TxMixin):
    # ------------------------------------------------------------ start / stop points
    def _points(self, name):
        return self.settings.get(name).split(",")

    def start_condition(self, e, event):
        """E01: the transaction starts at the first configured TxStartPoint reached."""
        pts = self._points("TxStartPoint")
        plugged = CP_B <= e.cp <= CP_D
        if "EVConnected" in pts and plugged and e.in_session():
            return True
        if "Authorized" in pts and e.authorized:
            return True
        if "PowerPathClosed" in pts and plugged and e.authorized and e.in_session():
            return True
        if "EnergyTransfer" in pts and e.relay_on:
            return True
        return False

    def may_hold_on_unplug(self):
        """StopTxOnEVSideDisconnect=false keeps the transaction only when no TxStopPoint
        is reached by the EV leaving: EVConnected and PowerPathClosed (EV connected and
        authorized) end it (E10; TC_E_20, TC_E_37 end it, TC_E_26 needs Authorized only)."""
        pts = self._points("TxStopPoint")
        return "EVConnected" not in pts and "PowerPathClosed" not in pts

    def ends_on_stop(self):
        pts = self._points("TxStopPoint")
        return "Authorized" in pts or "PowerPathClosed" in pts or "EnergyTransfer" in pts

    # ------------------------------------------------------------ events
    def _event(self, eid, t, etype, trigger, e, extra=None, droppable=False, meter=None,
               id_token=None):
        info = {"transactionId": t["id"], "chargingState": _charging_state(e)}
        if extra:
            info.update(extra)
        p = {"eventType": etype, "timestamp": self.clock.iso(), "triggerReason": trigger,
             "seqNo": t["seq"], "transactionInfo": info}
        if not self._online():
            p["offline"] = True
        if t["seq"] == 0 or etype != "Updated" or trigger == "Trigger":
            p["evse"] = {"id": eid, "connectorId": 1}
        if meter:
            p["meterValue"] = meter
        if id_token is not None:
            p["idToken"] = id_token if isinstance(id_token, dict) else self._id_token_obj(id_token)
        rv = e.resv_used
        if rv is not None and t.get("rv") != rv:
            p["reservationId"] = rv             # H01.FR.17: the reservation this tx used
        else:
            rv = None
        self.txq.put("TransactionEvent", p, droppable=droppable)
        t["seq"] += 1                       # journal first, state right after (_recover)
        if rv is not None:
            t["rv"] = rv
        if etype != "Ended":
            self._tx_save()
        return p

    def _id_token_obj(self, tag):
        """IdTokenType of a token: the type it came with (RequestStartTransaction: Central,
        eMAID, ...; remembered in _token_types and in the transaction), else an RFID card
        (ISO14443), or Central for the free-charging id."""
        typ = self._token_types.get(tag)
        if typ is None:
            for t in self._tx.values():
                if t.get("tt") and tag in (t.get("tag"), t.get("stop_tag")):
                    typ = t["tt"]
        if typ is None:
            typ = "Central" if tag == self.cfg.get("free_id", "FreeCharging") else "ISO14443"
        return {"idToken": tag, "type": typ}

    def _token_type(self, tag, typ):
        """Remember the type a token came with (bounded: the latest few)."""
        if len(self._token_types) >= 4:
            self._token_types.clear()
        self._token_types[tag] = typ

    def _keep_type(self, t, tag):
        typ = self._token_types.get(tag)
        if typ is not None:
            t["tt"] = typ

    _remote_ids = None
    _token_types = None

    def tx_begin(self, eid, e, event, data=None):
        tid = binascii.hexlify(os.urandom(8)).decode()
        tag = e.token
        free = e.authorized and not tag             # free charging: nobody to name
        t = {"id": tid, "tag": tag, "start_wh": int(e.energy_wh), "seq": 0,
             "auth_sent": bool(tag) or free, "state": _charging_state(e)}
        self._keep_type(t, tag)
        self._tx[str(eid)] = t
        # the start point just reached names the trigger (E01-E03)
        if event == "ChargingStarted":
            trigger = "ChargingStateChanged"
        elif event == "SessionStarted" and data == "EVConnected" or free or not e.authorized:
            trigger = "CablePluggedIn"
        else:
            trigger = "Authorized"
        extra = {}
        remote = self._remote_ids.pop(eid, None)
        if remote is not None:
            extra["remoteStartId"] = remote
            trigger = "RemoteStart"
        reg = "Energy.Active.Import.Register"     # first: meterStart (tx_record)
        ms = [reg] + [m for m in self.settings.measurands("TxStartedMeasurands") if m != reg]
        p_meter = self.meter_payload(eid, "Transaction.Begin", ms)["meterValue"]
        try:
            self._event(eid, t, "Started", trigger, e, extra, meter=p_meter,
                        id_token=_NO_AUTH if free else tag)
        except Exception:
            if t["seq"] == 0:           # not journaled: not started (the caller tries again)
                del self._tx[str(eid)]
                if remote is not None:
                    self._remote_ids[eid] = remote
            raise
        self._t_txs[eid] = time.ticks_ms()

    def tx_update(self, eid, e, event, data):
        t = self.tx(eid)
        seq = t["seq"]
        if e.authorized and not t.get("auth_sent"):
            t["auth_sent"] = True
            t["tag"] = e.token
            self._keep_type(t, e.token)
            remote = self._remote_ids.pop(eid, None)     # F01: cable plugged in first
            try:
                if remote is None:
                    self._event(eid, t, "Updated", "Authorized", e, id_token=e.token)
                else:
                    self._event(eid, t, "Updated", "RemoteStart", e, {"remoteStartId": remote},
                                id_token=e.token)
            except MemoryError:
                if t["seq"] == seq:     # not journaled: sent when the kernel calls again
                    t["auth_sent"] = False
                    if remote is not None:
                        self._remote_ids[eid] = remote
                raise
            return
        st = _charging_state(e)
        old = t.get("state")
        if st != old:
            t["state"] = st
            # E10: an EV-side unplug the transaction is kept over (StopTxOnEVSideDisconnect
            # false) is the EV lost, not a charging state the EV chose
            try:
                self._event(eid, t, "Updated", "EVCommunicationLost" if e.cp == CP_A
                            else "ChargingStateChanged", e)
            except MemoryError:
                if t["seq"] == seq:     # not journaled: sent when the kernel calls again
                    t["state"] = old    # (Station.emit keeps the event for the next poll)
                raise

    def tx_end(self, eid, e, reason, t=None):
        """End the running transaction on eid, or `t` (a stale one, not in _tx)."""
        stale = t is not None
        if t is None:
            t = self.tx(eid)
            if t is None:
                return
        ms = self.settings.measurands("StopTxnSampledData") or ["Energy.Active.Import.Register"]
        meter = list(t.get("al") or ()) + list(t.get("en") or ()) + \
            self.meter_payload(eid, "Transaction.End", ms)["meterValue"]
        # a transaction stopped earlier but ending at the unplug (TxStopPoint EVConnected):
        # the EV lost is the trigger, the stop the reason (TC_E_14)
        trig = "EVCommunicationLost" if t.get("unplug") and not stale else \
            _TRIGGER.get(reason, "AbnormalCondition")
        self._event(eid, t, "Ended", trig, e,
                    {"stoppedReason": reason}, meter=meter, id_token=t.get("stop_tag"))
        if not stale:
            self._tx.pop(str(eid), None)
        self._tx_save()

    # ------------------------------------------------------------ power-cut recovery
    def tx_record(self, rec):
        """A journal record -> (key, "S"|"E"|"U", evse, tag, meterStart, seq) or None."""
        if rec["a"] != "TransactionEvent":
            return None
        p = rec["p"]
        et = p.get("eventType")
        kind = "S" if et == "Started" else "E" if et == "Ended" else "U"
        eid = tag = None
        wh = 0
        if kind == "S":
            eid = (p.get("evse") or {}).get("id")
            tag = (p.get("idToken") or {}).get("idToken") or None
            try:
                wh = int(p["meterValue"][0]["sampledValue"][0]["value"])
            except (KeyError, IndexError, TypeError, ValueError):
                wh = 0
        return p["transactionInfo"]["transactionId"], kind, eid, tag, wh, p.get("seqNo")

    def tx_key(self, t):
        return t.get("id")

    def tx_adopt(self, key, tag, wh):
        return {"id": key, "tag": tag, "start_wh": wh, "seq": 1, "auth_sent": True,
                "state": "EVConnected"}

    def tx_sample(self, e):
        t = self.tx(e.id)
        meter = self.meter_payload(e.id, "Sample.Periodic", self.sampled_measurands())["meterValue"]
        self._event(e.id, t, "Updated", "MeterValuePeriodic", e, droppable=True, meter=meter)

    def tx_trigger(self, eid):
        """F06 TriggerMessage TransactionEvent: an Updated event (Trigger, with the EVSE
        and meter values of context Trigger) for the running transaction of EVSE eid
        (None: of every EVSE) -> how many were queued (TC_F_13, TC_F_14)."""
        n = 0
        for e in self.station.evses:
            t = self.tx(e.id)
            if t is None or (eid and e.id != eid):
                continue
            meter = self.meter_payload(e.id, "Trigger", self.sampled_measurands())["meterValue"]
            self._event(e.id, t, "Updated", "Trigger", e, meter=meter)
            n += 1
        return n

    def tx_aligned(self, e):
        """E02: clock-aligned values of a running transaction (MeterValueClock)."""
        t = self.tx(e.id)
        if not self.settings.get("AlignedDataSendDuringIdle"):     # J01 (TC_J_06)
            meter = self.meter_payload(e.id, "Sample.Clock",
                                       self.settings.measurands("MeterValuesAlignedData"))["meterValue"]
            self._event(e.id, t, "Updated", "MeterValueClock", e, droppable=True, meter=meter)
        self._keep_aligned(t, e)

    def tx_prepare(self, rec):
        return rec["a"], rec["p"]

    def tx_delivered(self, rid, rec, res):
        """C10/C12/E05: the idTokenInfo of a TransactionEventResponse updates the cache
        and may deauthorize the transaction (txbase.tx_token_info)."""
        if res is None or rec["a"] != "TransactionEvent" or not res.get("idTokenInfo"):
            return
        p = rec["p"]
        tok = (p.get("idToken") or {}).get("idToken")
        tid = p["transactionInfo"]["transactionId"]
        eid = None
        for key, t in self._tx.items():
            if t.get("id") == tid:
                eid = int(key)
        self.tx_token_info(eid, tok, _info(res["idTokenInfo"]))

    def reset_stop_reason(self, reason):
        return "ImmediateReset"

    async def authorize_online(self, token):
        res = await self.call("Authorize", {"idToken": self._id_token_obj(token)})
        return _info(res["idTokenInfo"])

    # ------------------------------------------------------------ CSMS requests
    async def on_RequestStartTransaction(self, p):
        k = p.get("evseId")
        e = None
        if k is not None:
            e = self.station.evse(k)
        else:
            for x in self.station.evses:
                if self.tx(x.id) is None and x.enabled and not faulted(x) and not x.authorized \
                        and x.resv.match(x, p["idToken"]["idToken"], None)[0]:
                    e = x               # not reserved for another token
                    break
        if e is None or not e.enabled or faulted(e) or e.authorized:
            return {"status": "Rejected"}
        t = self.tx(e.id)
        if t is not None and t.get("tag"):
            return {"status": "Rejected", "transactionId": t["id"]}
        tag = p["idToken"]["idToken"]
        if not self.settings.get("AuthorizeRemoteTxRequests") and not e.resv.match(e, tag, None)[0]:
            return {"status": "Rejected"}      # H03: reserved for another token
        cp = p.get("chargingProfile")
        if cp is not None and not await memory.call("firmware.ocpp.v201.smart", "remote_profile",
                                                     self, e.id, cp):
            return {"status": "Rejected"}         # F01 / K05: a TxProfile it can hold
        self._token_type(tag, p["idToken"]["type"])
        self._remote_ids[e.id] = p["remoteStartId"]
        if self.settings.get("AuthorizeRemoteTxRequests"):
            asyncio.create_task(self._remote_authorize(e, tag))
        else:
            e.authorize(True, tag)
        res = {"status": "Accepted"}
        if t is not None:
            res["transactionId"] = t["id"]
        return res

    async def on_RequestStopTransaction(self, p):
        for key, t in self._tx.items():
            if t.get("id") == p["transactionId"]:
                self.stop_tx(int(key), "Remote")
                return {"status": "Accepted"}
        return {"status": "Rejected"}

    async def on_GetTransactionStatus(self, p):
        tid = p.get("transactionId")
        res = {"messagesInQueue": self._queued(tid)}
        if tid is not None:
            res["ongoingIndicator"] = any(t.get("id") == tid for t in self._tx.values())
        return res

    def _queued(self, tid):
        """E14: transaction messages of `tid` (None: of any transaction) still
        to be delivered."""
        if tid is None:
            return self.txq.count() > 0
        if not self.txq.count():
            return False
        found = False
        for _, rec in self.txq.j.pending():     # to the end: the walk closes its reader
            if not found and rec["a"] == "TransactionEvent":
                found = rec["p"]["transactionInfo"]["transactionId"] == tid
        return found

    async def on_UnlockConnector(self, p):
        e = self.station.evse(p["evseId"])
        if e is None or p["connectorId"] != 1:
            return {"status": "UnknownConnector"}
        if self.tx(e.id) is not None:
            return {"status": "OngoingAuthorizedTransaction"}
        ok = await self.unlock(e)
        return {"status": "Unlocked" if ok else "UnlockFailed"}

    async def on_GetLocalListVersion(self, p):
        if not self.settings.get("LocalAuthListEnabled"):
            return {"versionNumber": 0}         # D02: no list in use
        return {"versionNumber": self.auth.list_version}

    async def on_SendLocalList(self, p):
        if not self.settings.get("LocalAuthListEnabled"):
            return {"status": "Failed"}
        items = p.get("localAuthorizationList") or []
        if len(items) > self.settings.get("SendLocalListMaxLength"):
            return {"status": "Failed"}
        entries = [(x["idToken"]["idToken"], _info(x["idTokenInfo"]) if "idTokenInfo" in x else None)
                   for x in items]
        return {"status": self.auth.send_local_list(p["versionNumber"], p["updateType"], entries)}
