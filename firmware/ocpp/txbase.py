"""Transactions and authorization shared by both OCPP versions.

The kernel runs sessions; this mixin decides when a session is an OCPP transaction,
queues every transaction message durably (TxQueue, a journal on flash) at the moment the
event happens — online or not — and keeps the running transaction of each EVSE in the
persisted state, so a reboot or a power cut never leaves one "running": the next boot
ends it (PowerLoss, or the reset's reason) with the meter register as meterStop.

Authorization (OCPP 1.6 3.5, 2.0.1 C01/C10-C15): local list and cache first when
LocalPreAuthorize, the CSMS when online, LocalAuthorizeOffline / AllowOfflineTxForUnknownId
when not."""
from micropython import const
import asyncio
import gc
import time
import ocppj
from firmware import log
from firmware.evse import evse as kernel
from firmware.evse.pilot import CP_B, CP_D

_STALE_WAIT_MS = const(5000)     # wait this long for a meter reading before ending stale txs
_FRESH_MS = const(3000)          # at most this long for a fresh reading at a transaction end
_ALIGNED_KEEP = const(24)        # clock-aligned samples kept for a transaction's end message
_UNLOCK_MS = const(1000)         # the lock's feedback must report it open within this


class TxMixin:
    """Transactions for the Adapter (its state is set in Adapter.__init__). A version
    supplies the hooks that raise NotImplementedError here."""

    async def unlock(self, e):
        """UnlockConnector's unlock: driven open (never under load), then confirmed by
        the lock's feedback; False (UnlockFailed) when it stays locked (1.6 TC_030)."""
        if not e.force_unlock():
            return False
        t0 = time.ticks_ms()
        while not e.lock_released() and time.ticks_diff(time.ticks_ms(), t0) < _UNLOCK_MS:
            await asyncio.sleep_ms(50)
        return e.lock_released()

    # ------------------------------------------------------------ the version's part
    def tx_begin(self, eid, e, event, data=None):
        """Journal the start of a transaction on EVSE eid and record it in _tx."""
        raise NotImplementedError

    def tx_update(self, eid, e, event, data):
        """A kernel event during a transaction (2.0.1 TransactionEvent Updated)."""
        raise NotImplementedError

    def tx_end(self, eid, e, reason, t=None):
        """Journal the end of the running transaction on eid, or of `t` (a stale one)."""
        raise NotImplementedError

    def tx_sample(self, e):
        """Journal a periodic sample of EVSE e's running transaction (droppable)."""
        raise NotImplementedError

    def tx_aligned(self, e):
        """Journal a clock-aligned sample of EVSE e's running transaction."""
        raise NotImplementedError

    def tx_record(self, rec):
        """A journal record -> (key, "S"|"E"|"U", evse, tag, meterStart, seq) or None
        (power-cut recovery, _recover)."""
        raise NotImplementedError

    def tx_key(self, t):
        """The key of a transaction state dict (what tx_record returns as key)."""
        raise NotImplementedError

    def tx_adopt(self, key, tag, wh):
        """A transaction state dict for a start found in the journal only."""
        raise NotImplementedError

    async def authorize_online(self, token):
        """Ask the CSMS (Authorize) -> the AuthStore's info dict."""
        raise NotImplementedError

    def _recover(self):
        """At boot: every transaction still running (state.json "tx"), waiting to be
        ended ("stale"), or begun in the journal only, becomes stale: ended with the
        meter register before anything else happens on its EVSE.

        A power cut cannot lose or double an event: each transaction message is
        journalled first and state.json saved right after, with no await in between,
        so a cut leaves the journal at most one step ahead and that step's record
        still pending. A transaction whose end is pending is not ended again, one whose
        start is pending but unknown to the state is adopted, and sequence numbers and
        local ids continue past what the journal holds."""
        begun, ended, top, seen = {}, set(), {}, set()
        for _, rec in self.txq.j.pending():
            r = self.tx_record(rec)
            if r is None:
                continue
            key, kind, eid, tag, wh, seq = r
            seen.add(key)
            if kind == "S":
                begun[key] = (eid, tag, wh)
            elif kind == "E":
                ended.add(key)
            if seq is not None and seq > top.get(key, -1):
                top[key] = seq
            if key is not None and isinstance(key, int) and key > self._ltx:
                self._ltx = key
        old = self.persist.get("stale")
        cands = [x for x in old if isinstance(x, list) and len(x) == 2] if isinstance(old, list) else []
        cands += [[int(k), t] for k, t in self._tx.items()]
        known = [self.tx_key(t) for _, t in cands]
        for key, (eid, tag, wh) in begun.items():
            if key not in known and isinstance(eid, int):
                log.warn("tx", "evse %d: start queued before the cut, adopting", eid)
                cands.append([eid, self.tx_adopt(key, tag, wh)])
        self._stale = []
        for eid, t in cands:
            key = self.tx_key(t)
            if key in ended:
                log.warn("tx", "evse %s: end already queued before the cut", eid)
                continue
            if key in top and t.get("seq", 0) <= top[key]:
                t["seq"] = top[key] + 1
            self._stale.append([eid, t])
        self._tx = {}
        keep = seen
        keep.update(self.tx_key(t) for _, t in self._stale)
        self.tx_prune(keep)
        self.persist["stale"] = self._stale
        self._tx_save()

    # ------------------------------------------------------------ persisted tx state
    def tx(self, eid):
        return self._tx.get(str(eid))

    def _tx_save(self):
        self.persist["tx"] = self._tx
        self.persist["ltx"] = self._ltx
        try:
            self.persist.save()
        except OSError as e:
            log.error("tx", "state not saved: %s", e)

    def _online(self):
        return self.connected and self.registration == "Accepted"

    # ------------------------------------------------------------ the transaction task
    async def _tx_task(self):
        """Runs online or not: ends transactions left open by a power cut, and queues
        periodic transaction meter values (droppable) at the sample interval. A pass that
        fails (no heap for a flash write, a failing flash) is logged and the next pass
        tries again: what was not done is still pending (_ending, _start_wait, _stale).
        With none of those and no transaction it waits for a kernel event (every start
        of a transaction is one: _tx_event) instead of looking every 250 ms."""
        while True:
            try:
                self._tx_pass()
            except Exception as e:      # noqa: BLE001
                log.error("tx", "tx task: %r: trying again", e)
                gc.collect()
            if self._tx or self._ending or self._start_wait or self._stale:
                await asyncio.sleep_ms(250)
                continue
            ev = self._tx_wake
            ev.clear()
            await ev.wait()
            # clock-aligned slots count from this pass on, as if it had looked all along
            self._t_aligned_tx = self._t_aligned_end = None

    def _tx_pass(self):
        if self._ending:
            self._tx_ending()
        if self._start_wait:
            self._tx_waiting()
        self._end_stale()
        iv = self.sample_interval()
        now = time.ticks_ms()
        for e in self.station.evses:
            t = self.tx(e.id)
            if t is not None and "cap" in t:
                self._energy_cap(e.id, t)
            ie = self.settings.get("TxEndedInterval")
            if ie and t is not None and time.ticks_diff(now, self._t_txe[e.id]) >= ie * 1000:
                self._t_txe[e.id] = now
                self._keep_ended(t, e)
            if iv and self.tx(e.id) is not None and \
                    time.ticks_diff(now, self._t_txs[e.id]) >= iv * 1000:
                self._t_txs[e.id] = now
                self.tx_sample(e)
        ia = self.aligned_interval()
        if ia:
            slot = self.clock.now() // ia
            if self._t_aligned_tx is not None and slot != self._t_aligned_tx:
                for e in self.station.evses:
                    if self.tx(e.id) is not None:
                        self.tx_aligned(e)
            self._t_aligned_tx = slot
        ie = self.settings.get("AlignedTxEndedInterval")
        if ie:
            # 2.0.1 AlignedDataCtrlr.TxEndedInterval: its own clock-aligned slots for the
            # values the Ended event carries
            slot = self.clock.now() // ie
            if self._t_aligned_end is not None and slot != self._t_aligned_end:
                for e in self.station.evses:
                    t = self.tx(e.id)
                    if t is not None:
                        self._keep_aligned(t, e, True)
            self._t_aligned_end = slot

    # ------------------------------------------------------------ kernel events
    def _tx_event(self, eid, event, data):
        e = self.station.evse(eid)
        if e is None:
            return
        if event == "SessionFinished":
            t = self.tx(eid)
            if t is not None:
                if eid not in self._ending and not self.ends_on_stop():
                    t["unplug"] = 1             # ended by the unplug, whatever stopped it
                self._stop_reason.setdefault(eid, "EVDisconnected")
                self._end_fresh(eid, self._stop_reason.pop(eid))
            self._stop_reason.pop(eid, None)
            if e.next_auth is None:             # else the next session's (Evse.authorize)
                self._groups.pop(eid, None)
            return
        if event == "PluginTimeout":
            # 2.0.1 E03 (TxStartPoint Authorized): no EV within EVConnectionTimeOut
            # ends the transaction begun at the authorization (Timeout, EVConnectTimeout)
            if self.tx(eid) is not None:
                self.stop_tx(eid, "Timeout")
            return
        if event == "ChargingFinished" and self.tx(eid) is not None and e.state == kernel.FINISHED:
            if self.ends_on_stop():
                reason = self._stop_reason.pop(eid, None) or ("Other" if e.errors else "Local")
                self._end_fresh(eid, reason)
            return                              # else it ends at the unplug, same reason
        if eid in self._ending:
            self._end_now(eid)                  # anything new: the old one ends first
        t = self.tx(eid)
        if t is None and self.start_condition(e, event):
            if not (e.meter_seen or e.meter_fail):
                self._start_wait[eid] = (event, data)   # meterStart must be the register
                return
            try:
                self._end_stale(True)
                self.tx_begin(eid, e, event, data)
                self._tx_started(eid)
            except MemoryError:
                # no heap for the journal write now: the tx task starts it (_tx_waiting)
                log.error("tx", "evse %d: no memory to start the transaction: retrying", eid)
                self._start_wait[eid] = (event, data)
        elif t is not None:
            self.tx_update(eid, e, event, data)

    def _tx_started(self, eid):
        """After tx_begin: the group (parent) id of the token that authorized the new
        transaction; the TxEndedInterval clock starts."""
        self._t_txe[eid] = time.ticks_ms()
        grp = self._groups.pop(eid, None)
        t = self.tx(eid)
        if grp and t is not None:
            t["grp"] = grp

    def _end_fresh(self, eid, reason):
        """End with a meter reading taken after the relay opened (the register has
        stopped), not the last periodic one: bounded by _FRESH_MS, see _tx_task."""
        if eid not in self._ending:
            self._ending[eid] = (reason, self.station.meter_cycle + 1,
                                 time.ticks_add(time.ticks_ms(), _FRESH_MS))
            self.station.read_meters_now()

    def _end_now(self, eid):
        """Pending until tx_end returned: a failed one is tried again by the next pass."""
        e = self.station.evse(eid)
        if self.tx(eid) is not None:
            self.tx_end(eid, e, self._ending[eid][0])
        del self._ending[eid]

    def _tx_ending(self):
        now = time.ticks_ms()
        for eid in sorted(self._ending):
            cycle, deadline = self._ending[eid][1:]
            e = self.station.evse(eid)
            if e.meter_cycle >= cycle or e.meter_fail or time.ticks_diff(now, deadline) >= 0:
                self._end_now(eid)

    def _tx_waiting(self):
        """Starts held back until the first meter reading (a few hundred ms after boot)."""
        for eid, (event, data) in list(self._start_wait.items()):
            e = self.station.evse(eid)
            if e.meter_seen or e.meter_fail:
                if self.tx(eid) is None and self.start_condition(e, event):
                    self._end_stale(True)
                    self.tx_begin(eid, e, event, data)
                    self._tx_started(eid)
                del self._start_wait[eid]       # after: a failed start is tried again

    def _keep_aligned(self, t, e, own=False):
        """A clock-aligned sample for the end message (1.6 StopTxnAlignedData, 2.0.1
        AlignedDataCtrlr.TxEndedMeasurands), kept in the transaction's state: at most
        _ALIGNED_KEEP, the latest (a long transaction keeps its last hours). Taken at
        the ClockAlignedDataInterval slots, or at AlignedDataCtrlr.TxEndedInterval's
        own (`own`) when that is set."""
        ms = self.settings.measurands("StopTxnAlignedData")
        if not ms or bool(self.settings.get("AlignedTxEndedInterval")) != own:
            return
        al = t.setdefault("al", [])
        al.append(self.meter_payload(e.id, "Sample.Clock", ms)["meterValue"][0])
        if len(al) > _ALIGNED_KEEP:
            del al[0]
        self._tx_save()

    def _keep_ended(self, t, e):
        """2.0.1 SampledDataCtrlr.TxEndedInterval: a sample of TxEndedMeasurands every
        interval, kept in the transaction's state for its Ended event (at most
        _ALIGNED_KEEP, the latest)."""
        ms = self.settings.measurands("StopTxnSampledData")
        if not ms:
            return
        en = t.setdefault("en", [])
        en.append(self.meter_payload(e.id, "Sample.Periodic", ms)["meterValue"][0])
        if len(en) > _ALIGNED_KEEP:
            del en[0]
        self._tx_save()

    def start_condition(self, e, event):
        plugged = CP_B <= e.cp <= CP_D
        return e.authorized and plugged and e.in_session()

    def ends_on_stop(self):
        return True

    def stop_tx(self, eid, reason):
        """End the transaction on eid for `reason` (remote, local, unlock...)."""
        e = self.station.evse(eid)
        if e is None or self.tx(eid) is None:
            return False
        if eid in self._ending:
            return True                         # ending already (a fresh reading due)
        self._stop_reason[eid] = reason
        e.stop()
        if e.state not in (kernel.STOPPING, kernel.FINISHED):
            # not charging yet (authorized, waiting): end it now
            e.withdraw()
            self.tx_end(eid, e, self._stop_reason.pop(eid))
        return True

    def tx_token_info(self, eid, tag, info):
        """The CSMS's word on the token of a transaction message (1.6 Start/
        StopTransaction.conf idTagInfo, 2.0.1 TransactionEventResponse idTokenInfo):
        the cache learns it (not for an id of the local list: 1.6 3.5.1, 2.0.1 C10),
        and a token no longer Accepted deauthorizes the transaction still running on
        eid (eid None: it has ended), also one authorized offline (2.0.1 C12, E05; 1.6
        3.5.1 StopTransactionOnInvalidId): StopTxOnInvalidId
        ends it (DeAuthorized); otherwise the energy stops, at once or once
        MaxEnergyOnInvalidId Wh have been delivered in the transaction (2.0.1)."""
        if not isinstance(info, dict):
            return
        s = self.settings
        if tag and s.get("AuthorizationCacheEnabled"):
            self.auth.cache_put(tag, info, self.clock.now())
        t = self.tx(eid) if eid is not None else None
        if t is not None and info.get("parent"):
            t["grp"] = info["parent"]
        if t is None or info.get("status") == "Accepted":
            return
        log.warn("tx", "evse %d: token %s %s by the CSMS", eid, tag, info.get("status"))
        if s.get("StopTransactionOnInvalidId"):
            self.stop_tx(eid, "DeAuthorized")
            return
        t["cap"] = t.get("start_wh", 0) + s.get("MaxEnergyOnInvalidId")
        self._tx_save()
        self._energy_cap(eid, t)

    def _energy_cap(self, eid, t):
        """A deauthorized transaction kept open (StopTxOnInvalidId false): energy
        stops once its cap is reached (tx_token_info; checked by the tx task)."""
        e = self.station.evse(eid)
        if e is not None and not e.paused and e.energy_wh >= t["cap"]:
            log.warn("tx", "evse %d: deauthorized, energy stopped at %d Wh", eid, int(e.energy_wh))
            e.pause()

    def _id_token(self, e):
        return e.token or self.cfg.get("free_id", "FreeCharging")

    # ------------------------------------------------------------ stale transactions
    def _end_stale(self, now=False):
        """After a reboot: end every transaction that was running. Waits (bounded) for
        a meter reading so meterStop is the register, not zero, unless `now` (a new
        transaction is about to start: the old one ends first, before any energy
        flows in the new one)."""
        if not self._stale:
            return
        if not now and time.ticks_diff(time.ticks_ms(), self._t_boot) < _STALE_WAIT_MS and \
                not all(e.meter_seen for e in self.station.evses):
            return
        reason = self.persist.get("stop_reason") or "PowerLoss"
        while self._stale:                      # each one done once, even if a later fails
            eid, t = self._stale[0]
            e = self.station.evse(eid)
            if e is None:
                log.error("tx", "stale transaction on unknown evse %d dropped", eid)
            else:
                log.warn("tx", "evse %d: transaction open at boot, ending (%s)", eid, reason)
                self.tx_end(eid, e, reason, t=t)
            self._stale.pop(0)
        self.persist["stale"] = []
        self.persist["stop_reason"] = None
        self._tx_save()

    def prepare_reset(self, reason):
        """Before a reboot: the stop reason the next boot gives running transactions."""
        self.persist["stop_reason"] = reason
        self._tx_save()

    # ------------------------------------------------------------ delivery
    async def _tx_pump(self):
        self._end_stale()
        if self.txq.count():
            await self.txq.pump(self.call)

    def tx_prepare(self, rec):
        """At send time: a queued record -> (action, payload) (default: as queued)."""
        return rec["a"], rec["p"]

    def tx_delivered(self, rid, rec, res):
        """A queued message was answered (res) or given up (None) (default: nothing)."""

    def tx_acked(self, rec):
        """A queued message is off the journal (default: nothing)."""

    def tx_prune(self, keep):
        """At boot: forget what no pending message or open transaction needs."""

    # ------------------------------------------------------------ tags and authorization
    def on_tag(self, eid, token):
        """An RFID card at EVSE eid (board input). Handled in a task: it may ask the CSMS."""
        if self._tag_busy:
            return
        self._tag_busy = True
        asyncio.create_task(self._tag(eid, token))

    async def _tag(self, eid, token):
        try:
            e = self.station.evse(eid)
            if e is None:
                return
            t = self.tx(eid)
            if t is not None and e.authorized:
                await self._tag_other(eid, t, token)
                return                          # (a transaction begun at EVConnected: authorize)
            ok, info = await self.authorize_token(token)
            log.info("tx", "tag %s at evse %d: %s", token, eid, "accepted" if ok else "rejected")
            if ok:
                self._groups[eid] = info.get("parent") if info else None
                e.authorize(True, token, info.get("parent") if info else None)
                if e.next_auth:
                    log.info("tx", "tag %s at evse %d: for the next session", token, eid)
                elif not e.authorized:
                    log.info("tx", "tag %s at evse %d: reserved for another id", token, eid)
            else:
                e.authorize(False, token)
        finally:
            self._tag_busy = False
            self.tags_done += 1

    async def _tag_other(self, eid, t, token):
        """A token presented during an authorized transaction: its own ends it; another
        one is authorized (local list / cache first, as any) and ends it when Accepted
        with the transaction's group id (1.6 3.5 parentIdTag; 2.0.1 C01, C09
        groupIdToken); otherwise the transaction goes on."""
        if self._same_owner(t, token):
            self.stop_tx(eid, "Local")
            return
        ok, info = await self.authorize_token(token)
        grp = t.get("grp")
        if grp is None and t.get("tag"):
            known, _ = self.auth.lookup(t["tag"])     # a transaction from before this boot
            grp = known.get("parent") if known else None
        par = info.get("parent") if info else None
        same = bool(ok and grp and par and grp.upper() == par.upper())
        log.info("tx", "tag %s at evse %d during the transaction: %s", token, eid,
                 "same group, stopping" if same else "not its group")
        if same and self.tx(eid) is t:
            t["stop_tag"] = token
            self.stop_tx(eid, "Local")

    async def _remote_authorize(self, e, tag):
        """A remote start with AuthorizeRemoteTxRequests: the id is authorized as a
        local one would be (1.6 5.11, 2.0.1 F01.FR.02)."""
        ok, info = await self.authorize_token(tag)
        e.authorize(ok, tag, info.get("parent") if info else None)

    async def on_ClearCache(self, p):
        """Clears the authorization cache and nothing else (never the transaction
        journal, never the local list). Rejected with the cache disabled (2.0.1
        C11, TC_C_38; 1.6 5.4)."""
        if not self.settings.get("AuthorizationCacheEnabled"):
            return {"status": "Rejected"}
        return {"status": "Accepted" if self.auth.clear_cache() else "Rejected"}

    def _same_owner(self, t, token):
        # 1.6 idTag is a CiString20; 2.0.1 IdTokenType.idToken "is case insensitive"
        return (t.get("tag") or "").upper() == token.upper()

    async def authorize_token(self, token):
        """-> (accepted, info). info: {"status", "expiry", "parent"} or None."""
        s = self.settings
        now = self.clock.now()
        info, src = self.auth.lookup(token, now) if s.get("LocalAuthListEnabled") or \
            s.get("AuthorizationCacheEnabled") else (None, None)
        if src == "list" and not s.get("LocalAuthListEnabled"):
            info, src = None, None
        if src == "cache" and not s.get("AuthorizationCacheEnabled"):
            info, src = None, None
        accepted = info is not None and info.get("status") == "Accepted"
        if accepted and s.get("LocalPreAuthorize"):
            return True, info
        if self._online():
            try:
                got = await self.authorize_online(token)
            except (ocppj.Timeout, ocppj.Disconnected, ocppj.CallError) as ex:
                log.warn("tx", "Authorize failed: %r; deciding offline", ex)
            else:
                if s.get("AuthorizationCacheEnabled") and src != "list":
                    self.auth.cache_put(token, got, now)
                return got.get("status") == "Accepted", got
        if info is not None:
            return accepted and s.get("LocalAuthorizeOffline"), info
        return bool(s.get("AllowOfflineTxForUnknownId")), None
