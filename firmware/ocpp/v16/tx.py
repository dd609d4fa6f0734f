"""OCPP 1.6J transactions and authorization: Authorize, Start/StopTransaction,
MeterValues with transactionId, RemoteStart/RemoteStopTransaction, UnlockConnector,
ClearCache, SendLocalList, GetLocalListVersion (Core + LocalAuthListManagement)."""
import asyncio
import time
from firmware import log, memory
from firmware.clock import parse_iso
from firmware.ocpp.txbase import TxMixin
from firmware.ocpp.base import faulted


def _info(tag_info):
    """idTagInfo -> the AuthStore's version-neutral info."""
    exp = tag_info.get("expiryDate")
    try:
        exp = parse_iso(exp) if exp else None
    except ValueError:
        exp = None
    return {"status": tag_info.get("status", "Invalid"), "expiry": exp,
            "parent": tag_info.get("parentIdTag")}


class Tx16(TxMixin):
    # ------------------------------------------------------------ messages
    def tx_begin(self, eid, e, event, data=None):
        ltx = self._ltx + 1
        tag = self._id_token(e)[:20]
        p = {"connectorId": eid, "idTag": tag, "meterStart": int(e.energy_wh),
             "timestamp": self.clock.iso()}
        if e.resv_used is not None:
            p["reservationId"] = e.resv_used    # 5.13: the reservation this start used
        self.txq.put("StartTransaction", p, meta={"ltx": ltx, "evse": eid})
        self._ltx = ltx                        # journal first, state right after (_recover)
        self._tx[str(eid)] = {"ltx": ltx, "tag": tag, "start_wh": int(e.energy_wh), "id": None}
        self._tx_save()
        self._t_txs[eid] = time.ticks_ms()

    def tx_update(self, eid, e, event, data):
        pass                                   # 1.6 reports state changes by status only

    def tx_end(self, eid, e, reason, t=None):
        """End the running transaction on eid, or `t` (a stale one, not in _tx)."""
        stale = t is not None
        if t is None:
            t = self.tx(eid)
            if t is None:
                return
        p = {"meterStop": int(max(e.energy_wh, t["start_wh"])), "timestamp": self.clock.iso(),
             "transactionId": 0, "reason": reason, "idTag": (t.get("stop_tag") or t["tag"])[:20]}
        data = list(t.get("al") or ())
        ms = self.settings.measurands("StopTxnSampledData")
        if ms:
            data += self.meter_payload(eid, "Transaction.End", ms)["meterValue"]
        if data:
            p["transactionData"] = data
        self.txq.put("StopTransaction", p, meta={"ltx": t["ltx"]})
        if not stale:
            self._tx.pop(str(eid), None)
            self._tx_save()

    # ------------------------------------------------------------ power-cut recovery
    def tx_record(self, rec):
        """A journal record -> (key, "S"|"E"|"U", evse, tag, meterStart, seq) or None."""
        m = rec.get("m") or {}
        if "ltx" not in m:
            return None
        a, p = rec["a"], rec["p"]
        if a == "StartTransaction":
            return m["ltx"], "S", p.get("connectorId"), p.get("idTag"), p.get("meterStart", 0), None
        return m["ltx"], "E" if a == "StopTransaction" else "U", None, None, 0, None

    def tx_key(self, t):
        return t.get("ltx")

    def tx_adopt(self, key, tag, wh):
        return {"ltx": key, "tag": tag or "", "start_wh": wh or 0, "id": None}

    def tx_sample(self, e):
        t = self.tx(e.id)
        p = self.meter_payload(e.id, "Sample.Periodic", self.sampled_measurands())
        p["transactionId"] = 0
        self.txq.put("MeterValues", p, droppable=True, meta={"ltx": t["ltx"]})

    def tx_aligned(self, e):
        """Clock-aligned MeterValues of a running transaction: with its transactionId,
        through the journal (droppable, as periodic samples)."""
        t = self.tx(e.id)
        p = self.meter_payload(e.id, "Sample.Clock", self.settings.measurands("MeterValuesAlignedData"))
        p["transactionId"] = 0
        self.txq.put("MeterValues", p, droppable=True, meta={"ltx": t["ltx"]})
        self._keep_aligned(t, e)

    def _txids(self):
        m = self.persist.get("txids")
        if not isinstance(m, dict):
            m = {}
            self.persist["txids"] = m
        return m

    def tx_prepare(self, rec):
        """At send time: the real transactionId once the CSMS has given it (1.6 errata:
        -1 while it is unknown)."""
        a, p, m = rec["a"], rec["p"], rec.get("m") or {}
        if "ltx" in m and a != "StartTransaction":
            txid = self._txids().get(str(m["ltx"]))
            p["transactionId"] = txid if txid is not None else -1
        return a, p

    def tx_delivered(self, rid, rec, res):
        a, m = rec["a"], rec.get("m") or {}
        ids = self._txids()
        if a == "StartTransaction" and res is not None:
            ids[str(m["ltx"])] = res["transactionId"]
            eid = m.get("evse")
            t = self.tx(eid)
            if t is not None and t["ltx"] == m["ltx"]:
                t["id"] = res["transactionId"]
            self._tx_save()
            same = t is not None and t["ltx"] == m["ltx"]
            self.tx_token_info(eid if same else None, rec["p"].get("idTag"), _info(res["idTagInfo"]))
        elif a == "StopTransaction" and res is not None and res.get("idTagInfo"):
            self.tx_token_info(None, rec["p"].get("idTag"), _info(res["idTagInfo"]))

    def tx_acked(self, rec):
        """A StopTransaction is off the journal: its id is no longer needed. Only now:
        a cut before the ack sends it again, with the same id (pruned at boot if the
        cut falls between the ack and this save)."""
        if rec["a"] == "StopTransaction":
            if self._txids().pop(str((rec.get("m") or {}).get("ltx")), None) is not None:
                self._tx_save()

    def tx_prune(self, keep):
        """At boot: ids of transactions with nothing left in the journal go."""
        ids = self._txids()
        for k in list(ids):
            if int(k) not in keep:
                del ids[k]

    async def authorize_online(self, token):
        res = await self.call("Authorize", {"idTag": token[:20]})
        return _info(res["idTagInfo"])

    # ------------------------------------------------------------ CSMS requests
    def _pick_evse(self, k, tag):
        if k is not None:
            return self.station.evse(k)
        for e in self.station.evses:
            if self.tx(e.id) is None and e.enabled and not faulted(e) and not e.authorized \
                    and e.resv.match(e, tag, None)[0]:     # not reserved for another id
                return e
        return None

    async def on_RemoteStartTransaction(self, p):
        e = self._pick_evse(p.get("connectorId"), p["idTag"])
        if e is None or self.tx(e.id) is not None or not e.enabled or faulted(e) or e.authorized:
            return {"status": "Rejected"}
        tag = p["idTag"]
        if not self.settings.get("AuthorizeRemoteTxRequests") and not e.resv.match(e, tag, None)[0]:
            return {"status": "Rejected"}      # 5.13: reserved for another idTag
        cp = p.get("chargingProfile")
        if cp is not None and not await memory.call("firmware.ocpp.v16.smart", "remote_profile",
                                                     self, e.id, cp):
            return {"status": "Rejected"}         # 5.11: a TxProfile the station can hold
        if self.settings.get("AuthorizeRemoteTxRequests"):
            asyncio.create_task(self._remote_authorize(e, tag))
        else:
            e.authorize(True, tag)
        return {"status": "Accepted"}

    async def on_RemoteStopTransaction(self, p):
        for key, t in self._tx.items():
            if t.get("id") == p["transactionId"]:
                self.stop_tx(int(key), "Remote")
                return {"status": "Accepted"}
        return {"status": "Rejected"}

    async def on_UnlockConnector(self, p):
        e = self.station.evse(p["connectorId"])
        if e is None:
            return {"status": "NotSupported"}
        if self.tx(e.id) is not None:
            self.stop_tx(e.id, "UnlockCommand")
        t0 = time.ticks_ms()
        while e.relay_on and time.ticks_diff(time.ticks_ms(), t0) < 8000:
            await asyncio.sleep_ms(100)        # the kernel opens under load first
        ok = await self.unlock(e)
        log.info("tx", "unlock evse %d: %s", e.id, ok)
        return {"status": "Unlocked" if ok else "UnlockFailed"}

    async def on_GetLocalListVersion(self, p):
        if not self.settings.get("LocalAuthListEnabled"):
            return {"listVersion": -1}
        return {"listVersion": self.auth.list_version}

    async def on_SendLocalList(self, p):
        if not self.settings.get("LocalAuthListEnabled"):
            return {"status": "NotSupported"}
        items = p.get("localAuthorizationList") or []
        if len(items) > self.settings.get("SendLocalListMaxLength"):
            return {"status": "Failed"}
        entries = [(x["idTag"], _info(x["idTagInfo"]) if "idTagInfo" in x else None) for x in items]
        return {"status": self.auth.send_local_list(p["listVersion"], p["updateType"], entries)}
