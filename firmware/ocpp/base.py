"""What both OCPP adapters share: the connection with reconnect back-off, registration
(BootNotification Accepted / Pending / Rejected), heartbeat and the clock, connector
status on change, meter values, TriggerMessage and Reset plumbing.

A version module (v16, v201) subclasses Adapter and supplies the message shapes and the
CSMS request handlers. Status is derived from the kernel on every look (status(k)); the
adapter only remembers what the CSMS was last told, to send changes."""
from micropython import const
import asyncio
import random
import time
import ws
import ocppj
import fwslot
from firmware import log, memory
from firmware.evse import evse as kernel
from firmware.ocpp.security import SecurityMixin, redact
from firmware.ocpp.metervalues import MeterMixin
from firmware.ocpp.txbase import TxMixin
from firmware.ocpp.txq import TxQueue
from firmware.auth.store import AuthStore
from firmware.security.netprof import NetProfiles
from firmware.ocpp.profiles import NetMixin
from firmware.smart.manager import Smart

_WAKE_MS = const(1000)           # worker loop tick when nothing happens
_BOOT_RETRY_S = const(60)        # boot interval 0 or no answer: our own non-flooding wait
_RESET_DELAY_MS = const(300)     # let the Reset CALLRESULT leave before rebooting
# loaded for a connect's TLS context and its outcome, unloaded after (memory.Scope): 2 KB
# of a board's heap that a connected station does not need
_TLS_MODS = const(("firmware.security.tlsctx", "firmware.security.certs",
                   "firmware.security.certs.identity"))

# Registration states
REG_NONE = "None"                # no BootNotification answer yet since boot
ACCEPTED = "Accepted"
PENDING = "Pending"
REJECTED = "Rejected"


# ---- kernel -> OCPP mappings both versions share

# Kernel error bit -> OCPP 1.6 ChargePointErrorCode, most severe first.
ERROR_CODES = (
    (kernel.ERR_RCD, "GroundFailure"),
    (kernel.ERR_WELD, "PowerSwitchFailure"),
    (kernel.ERR_RELAY, "PowerSwitchFailure"),
    (kernel.ERR_OVERCURRENT, "OverCurrentFailure"),
    (kernel.ERR_OVERTEMP, "HighTemperature"),
    (kernel.ERR_LOCK, "ConnectorLockFailure"),
    (kernel.ERR_DIODE, "EVCommunicationError"),
    (kernel.ERR_PILOT, "EVCommunicationError"),
    (kernel.ERR_VENT, "OtherError"),
    (kernel.ERR_METER, "PowerMeterFailure"),
)


def error_code(bits):
    for bit, code in ERROR_CODES:
        if bits & bit:
            return code
    return "NoError"


def faulted(e):
    """Faulted: an error that blocks charging. A lost meter only pauses it (the
    connector is SuspendedEVSE with PowerMeterFailure), so it never counts here."""
    return bool(e.errors & e.blocking & ~kernel.ERR_METER)


class Adapter(NetMixin, SecurityMixin, MeterMixin, TxMixin):
    """The shared OCPP adapter; a version (firmware/ocpp/v16, v201) subclasses it.

    The contract. A version provides:

    - class attributes: VERSION ("1.6" / "2.0.1"), PROTOCOL (the WebSocket subprotocol),
      REQUESTS / RESPONSES (its generated schema tables), ROUTES (every CSMS request ->
      its handler, see route() and docs/ocpp.md) and PRELOAD_NAMES (modules
      firmware.main.preload loads once at boot for their names);
    - the message shapes: boot_payload, status, status_payload, meter_payload;
    - the transaction hooks of TxMixin (firmware.ocpp.txbase): tx_begin, tx_update,
      tx_end, tx_sample, tx_aligned, the journal's tx_record / tx_key / tx_adopt and
      authorize_online;
    - the on_<Action> handlers its ROUTES name ("" entries) and the modules they name.

    Hooks with a default here (override when the version differs): gate (registration
    rules for incoming calls), first_connector, after_connect, send_triggered,
    send_requested, send_notifications, on_kernel_event, reset_stop_reason,
    sample_interval, aligned_interval, start_condition, ends_on_stop, tx_prepare,
    tx_delivered, tx_acked, tx_prune.

    Every attribute is set in __init__ below; a version's own __init__ sets only its
    own attributes, then calls this one. A module loaded for a call gets the adapter
    as `a` and uses its public attributes and methods only (station, settings, cfg,
    clock, flash, np, auth, txq, call/send, wake, security_event, reconnect_soon,
    profile_check / profile_sync, report, csr_busy / csr_signed, certs_checked, upload)."""
    VERSION = ""
    PROTOCOL = ""
    REQUESTS = None
    RESPONSES = None
    ROUTES = ()                  # ((action, where), ...): every CSMS request (route())
    PRELOAD_NAMES = ()

    def __init__(self, station, settings, cfg, clock, persist, ssl=None, flash="/flash"):
        # what one boot hands in
        self.station = station
        self.settings = settings
        self.cfg = cfg
        self.clock = clock
        self.persist = persist           # dict-like saved state: boot reason etc.
        self.ssl = ssl                   # a fixed TLS context (tests, tools); None: from flash
        self.flash = flash
        # the link and the registration
        self.rpc = None
        self._cli = None                 # the WebSocket client while connected
        self.connected = False
        self.registration = REG_NONE
        self._booting = False            # a BootNotification is waiting for its answer
        self.boot_interval = 0
        self._t_offline = None           # ticks when the link went down
        self._t_sent = 0                 # last message sent (heartbeat counts from it)
        self._clock_set = False
        self._wake = asyncio.Event()     # the worker looks for work now (wake())
        self._tx_wake = asyncio.Event()  # the transaction task looks again (a kernel event)
        # connection profiles and TLS (firmware.security.netprof, firmware.ocpp.security)
        self.np = NetProfiles(persist, cfg)
        self._tls_fallback = False       # this attempt may verify with the fallback CSMS root
        self._tls_latched = None         # the TLS failure event raised until a connect works
        self._sec_q = []                 # non-critical security events to send
        self._startup_sent = False
        # reset
        self.reset_request = None        # set -> main reboots the station
        self.reset_event = asyncio.Event()
        self._pending_reset = None       # OnIdle / Soft reset waiting for sessions
        # status, triggers, meter values
        self._n = station.n
        self._sent = [None] * (self._n + 1)    # status the CSMS was last told, per connector
        self._seen = [None] * (self._n + 1)    # ... and the one seen last, since _t_seen
        self._t_seen = [0] * (self._n + 1)
        self._triggers = []                    # (message, evse id or None), bounded
        self._t_sample = [0] * (self._n + 1)
        self._t_aligned = None
        self._t_aligned_tx = None              # clock-aligned slot of transaction samples
        self._t_aligned_end = None             # ... of AlignedDataCtrlr.TxEndedInterval
        self._t_txs = [0] * (self._n + 1)      # last transaction sample per EVSE
        self._t_txe = [0] * (self._n + 1)      # last TxEndedInterval sample per EVSE
        # state of the modules loaded for a call (they keep none of their own)
        self.report = None               # 2.0.1 GetBaseReport: (requestId, reportBase) to send
        self.csr_busy = False            # firmware.ocpp.sign: a CSR is being made or waits
        self.csr_signed = None           # ... the asyncio.Event CertificateSigned sets
        self.certs_checked = False       # firmware.security.certs: the store was checked this boot
        # firmware updates (firmware.update): the job under way, the last status sent
        # (status, requestId, kind) for TriggerMessage, and what lib/fwslot says of this
        # boot: a new firmware on trial, the result of the last update to report
        self.fw_job = None
        self.fw_status = None
        fw = fwslot.state(flash)
        self.fw_trial = fw["run"] is not None and fw["run"] == fw["trial"]
        self.fw_result = fw["result"]
        self.upload = None               # firmware.ocpp.diag: the log upload [message, requestId, task]
        # transactions and authorization (firmware.ocpp.txbase)
        self.auth = AuthStore(flash + "/auth", case_insensitive=True)
        self.txq = TxQueue(flash + "/txjournal", settings, self.tx_delivered)
        tx = persist.get("tx")
        self._tx = tx if isinstance(tx, dict) else {}   # running transaction per EVSE
        self._stop_reason = {}
        self._start_wait = {}            # eid -> (event, data): start once the meter is read
        self._ending = {}                # eid -> (reason, meter cycle, deadline)
        self._ltx = persist.get("ltx", 0)   # last local transaction number
        self._stale = []                 # (eid, t) running when the station went down
        self._t_boot = time.ticks_ms()
        self._tag_busy = False
        self.tags_done = 0               # RFID cards decided (shown in the simulator's status)
        # smart charging (firmware/smart): the installed profiles, the limit per EVSE
        self.smart = Smart(station, clock, settings, cfg, flash)
        self.smart.tx_of = self.smart_tx
        self._groups = {}                # eid -> parent / group id of the token just authorized
        # the work of a boot
        self.smart.load()
        self.auth.load()
        self.txq.prepare = self.tx_prepare
        self.txq.on_acked = self.tx_acked
        self.txq.wake = self._wake
        self.txq.open()
        self._recover()
        self._profiles_boot()
        station.listeners.append(self._on_event)
        station.listeners.append(self.smart.on_event)      # after: sees the tx begun
        settings.listeners.append(self._on_setting)
        self._kernel_settings()

    def wake(self):
        """The worker looks for something to send now."""
        self._wake.set()

    def smart_tx(self, eid):
        """For firmware.smart: the running transaction of EVSE eid as (its id, "" while
        the CSMS has not named it (1.6); a key that stays the same through it), or None."""
        t = self.tx(eid)
        if t is None:
            return None
        tid = t.get("id")
        return ("" if tid is None else tid), t.get("ltx") or tid

    # ------------------------------------------------------------ the version's part
    def boot_payload(self, reason=None):
        """The BootNotification payload (reason: 2.0.1 bootReason, None: the saved one)."""
        raise NotImplementedError

    def firmware_version(self):
        """A firmware bundle's own version (firmware/version.py, written by
        tools/fwupd/bundle.py), else the configuration's firmware_version."""
        from firmware.version import VERSION
        return (VERSION or self.cfg.get("firmware_version", "0.1.0"))[:50]

    def status(self, k):
        """Connector status of connector / EVSE k, derived from the kernel."""
        raise NotImplementedError

    def status_payload(self, k, st):
        """The StatusNotification payload of status(k)."""
        raise NotImplementedError

    def meter_payload(self, k, context, measurands):
        """A MeterValues payload for connector / EVSE k (0: the main meter)."""
        raise NotImplementedError

    def on_kernel_event(self, eid, event, data):
        """A kernel event, after the transaction logic saw it (default: nothing)."""

    async def send_requested(self):
        """The version's messages the CSMS asked for (2.0.1 NotifyReport), sent with
        the triggered ones, also while Pending (default: nothing)."""

    async def send_notifications(self):
        """The version's own notifications, once a pump pass (default: nothing)."""

    # ------------------------------------------------------------ kernel events
    def _on_event(self, eid, event, data):
        self._tx_event(eid, event, data)
        self.on_kernel_event(eid, event, data)
        self._wake.set()
        self._tx_wake.set()

    def _on_setting(self, name):
        if name == "WebSocketPingInterval" and self._cli is not None:
            self._cli.ping_interval_s = self.settings.get(name)
        elif name in ("StopTransactionOnEVSideDisconnect", "UnlockConnectorOnEVSideDisconnect",
                      "TxStopPoint"):
            self._kernel_settings()

    def _kernel_settings(self):
        """EV-side disconnect (1.6 3.6 / 2.0.1 TxCtrlr.StopTxOnEVSideDisconnect): stop
        the transaction, or keep it (and the connector locked unless told to unlock)."""
        s = self.settings
        hold = not s.get("StopTransactionOnEVSideDisconnect") and self.may_hold_on_unplug()
        for e in self.station.evses:
            e.hold_on_unplug = hold
            e.unlock_on_unplug = bool(s.get("UnlockConnectorOnEVSideDisconnect"))

    def may_hold_on_unplug(self):
        """Whether an EV-side disconnect may keep the transaction at all (default: yes;
        2.0.1: not when it is a TxStopPoint)."""
        return True

    # ------------------------------------------------------------ connection
    def url(self):
        base = self.np.url_base()
        if not base.endswith("/"):
            base += "/"
        return base + ws.quote(self.cfg["id"])

    def _auth(self):
        if self.np.profile() in (1, 2) or self.cfg.get("password"):
            pw = self.settings.get("BasicAuthPassword") or self.cfg.get("password") or ""
            if pw:
                return (self.cfg["id"], pw)
        return None

    async def run(self):
        """Connect, serve, reconnect with randomized exponential back-off (2.0.1 B10 /
        OCPP-J 5.3: WaitMinimum + random(RandomRange), doubled RepeatTimes times)."""
        attempt = 0
        txt = asyncio.create_task(self._tx_task())
        fwt = None
        if self.fw_trial:               # a new firmware: Accepted in time, or taken back
            from firmware.update.boot import watch
            fwt = asyncio.create_task(watch(self))
        try:                            # an update a reboot cut short (firmware.update.record)
            import os
            os.stat(self.flash + "/fw/job.json")
        except OSError:
            pass
        else:
            from firmware.update.job import resume
            resume(self)
        try:
            await self._connect_loop(attempt)
        finally:
            txt.cancel()
            if fwt is not None:
                fwt.cancel()

    def _tls(self):
        """The TLS context for this attempt: a fixed one if given, else made fresh from
        the certificate store (firmware.security.tlsctx), so newly installed certificates count
        at the next connect. None for ws://. Raises ValueError when wss:// cannot be
        verified (no CSMS root, profile 3 without a station certificate)."""
        if not self.url().startswith("wss://"):
            return None
        if self.ssl is not None:
            return self.ssl
        with memory.Scope(_TLS_MODS):
            from firmware.security import tlsctx
            ctx, why = tlsctx.make(self.flash, self.np.profile(), self.cfg.get("ca"),
                                   self.clock.now(), self._tls_fallback)
        if ctx is None:
            raise ValueError(why)
        return ctx

    def _tls_result(self, ok):
        """M05.FR.12/13: try the new CSMS root alone; after a failure, once with the
        fallback as well; a connection verified by the new one alone drops the fallback."""
        if not self.url().startswith("wss://") or self.ssl is not None:
            return
        with memory.Scope(_TLS_MODS):
            from firmware.security import certs
            if ok and not self._tls_fallback and certs.has_fallback(self.flash):
                log.info("certs", "new CSMS root verified the connection: fallback root dropped")
                certs.drop_fallback(self.flash)
            self._tls_fallback = not ok and not self._tls_fallback and certs.has_fallback(self.flash)

    async def _connect_loop(self, attempt):
        while True:
            s = self.settings
            try:
                ctx = self._tls()
                if ctx is not None:
                    memory.tls_room(True)       # a piece that did not fit after the close
            except ValueError as e:         # nothing to verify the CSMS with: no attempt
                log.error("ocpp", "not connecting to %s: %s", self.url(), e)
                self._profile_failed()
                attempt += 1
                await self._backoff(attempt)
                continue
            if ctx is None:
                memory.tls_room(False)              # ws://: no room for TLS held
            try:
                # TlsRoom: mbedTLS's buffers go where the room held for them is
                cli = await ws.connect(self.url(), protocols=(self.PROTOCOL,), auth=self._auth(),
                                       ssl=ctx and memory.TlsRoom(ctx), timeout_ms=s.get("MessageTimeout") * 1000,
                                       max_size=self.cfg.get("max_message", 8192),
                                       ping_interval_s=s.get("WebSocketPingInterval"))
            except (ws.WSError, OSError, ValueError, MemoryError, ImportError) as e:
                # MemoryError: no room for the connection's buffers now; later there may be.
                # ImportError: a build without a network stack (the plain Pico: no socket)
                cli = e
            if isinstance(cli, Exception):
                memory.tls_room(ctx is not None)     # the attempt's buffers are freed
                log.warn("ocpp", "connect %s failed: %s", self.url(), cli)
                self._tls_failed(cli)
                self._tls_result(False)
                self._profile_failed()
                attempt += 1
                await self._backoff(attempt)
                continue
            self._tls_latched = None
            self._tls_result(True)
            self.np.connected()
            await self._serve(cli)
            memory.tls_room(ctx is not None)         # where the closed link's buffers were
            # the link lost is the first failure: W, then 2W, 4W... (OCPP-J 2.0.1 part 4
            # 5.3, TC_B_57), not W, W, 2W
            attempt = 1
            await self._backoff(attempt)

    async def _backoff(self, attempt):
        ms = self._backoff_ms(attempt)
        log.info("ocpp", "reconnect attempt %d in %d ms", attempt, ms)
        await asyncio.sleep_ms(ms)

    def _backoff_ms(self, attempt):
        s = self.settings
        wait = s.get("RetryBackOffWaitMinimum")
        wait <<= min(attempt - 1, s.get("RetryBackOffRepeatTimes"))
        rnd = s.get("RetryBackOffRandomRange")
        return wait * 1000 + (random.getrandbits(16) % (rnd * 1000 + 1) if rnd else 0)

    async def _serve(self, cli):
        log.info("ocpp", "connected to %s (%s)", self.url(), cli.protocol)
        self._cli = cli
        self.rpc = ocppj.Rpc(self.VERSION, self._handle, requests=self.REQUESTS,
                             responses=self.RESPONSES, log=log, redact=redact,
                             timeout_ms=self.settings.get("MessageTimeout") * 1000,
                             route_unknown=True)
        self.connected = True
        worker = asyncio.create_task(self._worker())
        try:
            await self.rpc.serve(cli)
        finally:
            self.connected = False
            worker.cancel()
            self._t_offline = time.ticks_ms()
            self._cli = None
            try:
                await cli.close()
            except (OSError, ws.WSError):
                pass
            log.warn("ocpp", "disconnected")

    async def shutdown(self):
        """Before a reboot: close the link cleanly (1001 going away)."""
        cli = self._cli
        if cli is not None:
            try:
                await cli.close(1001, "reboot")
            except (OSError, ws.WSError):
                pass

    async def call(self, action, payload):
        self._t_sent = time.ticks_ms()
        return await self.rpc.call(action, payload,
                                   timeout_ms=self.settings.get("MessageTimeout") * 1000)

    async def send(self, action, payload):
        """A message that is not retried: a CALLERROR answer is logged and the message
        given up (re-sending what the CSMS refuses would only flood it). Timeouts and a
        lost link propagate to the worker."""
        try:
            return await self.call(action, payload)
        except ocppj.CallError as e:
            log.warn("ocpp", "%s refused: %s %s", action, e.code, e.description)
            return None

    # ------------------------------------------------------------ worker
    async def _worker(self):
        try:
            await self._register()
            self.after_connect()
            if getattr(self, "dm_out", None):
                self.trigger("DMOut")           # statuses kept while offline (firmware.ocpp.dmq)
            while True:
                try:
                    await self._pump()
                except ocppj.Timeout:
                    log.warn("ocpp", "no answer within MessageTimeout")
                self._wake.clear()
                try:
                    await asyncio.wait_for_ms(self._wake.wait(), _WAKE_MS)
                except asyncio.TimeoutError:
                    pass
        except Exception as e:      # noqa: BLE001
            # Disconnected, or anything else (a failing flash, a bug): a link with no
            # worker would look up and do nothing, so it is closed and made again
            if isinstance(e, ocppj.Disconnected):
                log.warn("ocpp", "worker: %r", e)
            else:
                log.error("ocpp", "worker failed: %r: reconnecting", e)
            if self._cli is not None:
                try:
                    await self._cli.close(1000)
                except (OSError, ws.WSError):
                    pass

    async def _register(self):
        """BootNotification until Accepted. Pending: repeat after interval, serve the
        CSMS, send only triggered messages. Rejected: repeat after interval, answer
        nothing else (OCPP 1.6 4.2, 2.0.1 B02/B03)."""
        if self.registration == ACCEPTED:
            return                              # a reconnect sends no new boot
        while True:
            try:
                self._booting = True
                try:
                    res = await self.call("BootNotification", self.boot_payload())
                finally:
                    self._booting = False
            except ocppj.CallError as e:
                log.warn("ocpp", "boot: CALLERROR %s", e)
                await self._sleep_serving_triggers(_BOOT_RETRY_S)
                continue
            except ocppj.Timeout:
                await self._sleep_serving_triggers(_BOOT_RETRY_S)
                continue
            if self._apply_boot(res):
                self.persist_boot_reason(None)
                return
            await self._sleep_serving_triggers(self.boot_interval or _BOOT_RETRY_S)

    def _apply_boot(self, res):
        """A BootNotification answer: registration, interval, clock; on Accepted the
        heartbeat interval and the after-boot messages. Returns True when Accepted."""
        self.registration = res["status"]
        self.boot_interval = res["interval"]
        self._set_clock(res.get("currentTime"))
        log.info("ocpp", "boot %s, interval %d", self.registration, self.boot_interval)
        if self.registration != ACCEPTED:
            return False
        if self.boot_interval > 0:
            self.settings.set("HeartbeatInterval", self.boot_interval)
        self._on_accepted()
        return True

    async def _sleep_serving_triggers(self, seconds):
        t0 = time.ticks_ms()
        while time.ticks_diff(time.ticks_ms(), t0) < seconds * 1000:
            if self.registration == PENDING:
                if await self._send_triggers():
                    return                      # a triggered BootNotification
            self._wake.clear()
            try:
                await asyncio.wait_for_ms(self._wake.wait(), _WAKE_MS)
            except asyncio.TimeoutError:
                pass

    def _on_accepted(self):
        """After boot: every connector's status (and the version's startup messages)."""
        for k in range(self._n + 1):
            self._sent[k] = None
        if not self._startup_sent:
            # SW16 / 2.0.1 P6 Table 232: after power-up StartupOfTheDevice, after a reset
            # ResetOrReboot; once a boot, with guaranteed delivery
            self._startup_sent = True
            self.security_event("StartupOfTheDevice" if self.boot_reason() == "PowerUp"
                                else "ResetOrReboot")
        if self.fw_trial or self.fw_result:
            from firmware.update.boot import accepted
            accepted(self)          # a new firmware committed, or a rollback reported

    def after_connect(self):
        """On a reconnect: report what changed while offline (1.6 4.9); 2.0.1 B04:
        everything when offline longer than OfflineThreshold (the v201 module overrides)."""

    async def _pump(self):
        """Send what is due: triggered messages, status changes, queued transaction
        messages, meter values, heartbeat."""
        await self._send_triggers()
        await self._send_status()
        await self._tx_pump()
        if self._sec_q:
            await self._send_security()
        await self._send_meter_values()
        await self.send_notifications()
        await self._maybe_reset()
        hb = self.settings.get("HeartbeatInterval")
        if hb and time.ticks_diff(time.ticks_ms(), self._t_sent) >= hb * 1000:
            await self.heartbeat()

    async def heartbeat(self):
        res = await self.send("Heartbeat", {})
        if res:
            self._set_clock(res.get("currentTime"))

    def _set_clock(self, text):
        if not text:
            return
        try:
            import firmware.clock as clk
            jump = self.clock.set(clk.parse_iso(text))
            if jump > 60 or jump < -60:
                log.info("clock", "set from CSMS, jump %d s", jump)
                if self._clock_set:             # the first set of a boot is no event
                    self.security_event("SettingSystemTime", "jump %d s" % jump)
            self._clock_set = True
        except ValueError:
            log.warn("clock", "bad currentTime %r", text)

    # ------------------------------------------------------------ status
    def status(self, k):
        """Connector status derived from the kernel (version specific)."""
        raise NotImplementedError

    async def _send_status(self):
        """A changed status goes out once it has been stable for MinimumStatusDuration
        seconds (1.6 9.1; 0: at once)."""
        md = self.settings.get("MinimumStatusDuration") * 1000
        now = time.ticks_ms()
        for k in range(self.first_connector(), self._n + 1):
            st = self.status(k)
            if st != self._seen[k]:
                self._seen[k] = st
                self._t_seen[k] = now
            if st != self._sent[k]:
                if md and time.ticks_diff(now, self._t_seen[k]) < md:
                    continue                    # the worker looks again within _WAKE_MS
                await self.send("StatusNotification", self.status_payload(k, st))
                self._sent[k] = st

    def first_connector(self):
        return 0

    # ------------------------------------------------------------ triggers
    def trigger(self, message, eid=None):
        if len(self._triggers) < 8:
            self._triggers.append((message, eid))
            self._wake.set()
            return True
        return False

    async def _send_triggers(self):
        """Returns True when a triggered BootNotification was sent."""
        booted = False
        while self._triggers:
            msg, eid = self._triggers.pop(0)
            if msg == "BootNotification":
                res = await self.call("BootNotification", self.boot_payload("Triggered"))
                self._apply_boot(res)
                booted = True
            elif msg == "Heartbeat":
                await self.heartbeat()
            elif msg == "StatusNotification":
                ks = range(self.first_connector(), self._n + 1) if eid is None else (eid,)
                for k in ks:
                    st = self.status(k)
                    await self.send("StatusNotification", self.status_payload(k, st))
                    self._sent[k] = st
            elif msg == "MeterValues":
                ks = range(0, self._n + 1) if eid is None else (eid,)
                for k in ks:
                    await self.send("MeterValues", self.meter_payload(
                        k, "Trigger", self.sampled_measurands()))
            elif msg == "DMOut":
                from firmware.ocpp import dmq
                await dmq.flush(self)
            elif msg in ("FirmwareStatusNotification", "SignedFirmwareStatusNotification",
                         "FirmwareStatus"):
                # "FirmwareStatus": the result of an update, after the reboot (not triggered)
                from firmware.update.job import send
                await send(self, msg != "FirmwareStatus" and msg)
            else:
                await self.send_triggered(msg, eid)
        await self.send_requested()
        return booted

    async def send_triggered(self, msg, eid):
        """Version-specific triggered messages; here the log uploads' status (1.6
        TriggerMessage DiagnosticsStatusNotification, ExtendedTriggerMessage / 2.0.1
        TriggerMessage LogStatusNotification): Uploading with its requestId while one of
        that kind runs (firmware.ocpp.diag), else Idle (1.6 4.4, 2.0.1 N01.FR.18)."""
        if msg == "DiagnosticsStatusNotification" or msg == "LogStatusNotification":
            up = self.upload
            p = {"status": "Idle"}
            if up is not None and up[0] == msg and not up[2].done():
                p["status"] = "Uploading"
                if up[1] is not None:
                    p["requestId"] = up[1]
            await self.send(msg, p)

    # ------------------------------------------------------------ reset
    def request_reset(self, reason, when_idle):
        """Reboot now (after the answer leaves) or once no session is running."""
        self._pending_reset = (reason, when_idle)
        self._wake.set()

    async def _maybe_reset(self):
        if self._pending_reset is None:
            return
        reason, when_idle = self._pending_reset
        if when_idle and self.station.busy():
            return
        await asyncio.sleep_ms(_RESET_DELAY_MS)
        self.end_all(self.reset_stop_reason(reason))
        self.prepare_reset(self.reset_stop_reason(reason))
        for e in self.station.evses:
            e.stop()
        self.persist_boot_reason(reason)
        await self._deliver_before_reset()
        self.reset_request = reason
        self.reset_event.set()

    async def _deliver_before_reset(self):
        """The ends of the transactions a reset stopped go out before the reboot, not
        after the next BootNotification (2.0.1 B12, TC_B_22: TransactionEvent Ended,
        ImmediateReset; 1.6 5.14: StopTransaction, Hard/SoftReset). Bounded by
        MessageTimeout; whatever is not answered by then stays in the journal and goes
        out after the boot."""
        if not self._online() or not self.txq.count():
            return
        bound = self.settings.get("MessageTimeout") * 1000
        t0 = time.ticks_ms()
        try:
            while self.txq.count() and time.ticks_diff(time.ticks_ms(), t0) < bound:
                left = bound - time.ticks_diff(time.ticks_ms(), t0)
                await asyncio.wait_for_ms(self.txq.pump(self.call), max(1, left))
                if self.txq.count():
                    await asyncio.sleep_ms(100)     # the head waits for its retry time
        except (asyncio.TimeoutError, ocppj.Disconnected, ocppj.Timeout) as e:
            log.warn("ocpp", "reset: transaction messages left for after the boot: %r", e)

    def end_all(self, reason):
        """End every running transaction now (before a reboot)."""
        for e in self.station.evses:
            if e.id in self._ending:
                self._end_now(e.id)
            if self.tx(e.id) is not None:
                self.tx_end(e.id, e, reason)

    def reset_stop_reason(self, reason):
        return "Reboot"

    def persist_boot_reason(self, reason):
        """The reason the next BootNotification gives (2.0.1 bootReason)."""
        if reason is None:
            reason = "PowerUp"
        if self.persist.get("boot_reason") != reason:
            self.persist["boot_reason"] = reason
            try:
                self.persist.save()
            except OSError as e:
                log.error("ocpp", "boot reason not saved: %r", e)

    def boot_reason(self):
        return self.persist.get("boot_reason") or "PowerUp"

    # ------------------------------------------------------------ CSMS requests
    async def _handle(self, action, payload):
        if self.registration == REG_NONE and self._booting:
            # A CALL right behind the boot answer can be read before _register has
            # looked at that answer: give it a moment instead of refusing the CSMS.
            t0 = time.ticks_ms()
            while self.registration == REG_NONE and self._booting and \
                    time.ticks_diff(time.ticks_ms(), t0) < 2000:
                await asyncio.sleep_ms(10)
        gate = self.gate(action)
        if gate is not None:
            return gate()
        where = self.route(action)
        if where is None:
            # OCPP-J (1.6 4.2.3, errata; 2.0.1 part 4 4.3): recognised but not supported
            # NotSupported, not known at all NotImplemented
            known = any(name == action for name, _ in self.ROUTES)
            raise ocppj.CallError("NotSupported" if known else "NotImplemented",
                                  "%s not supported" % action)
        if where == "":
            return await getattr(self, "on_" + action)(payload)
        return await memory.call(where, "on_" + action, self, payload)

    def route(self, action):
        """Where the handler of CSMS request `action` is, from the version's ROUTES: ""
        (the adapter's method on_<Action>), a module name (its function
        on_<Action>(adapter, payload), loaded for the call) or None (not supported: the
        CSMS gets NotImplemented). An action missing from the table is not supported
        either; tests/unit/test_routes.py keeps each table complete."""
        for name, where in self.ROUTES:
            if name == action:
                return where
        return None

    def gate(self, action):
        """Registration rules for incoming calls; returns a callable producing the
        answer to give instead of handling, or None to handle (version specific)."""
        return None

