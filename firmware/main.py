"""Boot: configuration and state from flash, the kernel, the safety tick, the OCPP
adapter. run() returns when the station must reboot; the board's entry point reboots
(machine.reset on boards, an in-process restart in the simulator)."""
from micropython import const
import asyncio
import gc
import sys
import time
from firmware import log
from firmware.clock import Clock
from firmware.settings import Settings, Persist
from firmware.evse.station import Station
from firmware.evse.evse import STATE_NAMES

_IO_MS = const(20)
_PUBLISH_MS = const(100)
_MONITOR_MS = const(10)
_RESTART_MS = const(1000)       # the OCPP adapter started again this long after a failure

current = None          # the Firmware running now: firmware.repl finds it here
_GC_EVERY_MIN = const(4096)     # preload: collect after at least this many bytes allocated


def preload(version):
    """Loads the OCPP adapter of `version` (and with it the WebSocket and RPC code) now.
    Boards call it first thing at boot, while the heap is still in one piece: code and
    the name pools that grow with it are the largest allocations the firmware makes,
    and once runtime objects have cut the heap into pieces a later import may find no
    room for them, although enough is free in all.

    It also sets the collector to run after every quarter of the heap allocated (40 KB
    of a Pico W's), not only when an allocation fails: garbage then goes while it is
    young, new objects fill the holes low in the heap, and the free heap stays in larger
    pieces (the frozen firmware's smallest heap for the complete session: 96-100 KiB
    against 104 KiB for 2.0.1 without it, docs/memory.md). A twentieth did as well for
    the heap but cost 40 % of the messages per second when a queue is replayed (each
    collection marks the whole live heap). A collection costs the loop a few ms; the
    safety path does not wait for the loop."""
    gc.collect()
    gc.threshold(max(_GC_EVERY_MIN, (gc.mem_free() + gc.mem_alloc()) // 4))
    log.reserve()
    a = _adapter_class(version)
    # the per-call handlers every CSMS uses at once (1.6 Get/ChangeConfiguration, 2.0.1
    # Get/SetVariables): loaded and dropped again, so the names they add are made now.
    # Name pools grow in steps (doubling: 9 KB at once on a 32-bit unix port), and a
    # step later, in a heap in pieces, can fail where it fits now
    from firmware.ocpp.base import unload_since
    had = set(sys.modules)
    for mod in a.PRELOAD_NAMES:
        __import__(mod)
    unload_since(had)
    gc.collect()


def _adapter_class(version):
    if version == "2.0.1":
        from firmware.ocpp.v201.core import Adapter201 as A
    else:
        from firmware.ocpp.v16.core import Adapter16 as A
    return A


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
        self.station = Station(board, cfg, self.persist)
        self.station.load()
        self.adapter = make_adapter(self.station, self.settings, cfg, self.clock, self.persist,
                                    ssl, flash)
        self.settings.listeners.append(self._on_setting)
        self._on_setting("ConnectionTimeOut")
        self.tasks = []
        self.stall_max_ms = 0           # longest time the asyncio loop was blocked
        self.loop_beat = 0              # bumped by the loop monitor (watchdogs read it)

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
                      asyncio.create_task(self._loop_monitor())]
        if hasattr(self.board, "inputs"):
            self.tasks.append(asyncio.create_task(self._board_io()))
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
                await asyncio.sleep_ms(_RESTART_MS)

    async def _loop_monitor(self):
        """Measures how long the loop was blocked: a 10 ms sleep that comes back late
        by more than its period means something held the loop that long."""
        t = time.ticks_ms()
        while True:
            await asyncio.sleep_ms(_MONITOR_MS)
            now = time.ticks_ms()
            late = time.ticks_diff(now, t) - _MONITOR_MS
            if late > self.stall_max_ms:
                self.stall_max_ms = late
            t = now
            self.loop_beat += 1

    async def _board_io(self):
        """Simulator inputs (RFID tags, loop stalls) and the status it publishes."""
        b, ad, st = self.board, self.adapter, self.station
        t_pub = t_probe = 0
        peak = used = 0
        probe = getattr(b, "heap_probe", False)
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
                          loop_stall_max_ms=self.stall_max_ms, tx_queue=ad.txq.count())
                for e in st.evses:
                    s = ad.status(e.id)
                    t = ad.tx(e.id)
                    b.publish(e.id - 1, ocpp_status=s if isinstance(s, str) else s[0],
                              state=STATE_NAMES[e.state], errors=e.errors,
                              tx_id=None if t is None else str(t.get("id") or t.get("ltx")))
            await asyncio.sleep_ms(_IO_MS)


async def run(board, cfg, flash="/flash", ssl=None):
    fw = Firmware(board, cfg, flash, ssl)
    return await fw.run()
