"""Boot: configuration and state from flash, the kernel, the safety tick, the OCPP
adapter. run() returns when the station must reboot; the board's entry point reboots
(machine.reset on boards, an in-process restart in the simulator)."""
from micropython import const
import asyncio
import gc
import time
from firmware import log, memory
from firmware.clock import Clock
from firmware.persist.settings import Settings
from firmware.persist.state import Persist
from firmware.evse.station import Station
from firmware.evse.evse import STATE_NAMES
from firmware.diag.flashlog import FlashLog

_IO_MS = const(20)
_PUBLISH_MS = const(100)
_MONITOR_MS = const(10)
_QUIET_MS = const(250)          # the simulator's io period while board.quiet()
_QUIET_MONITOR_MS = const(1000) # ... and the loop monitor's (a stall is measured all the same)
_RESTART_MS = const(1000)       # the OCPP adapter started again this long after a failure

current = None          # the Firmware running now: firmware.repl finds it here


def preload(version, tls=False):
    """Boards call it first thing at boot: the log ring, the collector's threshold, the
    room for TLS's buffers if `tls` (a wss:// CSMS) and the OCPP adapter of `version`
    loaded while the heap is in one piece (firmware.memory.preload says why)."""
    memory.preload(lambda: _adapter_class(version), tls)


def _adapter_class(version):
    if version == "2.0.1":
        from firmware.ocpp.v201.core import Adapter201 as cls
    else:
        from firmware.ocpp.v16.core import Adapter16 as cls
    return cls


def make_adapter(station, settings, cfg, clock, persist, ssl=None, flash="/flash"):
    return _adapter_class(cfg["ocpp"])(station, settings, cfg, clock, persist, ssl, flash)


class Firmware:
    """Everything one boot creates; kept on one object so the REPL can reach it."""

    def __init__(self, board, cfg, flash="/flash", ssl=None, clock=None):
        self.board = board
        self.cfg = cfg
        self.settings = Settings(flash + "/settings.json",
                                 defaults={"SecurityProfile": cfg["profile"],
                                           "BasicAuthPassword": cfg["password"]})
        self.settings.load()
        self.persist = Persist(flash + "/state.json")
        self.persist.load()
        self.clock = clock or Clock()
        self.station = Station(board, cfg, self.persist, self.clock)
        self.station.load()
        self.flashlog = FlashLog(flash, self.clock)     # the logs on flash (GetLog)
        self.adapter = make_adapter(self.station, self.settings, cfg, self.clock, self.persist,
                                    ssl, flash)
        self.settings.listeners.append(self._on_setting)
        self._on_setting("ConnectionTimeOut")
        self.tasks = []
        self.stall_max_ms = 0           # longest time the asyncio loop was blocked
        self.loop_beat = 0              # bumped by the loop monitor (watchdogs read it)
        self.ocpp_restarts = 0          # the adapter started again after a failure ...
        self.ocpp_failure = None        # ... the last one's exception name

    def _on_setting(self, name):
        if name == "ConnectionTimeOut":
            for e in self.station.evses:
                e.plugin_timeout_s = self.settings.get(name)

    async def run(self):
        global current
        current = self
        self.task = asyncio.current_task()      # firmware.repl.run() continues it
        st = self.station
        st.start_tick()
        self.tasks = [asyncio.create_task(st.run()), asyncio.create_task(self._adapter_run()),
                      asyncio.create_task(self._loop_monitor()),
                      asyncio.create_task(self.adapter.smart.run())]
        if hasattr(self.board, "inputs"):
            self.tasks.append(asyncio.create_task(self._board_io()))
        self.tasks.append(asyncio.create_task(self.flashlog.run()))
        try:
            await self.adapter.reset_event.wait()
            log.warn("main", "reset: %s", self.adapter.reset_request)
            await self.adapter.shutdown()
            return self.adapter.reset_request
        finally:
            for t in self.tasks:
                t.cancel()
            st.stop_tick()
            for i in range(st.n):
                self.board.relay[i].set(False)      # never leave power on across a reboot
            self.flashlog.flush()                   # the last lines before the reboot

    async def _adapter_run(self):
        # a board with a network: link up and clock set first (bounded, board.ready)
        if hasattr(self.board, "ready"):
            await self.board.ready()
        while True:
            try:
                await self.adapter.run()
                return
            except Exception as e:      # noqa: BLE001
                # OCPP must not stop for good on one failure (no heap left while it
                # connects, a bug) while the loop, and so the watchdog, run on: the
                # station would look alive and be offline until a power cycle
                log.error("main", "ocpp stopped: %r: starting it again", e)
                self.ocpp_restarts += 1
                self.ocpp_failure = type(e).__name__
                await asyncio.sleep_ms(_RESTART_MS)

    async def _loop_monitor(self):
        """Measures how long the loop was blocked: a 10 ms sleep that comes back late
        by more than its period means something held the loop that long."""
        quiet = getattr(self.board, "quiet", None)      # the simulator: idle cost
        t = time.ticks_ms()
        while True:
            p = _QUIET_MONITOR_MS if quiet is not None and quiet() else _MONITOR_MS
            await asyncio.sleep_ms(p)
            now = time.ticks_ms()
            late = time.ticks_diff(now, t) - p
            if late > self.stall_max_ms:
                self.stall_max_ms = late
            t = now
            self.loop_beat += 1

    async def _board_io(self):
        """Simulator inputs (RFID tags, loop stalls) and the status it publishes."""
        b, ad, st = self.board, self.adapter, self.station
        t_pub = t_probe = stalls = 0
        peak = used = 0
        probe = getattr(b, "heap_probe", False)
        quiet = getattr(b, "quiet", None)
        while True:
            now = time.ticks_ms()
            if probe and time.ticks_diff(now, t_probe) >= 500:
                # live heap: what stays allocated after a collection (bench only)
                t_probe = now
                gc.collect()
                used = gc.mem_alloc()
                if used > peak:
                    peak = used
            for ev in b.inputs():
                if ev[0] == "stall":
                    stalls += 1
                    b.publish(-1, stalls=stalls)    # seen at once: the stall has begun
                    time.sleep_ms(ev[1])            # blocks the loop on purpose (safety tests)
                elif ev[0] == "tag":
                    log.info("main", "tag %s at evse %d", ev[2], ev[1] + 1)
                    ad.on_tag(ev[1] + 1, ev[2])
                elif ev[0] == "iso":              # the board's ISO 15118 stand-in
                    asyncio.create_task(b.iso_request(st, ev[1] + 1, ev[2]))
            if time.ticks_diff(now, t_pub) >= _PUBLISH_MS:
                t_pub = now
                b.publish(-1, connected=ad.connected, registration=ad.registration,
                          ocpp=ad.VERSION, heap_used=used, heap_peak=peak,
                          loop_stall_max_ms=self.stall_max_ms, tx_queue=ad.txq.count(),
                          loop_beat=self.loop_beat, tags=ad.tags_done,
                          reservations=[(r[0], r[1]) for r in st.resv.items])
                for e in st.evses:
                    s = ad.status(e.id)
                    t = ad.tx(e.id)
                    r = e.reserved()
                    b.publish(e.id - 1, ocpp_status=s if isinstance(s, str) else s[0],
                              state=STATE_NAMES[e.state], errors=e.errors, limit_a=e.limit_a,
                              limit_src=ad.smart.limit_source(e.id),
                              tx_id=None if t is None else str(t.get("id") or t.get("ltx")),
                              reservation=None if r is None else (r[0], r[2], r[4]))
            await asyncio.sleep_ms(_QUIET_MS if quiet is not None and quiet() else _IO_MS)


async def run(board, cfg, flash="/flash", ssl=None):
    fw = Firmware(board, cfg, flash, ssl)
    return await fw.run()
