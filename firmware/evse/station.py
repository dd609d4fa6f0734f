"""The station: its EVSEs, availability that survives a reboot, the safety tick, the
meter poll, and the event fan-out to the OCPP adapter (which never touches hardware)."""
from micropython import const
import asyncio
import gc
import time
from firmware import log
from firmware.evse.evse import Evse
from firmware.evse.reserve import Reservations

_POLL_MS = const(50)
_METER_MS = const(1000)
_METER_FAILS = const(3)       # consecutive failed reads before PowerMeterFailure
_TICK_MS = const(10)
_RESV_MS = const(1000)        # reservation expiry looked at about once a second
_QUIET_MS = const(250)        # poll period while the simulator's world is quiet (board.quiet)
_OWED = const(6)              # events kept per EVSE for a listener out of heap (emit)


class Station:
    iso_handler = None      # the 2.0.1 adapter, for an ISO 15118 stack (evse.iso15118)

    def __init__(self, board, cfg, persist, clock=None):
        self.board = board
        self.n = board.n_evse
        self._persist = persist
        self.listeners = []
        # events a listener could not take (MemoryError twice): a ring, preallocated so
        # that keeping one allocates nothing; handed over again at the next poll, in order
        n = self.n * _OWED
        self._o_fn = [None] * n
        self._o_eid = [0] * n
        self._o_ev = [None] * n
        self._o_data = [None] * n
        self._o_head = 0
        self.owed = 0               # events in the ring
        self.evses = [Evse(i + 1, board, cfg, self.emit) for i in range(self.n)]
        # availability as the CSMS set it: index 0 = the whole station
        self.avail = [True] * (self.n + 1)
        self.held = False           # hold(): unavailable for now, not saved
        self._meter_fails = [0] * self.n
        self._read_now = None
        self.meter_cycle = 0        # read cycles started (a reading fresher than now: + 1)
        self.resv = Reservations(self, persist)     # firmware.evse.reserve
        self.resv.clock = clock
        for e in self.evses:
            e.resv = self.resv

    # ------------------------------------------------------------ events
    def emit(self, eid, event, data):
        log.debug("evse", "%d %s %r", eid, event, data)
        for fn in self.listeners:
            if self.owed:               # an older event first: this one waits its turn
                self._owe(fn, eid, event, data)
            elif not self._call(fn, eid, event, data, True):
                self._owe(fn, eid, event, data)

    def _call(self, fn, eid, event, data, again):
        """One listener, one event; False when it found no heap (kept by the caller).
        A listener that failed with MemoryError took nothing (it may be called again)."""
        try:
            fn(eid, event, data)
            return True
        except MemoryError:
            # a full or fragmented heap: collect and try once more, else keep the event
            gc.collect()
            if again:
                return self._call(fn, eid, event, data, False)
            return False
        except Exception as ex:     # noqa: BLE001
            # the kernel's poll called us: an adapter's failure (a bug) must not end
            # the control loop of every EVSE
            log.error("evse", "evse %d %s: listener failed: %r", eid, event, ex)
            return True

    def _owe(self, fn, eid, event, data):
        n = len(self._o_fn)
        if self.owed >= n:
            log.error("evse", "evse %d %s: listener out of memory, %d events kept: lost",
                      eid, event, n)
            return
        i = (self._o_head + self.owed) % n
        self._o_fn[i] = fn
        self._o_eid[i] = eid
        self._o_ev[i] = event
        self._o_data[i] = data
        self.owed += 1

    def deliver_owed(self):
        """The events kept for a listener out of heap, oldest first (run: each poll)."""
        n = len(self._o_fn)
        while self.owed:
            i = self._o_head
            if not self._call(self._o_fn[i], self._o_eid[i], self._o_ev[i], self._o_data[i],
                              False):
                return                  # still no heap: the next poll
            self._o_fn[i] = self._o_data[i] = None
            self._o_head = (i + 1) % n
            self.owed -= 1

    def evse(self, eid):
        """1-based EVSE, or None for an id out of range."""
        if 1 <= eid <= self.n:
            return self.evses[eid - 1]
        return None

    # ------------------------------------------------------------ availability
    def load(self):
        a = self._persist.get("avail")
        if isinstance(a, list) and len(a) == self.n + 1:
            self.avail = [bool(x) for x in a]
        self._apply()
        self.resv.load()

    def reserve(self, rid, eid, token, parent=None, expiry=None):
        """A reservation of EVSE eid, 0 = any EVSE (Evse.reserve for one EVSE)."""
        return self.resv.reserve(rid, eid, token, parent, expiry)

    def cancel_reservation(self, rid):
        return self.resv.cancel(rid)

    def _apply(self):
        for e in self.evses:
            e.enable(self.avail[0] and self.avail[e.id] and not self.held)

    def hold(self, on):
        """Every EVSE unavailable for now (not saved: a reboot ends it), a session in
        progress finishing first: a firmware install waiting for the transactions to
        end starts no new ones (OCPP 2.0.1 L01.FR.07)."""
        self.held = bool(on)
        self._apply()

    def change_availability(self, eid, operative):
        """eid 0 = the station. Returns "Accepted", "Scheduled" or "Rejected"
        (OCPP 1.6 5.2, 2.0.1 G03/G04: a session in progress finishes first)."""
        if not 0 <= eid <= self.n:
            return "Rejected"
        self.avail[eid] = bool(operative)
        self._persist["avail"] = self.avail
        try:
            self._persist.save()
        except OSError as e:
            log.error("station", "availability not saved: %s", e)
            return "Rejected"
        self._apply()
        targets = self.evses if eid == 0 else [self.evses[eid - 1]]
        for e in targets:
            if not operative and e.in_session():
                return "Scheduled"
        return "Accepted"

    def busy(self):
        for e in self.evses:
            if e.in_session():
                return True
        return False

    # ------------------------------------------------------------ tasks
    def tick(self):
        for e in self.evses:
            e.tick()

    def start_tick(self):
        self.board.start_tick(self.tick, _TICK_MS)

    def stop_tick(self):
        self.board.stop_tick()

    async def run(self):
        """The kernel's asyncio side: state machines every 50 ms; meters in a task of
        their own, so a silent meter (seconds of Modbus retries) never delays them."""
        self._read_now = asyncio.Event()
        meters = asyncio.create_task(self._meter_loop())
        quiet = getattr(self.board, "quiet", None)     # the simulator only: idle cost
        try:
            while True:
                now = time.ticks_ms()
                if self.owed:
                    self.deliver_owed()
                for e in self.evses:
                    e.poll(now)
                rv = self.resv
                if rv.items and time.ticks_diff(now, rv.t_poll) >= _RESV_MS:
                    rv.t_poll = now
                    rv.poll()
                await asyncio.sleep_ms(_QUIET_MS if quiet is not None and quiet() else _POLL_MS)
        finally:
            meters.cancel()

    def read_meters_now(self):
        """Ask for a reading at once (a transaction ends: its meterStop)."""
        if self._read_now is not None:
            self._read_now.set()

    async def _meter_loop(self):
        ev = self._read_now
        while True:
            t0 = time.ticks_ms()
            await self._read_meters()
            wait = _METER_MS - time.ticks_diff(time.ticks_ms(), t0)
            if ev.is_set():
                ev.clear()
                continue
            try:
                await asyncio.wait_for_ms(ev.wait(), wait if wait > 10 else 10)
            except asyncio.TimeoutError:
                pass
            ev.clear()

    async def _read_meters(self):
        b = self.board
        self.meter_cycle += 1
        c = self.meter_cycle
        for i, e in enumerate(self.evses):
            try:
                wh, w, v, a = await b.meter[i].read()
                e.meter(wh, w, v, a)
                e.meter_cycle = c
                e.meter_seen = True
                self._meter_fails[i] = 0
                e.meter_fail = False
            except (OSError, ValueError) as ex:
                self._meter_fails[i] += 1
                if self._meter_fails[i] >= _METER_FAILS and not e.meter_fail:
                    log.warn("meter", "evse %d meter lost: %s", e.id, ex)
                    e.meter_fail = True
            if hasattr(b, "temp_c"):
                e.temp_c = b.temp_c(i)

    def energy_wh(self):
        """Main meter (evse 0): the sum of the EVSE meters."""
        return sum(e.energy_wh for e in self.evses)
