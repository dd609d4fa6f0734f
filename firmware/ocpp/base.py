"""What both OCPP adapters share: the connection with reconnect back-off, registration
(BootNotification Accepted / Pending / Rejected), heartbeat and the clock, connector
status on change, meter values, TriggerMessage and Reset plumbing.

A version module (v16, v201) subclasses Adapter and supplies the message shapes and the
CSMS request handlers. Status is derived from the kernel on every look (status(k)); the
adapter only remembers what the CSMS was last told, to send changes."""
from micropython import const
import asyncio
import gc
import random
import sys
import time
import ws
import ocppj
from firmware import log
from firmware.evse import evse as K
from firmware.ocpp.security import SecurityMixin, redact
from firmware.ocpp.txbase import MeterMixin
from firmware.netprof import NetMixin

_WAKE_MS = const(1000)           # worker loop tick when nothing happens
_BOOT_RETRY_S = const(60)        # boot interval 0 or no answer: our own non-flooding wait
_RESET_DELAY_MS = const(300)     # let the Reset CALLRESULT leave before rebooting

# Registration states
REG_NONE = "None"                # no BootNotification answer yet since boot
ACCEPTED = "Accepted"
PENDING = "Pending"
REJECTED = "Rejected"


# ---- kernel -> OCPP mappings both versions share

# Kernel error bit -> OCPP 1.6 ChargePointErrorCode, most severe first.
ERROR_CODES = (
    (K.ERR_RCD, "GroundFailure"),
    (K.ERR_WELD, "PowerSwitchFailure"),
    (K.ERR_RELAY, "PowerSwitchFailure"),
    (K.ERR_OVERCURRENT, "OverCurrentFailure"),
    (K.ERR_OVERTEMP, "HighTemperature"),
    (K.ERR_LOCK, "ConnectorLockFailure"),
    (K.ERR_DIODE, "EVCommunicationError"),
    (K.ERR_PILOT, "EVCommunicationError"),
    (K.ERR_VENT, "OtherError"),
    (K.ERR_METER, "PowerMeterFailure"),
)


def error_code(bits):
    for bit, code in ERROR_CODES:
        if bits & bit:
            return code
    return "NoError"


def faulted(e):
    """Faulted: an error that blocks charging. A lost meter only pauses it (the
    connector is SuspendedEVSE with PowerMeterFailure), so it never counts here."""
    return bool(e.errors & e.blocking & ~K.ERR_METER)


class Adapter(NetMixin, SecurityMixin, MeterMixin):
    VERSION = ""                 # "1.6" / "2.0.1"
    PROTOCOL = ""                # "ocpp1.6" / "ocpp2.0.1"
    REQUESTS = None              # schema tables (generated)
    RESPONSES = None
    LAZY = None                  # {action: module} of handlers loaded per call (rare())
    _sign_busy = False           # firmware.ocpp.sign: a CSR is pending
    _signed = None               # ... and this is set when CertificateSigned came

    def __init__(self, station, settings, cfg, clock, persist, ssl=None, flash="/flash"):
        self.station = station
        self.settings = settings
        self.cfg = cfg
        self.clock = clock
        self.persist = persist           # dict-like saved state: boot reason etc.
        self.ssl = ssl                   # a fixed TLS context (tests, tools); None: from flash
        self.flash = flash
        self.rpc = None
        self.connected = False
        self.registration = REG_NONE
        self.boot_interval = 0
        self.reset_request = None        # set -> main reboots the station
        self.reset_event = asyncio.Event()
        self._wake = asyncio.Event()
        self._n = station.n
        self._sent = [None] * (self._n + 1)    # status the CSMS was last told, per connector
        self._triggers = []                    # (message, evse id or None), bounded
        self._t_offline = None                 # ticks when the link went down
        self._t_sent = 0                       # last message sent (heartbeat counts from it)
        self._t_sample = [0] * (self._n + 1)
        self._t_aligned = None
        self._sec_q = []                       # non-critical security events to send
        self._startup_sent = False
        self._clock_set = False
        self._t_aligned_tx = None              # clock-aligned slot of transaction samples
        self._pending_reset = None             # OnIdle / Soft reset waiting for sessions
        self._t_txs = [0] * (self._n + 1)      # last transaction sample per EVSE
        self._tx_init(flash)
        self._np_init()
        self.txq.wake = self._wake
        station.listeners.append(self._on_event)
        settings.listeners.append(self._on_setting)
        self._kernel_settings()

    # ------------------------------------------------------------ kernel events
    def _on_event(self, eid, event, data):
        self._tx_event(eid, event, data)
        self._wake.set()

    def _on_setting(self, name):
        if name == "WebSocketPingInterval" and self._cli is not None:
            self._cli.ping_interval_s = self.settings.get(name)
        elif name in ("StopTransactionOnEVSideDisconnect", "UnlockConnectorOnEVSideDisconnect"):
            self._kernel_settings()

    def _kernel_settings(self):
        """EV-side disconnect (1.6 3.6 / 2.0.1 TxCtrlr.StopTxOnEVSideDisconnect): stop
        the transaction, or keep it (and the connector locked unless told to unlock)."""
        s = self.settings
        for e in self.station.evses:
            e.hold_on_unplug = not s.get("StopTransactionOnEVSideDisconnect")
            e.unlock_on_unplug = bool(s.get("UnlockConnectorOnEVSideDisconnect"))

    _cli = None
    _booting = False

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
        try:
            await self._connect_loop(attempt)
        finally:
            txt.cancel()

    def _tls(self):
        """The TLS context for this attempt: a fixed one if given, else made fresh from
        the certificate store (firmware.tlsctx), so newly installed certificates count
        at the next connect. None for ws://. Raises ValueError when wss:// cannot be
        verified (no CSMS root, profile 3 without a station certificate)."""
        if not self.url().startswith("wss://"):
            return None
        if self.ssl is not None:
            return self.ssl
        from firmware import tlsctx
        ctx, why = tlsctx.make(self.flash, self.np.profile(), self.cfg.get("ca"),
                               self.clock.now(), self._tls_fallback)
        if ctx is None:
            raise ValueError(why)
        return ctx

    _tls_fallback = False        # this attempt may verify with the fallback CSMS root too

    def _tls_result(self, ok):
        """M05.FR.12/13: try the new CSMS root alone; after a failure, once with the
        fallback as well; a connection verified by the new one alone drops the fallback."""
        if not self.url().startswith("wss://") or self.ssl is not None:
            return
        from firmware import certs
        if ok and not self._tls_fallback and certs.has_fallback(self.flash):
            log.info("certs", "new CSMS root verified the connection: fallback root dropped")
            certs.drop_fallback(self.flash)
        self._tls_fallback = not ok and not self._tls_fallback and certs.has_fallback(self.flash)

    async def _connect_loop(self, attempt):
        while True:
            s = self.settings
            try:
                ctx = self._tls()
            except ValueError as e:         # nothing to verify the CSMS with: no attempt
                log.error("ocpp", "not connecting to %s: %s", self.url(), e)
                self._np_failed()
                attempt += 1
                await asyncio.sleep_ms(self._backoff_ms(attempt))
                continue
            kept = "ws.handshake" in sys.modules    # loaded by someone else: theirs
            try:
                cli = await ws.connect(self.url(), protocols=(self.PROTOCOL,), auth=self._auth(),
                                       ssl=ctx, timeout_ms=s.get("MessageTimeout") * 1000,
                                       max_size=self.cfg.get("max_message", 8192),
                                       ping_interval_s=s.get("WebSocketPingInterval"))
            except (ws.WSError, OSError, ValueError, MemoryError, ImportError) as e:
                # MemoryError: no room for the connection's buffers now; later there may be.
                # ImportError: a build without a network stack (the plain Pico: no socket)
                cli = e
            if not kept:
                # the handshake code (about 3 KB on a 32-bit board) is needed again at the
                # next connect only (ws loads it then); its names stay made
                unload("ws.handshake")
                unload("ws.sha1")
            if isinstance(cli, Exception):
                log.warn("ocpp", "connect %s failed: %s", self.url(), cli)
                self._tls_failed(cli)
                self._tls_result(False)
                self._np_failed()
                attempt += 1
                await asyncio.sleep_ms(self._backoff_ms(attempt))
                continue
            attempt = 0
            self._tls_latched = None
            self._tls_result(True)
            self.np.connected()
            await self._serve(cli)
            await asyncio.sleep_ms(self._backoff_ms(1))

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
                             timeout_ms=self.settings.get("MessageTimeout") * 1000)
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
            self._after_connect()
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

    def _after_connect(self):
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
        for k in range(self._first_connector(), self._n + 1):
            st = self.status(k)
            if st != self._sent[k]:
                await self.send("StatusNotification", self.status_payload(k, st))
                self._sent[k] = st

    def _first_connector(self):
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
                ks = range(self._first_connector(), self._n + 1) if eid is None else (eid,)
                for k in ks:
                    st = self.status(k)
                    await self.send("StatusNotification", self.status_payload(k, st))
                    self._sent[k] = st
            elif msg == "MeterValues":
                ks = range(0, self._n + 1) if eid is None else (eid,)
                for k in ks:
                    await self.send("MeterValues", self.meter_payload(
                        k, "Trigger", self.sampled_measurands()))
            else:
                await self.send_triggered(msg, eid)
        return booted

    async def send_triggered(self, msg, eid):
        """Version-specific triggered messages."""

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
        self.reset_request = reason
        self.reset_event.set()

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
        fn = getattr(self, "on_" + action, None)
        if fn is not None:
            return await fn(payload)
        mod = self.LAZY.get(action) if self.LAZY else None
        if mod is None:
            raise ocppj.CallError("NotImplemented", "Action not supported")
        return await self.rare(mod, "on_" + action, payload)

    async def rare(self, mod, name, *args):
        """Awaits mod.name(self, *args), the module imported for it and, with every
        other module the call loaded, dropped after: handlers a station needs rarely
        (certificates, signing, network profiles) take no heap between their calls. A
        task such a function started keeps what it runs alive on its own. Modules
        loaded here must keep no state of their own between calls."""
        had = set(sys.modules)
        try:
            m = __import__(mod, None, None, ("_",))
            return await getattr(m, name)(self, *args)
        finally:
            unload_since(had)
            gc.collect()

    def gate(self, action):
        """Registration rules for incoming calls; returns a callable producing the
        answer to give instead of handling, or None to handle (version specific)."""
        return None


def unload(mod):
    """Forgets module `mod` (sys.modules and its package's attribute): its code and
    objects go with the last reference to them."""
    m = sys.modules.pop(mod, None)
    pkg, _, leaf = mod.rpartition(".")
    p = sys.modules.get(pkg)
    if m is not None and p is not None and getattr(p, leaf, None) is m:
        delattr(p, leaf)


def unload_since(had):
    """Forgets every module loaded since `had` (a set of sys.modules names)."""
    for k in [k for k in sys.modules if k not in had]:
        unload(k)
