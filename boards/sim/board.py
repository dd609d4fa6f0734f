"""SimBoard: the Board HAL (docs/architecture.md) over the simulated world, plus the
safety-tick thread, the flash image, the status the firmware publishes and the inputs
the control channel queues for it.

    b = SimBoard(n_evse=1, flash_path="var/sim.img", control=("127.0.0.1", 7001),
                 meter_port=None)         # or a pty path: EVSE 1's meter speaks Modbus RTU
    b.start()                     # world thread (+ control channel)
    b.flash_mount("/flash")
    ...
    b.stop()
"""
from micropython import const
import os
import sys
import time
import _thread
import array
from firmware import log
from boards.sim import Reset
from boards.sim.world import World, QUIET_MS
from boards.sim.flash import FlashDevice, umount

_INPUTS = const(16)
_STOP_WAIT_MS = const(500)
_SPARE = const(8)
EVSE_KEYS = ("ocpp_status", "tx_id", "state", "errors", "error_code", "limit_a", "session")
STATION_KEYS = ("connected", "registration", "ocpp", "id", "csms", "heap_used", "heap_peak",
                "loop_stall_max_ms", "tx_queue", "loop_beat", "tags", "stalls")


_TAG = const(1)
_STALL = const(2)
_ISO = const(3)


# ---- the per-EVSE HAL objects ---------------------------------------------------------
# The per-EVSE HAL objects of the simulated board (docs/architecture.md, Board HAL).
# They only read and write the world's preallocated slots: Pilot, Relay, Lock and Rcd
# allocate nothing, so the safety tick may call them.

_ETIMEDOUT = const(110)
_X1 = const(0)                  # boards.sim.world's pilot modes (its pmode slots)
_PWM = const(1)
_F = const(2)
_F_METER = const(8)             # boards.sim.world's fault bit of "meter" (FAULTS index 3)
_VOLTS = const((230.0, 230.0, 230.0))


class Pilot:
    def __init__(self, world, i):
        self._w = world
        self._i = i

    def pwm(self, duty_permille):
        """1 kHz PWM at duty_permille (0-1000) of +12 V / -12 V."""
        d = duty_permille
        self._w.duty[self._i] = 0 if d < 0 else (1000 if d > 1000 else d)
        self._w.pmode[self._i] = _PWM

    def x1(self):
        """Steady +12 V, no PWM."""
        self._w.pmode[self._i] = _X1

    def f(self):
        """Steady -12 V: state F, EVSE unavailable."""
        self._w.pmode[self._i] = _F

    def sample(self, buf=None):
        """(high_mv, low_mv). With buf (2 slots, e.g. array("i", (0, 0))) the levels go
        into buf, nothing is allocated, and buf is returned."""
        if buf is None:
            b = [0, 0]
            self._w.levels(self._i, b)
            return (b[0], b[1])
        return self._w.levels(self._i, buf)


class Relay:
    def __init__(self, world, i):
        self._w = world
        self._i = i

    def set(self, on):
        w, i = self._w, self._i
        if on:
            w.relay_cmd[i] = 1
        elif w.relay_cmd[i]:
            w.open_t[i] = w.clock()       # before opens: the world reads opens first
            w.opens[i] += 1
            w.relay_cmd[i] = 0

    def feedback(self):
        """The auxiliary (mirror) contact: True while the main contacts are closed."""
        return self._w.contacts[self._i] == 1


class Lock:
    def __init__(self, world, i):
        self._w = world
        self._i = i

    def set(self, locked):
        self._w.lock_cmd[self._i] = 1 if locked else 0

    def feedback(self):
        return self._w.lock_fb[self._i] == 1


class Rcd:
    trips = 0                   # no pin interrupt here: the world is read by the tick

    def __init__(self, world, i):
        self._w = world
        self._i = i

    def tripped(self):
        return self._w.rcd[self._i] == 1


class Meter:
    """A three-phase meter on the EVSE's output (in the simulator: the world's physics)."""

    def __init__(self, world, i):
        self._w = world
        self._i = i

    async def read(self):
        """(wh, w, (v1, v2, v3), (a1, a2, a3)); OSError(ETIMEDOUT) while the `meter`
        fault is injected (no answer on the bus)."""
        w, i = self._w, self._i
        if w.faults[i] & _F_METER:
            raise OSError(_ETIMEDOUT)
        for _ in range(8):                    # seqlock: retry while the world writes
            s = w.seq[i]
            e_mj, ma, p = w.energy_mj[i], w.ma[i], w.watts[i]
            if not s & 1 and w.seq[i] == s:
                break
        a = ma / 1000
        return ((e_mj // 360000) / 10, p, _VOLTS, (a, a, a))


class _Ring:
    """A fixed-size single-producer single-consumer ring of control-channel inputs:
    ("tag", i, id), ("iso", i, json args) and ("stall", ms). The producer (the world thread) writes a slot, then
    advances head; the consumer (the firmware's asyncio thread) reads, then advances tail.
    Each index has one writer, so no lock is needed even without a GIL."""

    def __init__(self, size=16):
        self.size = size
        self._kind = bytearray(size)
        self._num = array.array("i", [0] * size)
        self._text = [None] * size        # preallocated: items are replaced, never added
        self._ht = array.array("I", [0, 0])   # head (producer), tail (consumer)

    def push(self, kind, num, text=None):
        """False when full (the input is dropped; the caller reports it)."""
        head = self._ht[0]
        nxt = (head + 1) % self.size
        if nxt == self._ht[1]:
            return False
        self._kind[head] = kind
        self._num[head] = num
        self._text[head] = text
        self._ht[0] = nxt
        return True

    def drain(self):
        """Pending inputs as tuples, oldest first; the ring is then empty."""
        out = []
        tail = self._ht[1]
        head = self._ht[0]
        while tail != head:
            k = self._kind[tail]
            if k == _TAG:
                out.append(("tag", self._num[tail], self._text[tail]))
            elif k == _ISO:
                out.append(("iso", self._num[tail], self._text[tail]))
            else:
                out.append(("stall", self._num[tail]))
            self._text[tail] = None
            tail = (tail + 1) % self.size
        self._ht[1] = tail
        return out


class Fields:
    """Fields the firmware publishes (one writer: its asyncio thread; one reader: the
    world thread). Preset keys live in a dict created once whose values are replaced,
    never added; other names claim one of _SPARE preallocated name/value slots."""

    def __init__(self, keys):
        self.d = dict((k, None) for k in keys)
        self.names = [None] * _SPARE
        self.vals = [None] * _SPARE

    def set(self, k, v):
        """False when k is new and every spare slot is taken."""
        if k in self.d:
            self.d[k] = v
            return True
        names = self.names
        for j in range(_SPARE):
            if names[j] == k or names[j] is None:
                self.vals[j] = v
                names[j] = k              # after the value: the reader sees both
                return True
        return False

    def clear(self):
        for k in self.d:
            self.d[k] = None
        for j in range(_SPARE):
            self.vals[j] = None

    def into(self, out):
        out.update(self.d)
        for j in range(_SPARE):
            k = self.names[j]
            if k is not None:
                out[k] = self.vals[j]
        return out


class SimBoard:
    def __init__(self, n_evse=1, flash_path=None, control=None, ev_max_a=32,
                 ev_capacity_wh=50000, ev_soc=50, ramp_a_s=5, flash_blocks=256,
                 step_ms=10, clock=None, meter_port=None):
        n = n_evse
        self.n_evse = n
        w = self.world = World(n, ev_max_a, ev_capacity_wh, ev_soc, ramp_a_s, step_ms,
                                   clock)
        self.pilot = [Pilot(w, i) for i in range(n)]
        self.relay = [Relay(w, i) for i in range(n)]
        self.lock = [Lock(w, i) for i in range(n)]
        self.rcd = [Rcd(w, i) for i in range(n)]
        self.meter = [Meter(w, i) for i in range(n)]
        if flash_path:
            w.keep_registers(flash_path + ".meter")
        self.bus_meter = None
        if meter_port:
            from boards.sim.busmeter import BusMeter
            self.meter[0] = self.bus_meter = BusMeter(meter_port)
        self.flash = None
        self.flash_state = None           # "mounted", "formatted", "reformatted"
        self._flash_path = flash_path
        self._flash_blocks = flash_blocks
        self._mounted = None
        self._control_addr = control
        self.control = None
        self.ring = _Ring(_INPUTS)
        # published by the firmware (asyncio thread)
        self.pub = [Fields(EVSE_KEYS) for _ in range(n)]
        self.pub_station = Fields(STATION_KEYS)
        self.pub_unknown = None           # last field name that found no slot
        self.boots = 0
        self.power_cuts = 0
        self.flash_faults = 0       # remounts after a failed flash write (store.fault)
        # safety tick (its own thread)
        self._tick_gen = 0                # generation allowed to run (starter writes)
        self._tick_started = 0            # last generation started (starter writes)
        self._tick_exited = 0             # last generation that ended (tick thread writes)
        self._tick_tid = None
        self.tick_max_ms = 0              # longest gap between two tick callbacks
        self.tick_count = 0
        self.tick_error = None

    # ------------------------------------------------------------ threads
    def start(self):
        """Starts the world thread and, when an address was given, the control channel
        (served from the world thread). Binding errors raise here."""
        if self._control_addr and self.control is None:
            from boards.sim.control import Control
            self.control = Control(self, self._control_addr)
            self.world.control = self.control
        self.world.start()

    def stop(self):
        self.stop_tick()
        self.world.stop()
        if self.control is not None:
            self.world.control = None
            self.control.close()
            self.control = None
        for r in self.relay:
            r.set(False)
        if self.bus_meter is not None:
            self.bus_meter.close()

    def start_tick(self, cb, period_ms):
        """Calls cb() every period_ms from a thread of its own, independent of asyncio.
        If cb raises, every relay is opened and the tick stops (tick_error says why).
        While the world is quiet (no EV plugged, relays open, no fault: World.quiet) the
        tick comes every QUIET_MS instead: a plug or a fault is seen within that, and the
        rate is period_ms again from then on, before any relay can close (the kernel
        closes it from the tick, with an EV in C). Boards keep their rate always."""
        self.stop_tick()
        self._tick_gen += 1
        self._tick_started = self._tick_gen
        _thread.start_new_thread(self._tick_loop, (self._tick_gen, cb, period_ms))

    def stop_tick(self):
        """Returns once the tick thread no longer calls cb (bounded wait)."""
        self._tick_gen += 1
        if self._tick_tid == _thread.get_ident():
            return                        # called from cb itself: the loop ends after it
        t0 = time.ticks_ms()
        while self._tick_exited != self._tick_started and time.ticks_diff(time.ticks_ms(), t0) < _STOP_WAIT_MS:
            time.sleep_ms(1)

    def _tick_loop(self, gen, cb, period):
        self._tick_tid = _thread.get_ident()
        w = self.world
        # time.sleep with a float: one nanosleep on the unix port, where time.sleep_ms
        # wakes every millisecond until done (most of an idle station's CPU); the floats
        # are made here, once: each is a heap object
        secs = tuple(i / 1000 for i in range(period + 1))
        quiet_s = QUIET_MS / 1000
        try:
            nxt = last = time.ticks_ms()
            p = period
            while self._tick_gen == gen:
                now = time.ticks_ms()
                gap = time.ticks_diff(now, last)
                last = now
                if p == period and gap > self.tick_max_ms:    # gaps at the full rate
                    self.tick_max_ms = gap
                try:
                    cb()
                except Exception as e:        # fail safe: power off, stop ticking
                    for r in self.relay:
                        r.set(False)
                    self.tick_error = repr(e)
                    sys.print_exception(e)
                    break
                self.tick_count += 1
                p = QUIET_MS if w.quiet() else period
                if p != period:
                    time.sleep(quiet_s)       # idle: no schedule kept
                    nxt = time.ticks_ms()
                    continue
                nxt = time.ticks_add(nxt, period)
                d = time.ticks_diff(nxt, time.ticks_ms())
                if d > 0:
                    time.sleep(secs[d if d <= period else period])
                else:
                    nxt = time.ticks_ms()
        finally:
            self._tick_tid = None
            self._tick_exited = gen

    # ------------------------------------------------------------ HAL
    def temp_c(self, i):
        return self.world.temp_dc[i] / 10

    def flash_mount(self, path="/flash"):
        """Mounts the littlefs image (created and formatted when new) at path."""
        if self._mounted == path:
            return path
        if self.flash is None:
            if not self._flash_path:
                raise ValueError("SimBoard: no flash_path")
            self.flash = FlashDevice(self._flash_path, self._flash_blocks)
        self.flash_state = self.flash.mount(path)
        self._mounted = path
        import store
        store.on_fault = self.flash_remount
        return path

    def flash_remount(self):
        """After a failed flash write (store.fault): littlefs's RAM state may no longer
        match the flash, so the image is mounted afresh (as a board does with "/")."""
        path = self._mounted
        if path and self.flash is not None:
            log.error("flash", "write failed: remounting the file system")
            self.flash_faults += 1
            umount(path)
            os.mount(self.flash.vfs(), path)

    def flash_power_on(self):
        """After a soft power cut: the flash works again and is mounted afresh (what
        the next boot of a board would find)."""
        path = self._mounted
        if path:
            umount(path)
            self._mounted = None
        self.flash = self.flash.reborn()
        self.power_cuts += 1
        if path:
            self.flash_mount(path)

    def reset(self, reason="reset"):
        """Reboots the station: raises Reset, which the entry point catches."""
        raise Reset(reason)

    def quiet(self):
        """Nothing going on (World.quiet): the firmware's simulator-only tasks may wait
        longer between looks (firmware.main)."""
        return self.world.quiet()

    def reboot(self):
        """What a reset does to the outputs (the entry point calls it before booting the
        firmware again; the world keeps running): tick stopped, relays open, pilot
        +12 V, pending inputs and published status dropped. The lock stays put."""
        self.stop_tick()
        for i in range(self.n_evse):
            self.relay[i].set(False)
            self.pilot[i].x1()
        self.ring.drain()
        for f in self.pub:
            f.clear()
        self.pub_station.clear()
        self.boots += 1

    def publish(self, i, **fields):
        """The firmware's view for the control channel: i = EVSE index (0-based), -1 the
        station. Any names (EVSE_KEYS / STATION_KEYS are preset, up to _SPARE others
        each); a name beyond that is dropped and shown as publish_unknown. Lists are
        stored as tuples (the world thread reads them while the firmware runs on)."""
        f = self.pub_station if i == -1 else self.pub[i]
        for k in fields:
            v = fields[k]
            if not f.set(k, tuple(v) if isinstance(v, list) else v):
                self.pub_unknown = k

    def inputs(self):
        """Pending control-channel inputs, oldest first, then cleared:
        ("tag", i, id_str) with i 0-based, ("stall", ms)."""
        return self.ring.drain()

    def queue_tag(self, i, ident):
        return self.ring.push(_TAG, i, ident)

    def queue_iso(self, i, args_json):
        """An ISO 15118 stack's certificate request (control `iso`), for the firmware."""
        return self.ring.push(_ISO, i, args_json)

    async def iso_request(self, station, eid, args_json):
        """The firmware runs a queued `iso` request through firmware.evse.iso15118 as an ISO
        15118 stack would (boards.sim.commands.iso_request); the answer is published."""
        from boards.sim.commands import iso_request
        await iso_request(self, station, eid, args_json)

    def queue_stall(self, ms):
        return self.ring.push(_STALL, ms)

    # ------------------------------------------------------------ status
    def status(self):
        """The control channel's `status` reply (built on the world thread)."""
        st = self.pub_station.into({"ok": True})
        st["boots"] = self.boots
        st["power_cuts"] = self.power_cuts
        st["flash_faults"] = self.flash_faults
        if self.flash is not None:
            st["flash_ops"] = self.flash.ops
            st["nomem_hits"] = self.flash.nomem_hits
        st["flash"] = self.flash_state
        st["tick_max_ms"] = self.tick_max_ms
        st["ticks"] = self.tick_count
        st["world_steps"] = self.world.steps
        st["quiet"] = self.world.quiet()
        st["tick_error"] = self.tick_error
        st["world_errors"] = self.world.errors
        if self.pub_unknown:
            st["publish_unknown"] = self.pub_unknown
        evs = []
        for i in range(self.n_evse):
            e = self.world.evse_status(i)
            e["evse"] = i + 1
            self.pub[i].into(e)
            if i == 0 and self.bus_meter is not None:
                self.bus_meter.status(e)
            evs.append(e)
        st["evses"] = evs
        return st
