"""The simulated physical world: per EVSE an EV, the pilot wiring, relay contacts, the
lock, the RCD, a three-phase meter, a temperature sensor and injected faults. It runs in
its own thread (start()), stepping every ~10 ms (every QUIET_MS while quiet(): no EV, no
relay, no fault), and serves the control channel from that same thread between steps,
so it keeps answering while the firmware is stalled.

Threads (no GIL on the unix port): every shared value lives in a slot preallocated in
__init__ (bytearray / array), and every slot has exactly one writer thread:
- written by the HAL objects on the firmware's threads (safety tick, asyncio):
  pmode, duty, relay_cmd, open_t, opens, lock_cmd;
- written by the world thread: everything else (EV state, contacts, lock feedback,
  RCD, meter values, temperature, faults, fault timing).
Meter values are read under a sequence counter (seq: odd while the world writes).
Times stored in slots are clock() values, time.ticks_ms() & _MASK by default (32-bit
arrays read without allocating); compare them with tdiff()."""
from micropython import const
import array
import os
import sys
import time
import _thread

_X1 = const(0)                 # pilot modes (Pilot.x1 / .pwm / .f)
_PWM = const(1)
_F = const(2)
_EV_A = const(0)               # EV pilot states, index into CP_MV / "ABCDE"
_EV_B = const(1)
_EV_C = const(2)
_EV_D = const(3)
_EV_E = const(4)
CP_MV = (12000, 9000, 6000, 3000, 0)
LETTERS = "ABCDE"
FAULTS = ("rcd", "weld", "lock", "meter", "diode", "overtemp")   # bit n = 1 << n
_F_RCD = const(1)
_F_WELD = const(2)
_F_LOCK = const(4)
_F_METER = const(8)
_F_DIODE = const(16)
_F_OVERTEMP = const(32)

_MASK = const(0x3FFFFFFF)
_VOLTS = const(230)
_PHASES = const(3)
_EV_DELAY_MS = const(200)     # the EV answers a valid PWM offer (B -> C) after this
_TEMP_DC = const(250)         # 25.0 C ambient, + 0.1 C per A flowing
_TEMP_HOT_DC = const(850)     # injected overtemp: 85.0 C
_MAX_DT = const(1000)
QUIET_MS = const(100)         # the world's step (and the sim's safety tick) while quiet()


def now_t():
    return time.ticks_ms() & _MASK


def tdiff(a, b):
    """a - b for two masked tick values, in -2**29 .. 2**29."""
    d = (a - b) & _MASK
    return d - _MASK - 1 if d > (_MASK >> 1) else d


def offer_ma(mode, duty):
    """Offered current from the PWM duty (IEC 61851-1 Table A.8), mA; 0 if not 10-96 %."""
    if mode != _PWM or duty < 100 or duty > 960:
        return 0
    if duty <= 850:
        return duty * 60
    return (duty - 640) * 250


def _zeros(tc, n, v=0):
    return array.array(tc, [v] * n)


class World:
    def __init__(self, n, ev_max_a=32, capacity_wh=50000, soc_pct=50, ramp_a_s=5,
                 step_ms=10, clock=None):
        self.n = n
        self.clock = clock or now_t           # -> ms & _MASK; injectable for tests
        self.step_ms = step_ms
        self.ramp_ma_s = int(ramp_a_s * 1000)
        self.capacity_mj = int(capacity_wh) * 3600000
        # firmware -> world (HAL objects)
        self.pmode = bytearray(n)
        self.duty = _zeros("H", n, 1000)
        self.relay_cmd = bytearray(n)
        self.open_t = _zeros("i", n)
        self.opens = _zeros("I", n)
        self.lock_cmd = bytearray(n)
        # world -> firmware
        self.ev_cp = bytearray(n)
        self.faults = bytearray(n)
        self.contacts = bytearray(n)
        self.lock_fb = bytearray(n)
        self.rcd = bytearray(n)
        self.seq = _zeros("I", n)
        self.energy_mj = _zeros("q", n)
        self.ma = _zeros("i", n)
        self.watts = _zeros("i", n)
        self.temp_dc = _zeros("i", n, _TEMP_DC)
        # world only
        self.plugged = bytearray(n)
        self.manual = bytearray(n)            # 0: the EV model decides; else 1 + EV state
        self.ev_max_ma = _zeros("i", n, int(ev_max_a * 1000))
        self.force = bytearray(n)             # draw ev_max whatever the offer (bad EV)
        self.batt_mj = _zeros("q", n, int(self.capacity_mj * soc_pct // 100))
        self.t_valid = _zeros("i", n, -1)     # when a valid PWM offer was first seen
        self.fault_kind = bytearray(n)        # 1 + index in FAULTS of the last injected
        self.fault_t = _zeros("i", n)
        self.fault_opens = _zeros("I", n)
        self.fault_pending = bytearray(n)
        self.fault_ms = _zeros("i", n, -1)    # injected -> relay commanded open
        # thread
        self.control = None                   # served between steps when set
        self.running = False
        self.alive = False
        self.steps = 0
        self.errors = 0
        self._t_last = self.clock()

    # ------------------------------------------------------------ thread
    _reg_path = None
    _reg_saved = None

    def keep_registers(self, path):
        """The meters' registers outlive the process, as a real meter's do across a
        station's power cut (SIGKILL, hard cut): loaded now, saved while they change
        (every 100 ms, atomically: written aside, then renamed)."""
        self._reg_path = path
        try:
            with open(path) as f:
                vals = f.read().split()
            for i in range(min(self.n, len(vals))):
                self.energy_mj[i] = int(vals[i])
        except (OSError, ValueError):
            pass

    def _save_registers(self):
        vals = " ".join(str(self.energy_mj[i]) for i in range(self.n))
        if vals == self._reg_saved:
            return
        with open(self._reg_path + ".tmp", "w") as f:
            f.write(vals)
        os.rename(self._reg_path + ".tmp", self._reg_path)
        self._reg_saved = vals

    def start(self):
        if self.alive:
            return
        self.running = True
        self.alive = True
        _thread.start_new_thread(self._loop, ())

    def stop(self, wait_ms=2000):
        self.running = False
        t0 = time.ticks_ms()
        while self.alive and time.ticks_diff(time.ticks_ms(), t0) < wait_ms:
            time.sleep_ms(2)

    def quiet(self):
        """True while nothing changes unless a command or the firmware changes it: no EV
        plugged (by the model or held by `ev`), every relay commanded open with its
        contacts open, no current, no fault injected, every lock where it was driven.
        Then the world steps every QUIET_MS and the simulator's safety tick slows to it
        (SimBoard._tick_loop); a command makes it busy at once (the control channel is
        served from this thread), and the firmware closes a relay only from its tick
        with an EV plugged. Allocation-free: the tick thread asks it."""
        for i in range(self.n):
            if self.plugged[i] or self.manual[i] or self.relay_cmd[i] or self.contacts[i] \
                    or self.faults[i] or self.ma[i] or self.lock_cmd[i] != self.lock_fb[i]:
                return False
        return True

    def _loop(self):
        try:
            nxt = time.ticks_ms()
            while self.running:
                period = QUIET_MS if self.quiet() else self.step_ms
                now = time.ticks_ms()
                wait = time.ticks_diff(nxt, now)
                if wait > period:                 # busy again: step at its rate now
                    nxt = time.ticks_add(now, period)
                    wait = period
                ctl = self.control
                try:
                    if ctl is not None:
                        ctl.serve(wait if wait > 0 else 0)
                    elif wait > 0:
                        time.sleep_ms(wait)
                    now = time.ticks_ms()
                    if time.ticks_diff(now, nxt) < 0:
                        continue
                    self.step()
                except Exception as e:            # a bug: keep the world and control alive
                    self._error(e)
                    now = time.ticks_ms()
                nxt = time.ticks_add(nxt, period)
                if time.ticks_diff(now, nxt) > 10 * period:
                    nxt = now                     # far behind (GC, host load): resync
        finally:
            self.alive = False

    def _error(self, e):
        self.errors += 1
        if self.errors <= 3:
            sys.print_exception(e)

    # ------------------------------------------------------------ physics
    def step(self):
        t = self.clock()
        dt = tdiff(t, self._t_last)
        self._t_last = t
        dt = 0 if dt < 0 else (_MAX_DT if dt > _MAX_DT else dt)
        for i in range(self.n):
            self._step(i, t, dt)
        self.steps += 1
        if self._reg_path and not self.steps % 10:
            self._save_registers()

    def _step(self, i, t, dt):
        f = self.faults[i]
        if self.relay_cmd[i]:
            self.contacts[i] = 1
        elif not f & _F_WELD:                      # welded contacts stay closed
            self.contacts[i] = 0
        if not f & _F_LOCK:                        # a broken actuator does not move
            self.lock_fb[i] = self.lock_cmd[i]
        self.rcd[i] = 1 if f & _F_RCD else 0
        cp = self._ev_state(i, t)
        self.ev_cp[i] = cp
        full = self.batt_mj[i] >= self.capacity_mj
        ma = 0
        if self.contacts[i] and (cp == _EV_C or cp == _EV_D) and not f & _F_RCD and not full:
            lim = self.ev_max_ma[i]
            off = offer_ma(self.pmode[i], self.duty[i])
            target = lim if self.force[i] or off > lim else off
            ma = self.ma[i]
            ma = target if ma >= target else min(target, ma + self.ramp_ma_s * dt // 1000)
        e_mj = _PHASES * _VOLTS * ma * dt // 1000
        self.seq[i] += 1
        self.energy_mj[i] += e_mj
        self.ma[i] = ma
        self.watts[i] = _PHASES * _VOLTS * ma // 1000
        self.seq[i] += 1
        self.batt_mj[i] += e_mj
        self.temp_dc[i] = _TEMP_HOT_DC if f & _F_OVERTEMP else _TEMP_DC + ma // 1000
        if self.fault_pending[i] and self.opens[i] != self.fault_opens[i]:
            self.fault_ms[i] = tdiff(self.open_t[i], self.fault_t[i])
            self.fault_pending[i] = 0

    def _ev_state(self, i, t):
        """The EV's own choice: A unplugged, B plugged, C when a valid PWM offer has been
        seen for _EV_DELAY_MS and the battery is not full; manual overrides win."""
        if not self.plugged[i]:
            return _EV_A
        m = self.manual[i]
        if m:
            return m - 1
        if self.batt_mj[i] >= self.capacity_mj or \
                not offer_ma(self.pmode[i], self.duty[i]):
            self.t_valid[i] = -1
            return _EV_B
        if self.t_valid[i] < 0:
            self.t_valid[i] = t
        return _EV_C if tdiff(t, self.t_valid[i]) >= _EV_DELAY_MS else _EV_B

    def levels(self, i, buf):
        """Pilot high and low levels in mV into buf[0], buf[1], as a sampler sees them
        now. Allocation-free: called from the safety tick through Pilot.sample."""
        m = self.pmode[i]
        cp = self.ev_cp[i]
        if m == _F:
            hi = lo = -12000
        elif cp == _EV_E:                          # short: both levels ~0
            hi = lo = 0
        else:
            hi = CP_MV[cp]
            lo = hi
            if m == _PWM:
                d = self.duty[i]
                if d == 0:
                    hi = lo = -12000
                elif d < 1000:
                    # the EV's diode blocks its load in the negative half; a shorted
                    # diode loads it too: low = -high (YETI / chargebyte diode check)
                    lo = -hi if cp != _EV_A and self.faults[i] & _F_DIODE else -12000
        buf[0] = hi
        buf[1] = lo
        return buf

    # ------------------------------------------------------------ commands (world thread)
    def plug(self, i):
        self.plugged[i] = 1
        self.manual[i] = 0
        self.t_valid[i] = -1
        self._step(i, self.clock(), 0)

    def unplug(self, i):
        self.plugged[i] = 0
        self.manual[i] = 0
        self._step(i, self.clock(), 0)

    def set_ev(self, i, state):
        """state: an EV_* value (held until plug/unplug/auto), or -1 for the model."""
        if state >= 0:
            self.plugged[i] = 1 if state != _EV_A else self.plugged[i]
            self.manual[i] = state + 1
        else:
            self.manual[i] = 0
            self.t_valid[i] = -1
        self._step(i, self.clock(), 0)

    def draw(self, i, amps, force=False):
        self.ev_max_ma[i] = int(amps * 1000)
        self.force[i] = 1 if force else 0

    def soc(self, i, pct):
        self.batt_mj[i] = int(self.capacity_mj * pct // 100)

    def fault(self, i, bit):
        """Injects a fault; times it to the next relay-open command if the relay is
        commanded closed now (else fault_ms stays -1: nothing to open)."""
        t = self.clock()
        self.faults[i] |= bit
        self.fault_kind[i] = _bit_index(bit) + 1
        self.fault_t[i] = t
        self.fault_ms[i] = -1
        self.fault_opens[i] = self.opens[i]
        self.fault_pending[i] = 1 if self.relay_cmd[i] else 0
        self._step(i, t, 0)

    def clear(self, i, bit):
        self.faults[i] &= ~bit
        self._step(i, self.clock(), 0)

    # ------------------------------------------------------------ status
    def evse_status(self, i):
        m = self.pmode[i]
        e_mj, ma, w = self.energy_mj[i], self.ma[i], self.watts[i]     # world thread: no race
        f = self.faults[i]
        k = self.fault_kind[i]
        return {
            "pilot": "F" if m == _F else LETTERS[self.ev_cp[i]],
            "pilot_mv": self.levels(i, [0, 0]),
            "pwm": ("x1", "pwm", "f")[m],
            "duty": self.duty[i] / 10 if m == _PWM else (100.0 if m == _X1 else 0.0),
            "offered_a": offer_ma(m, self.duty[i]) / 1000,
            "relay": bool(self.relay_cmd[i]),
            "contacts": bool(self.contacts[i]),
            "lock": bool(self.lock_fb[i]),
            "plugged": bool(self.plugged[i]),
            "ev": LETTERS[self.ev_cp[i]],
            "ev_max_a": self.ev_max_ma[i] / 1000,
            "soc": round(self.batt_mj[i] * 100 / self.capacity_mj, 2),
            "energy_wh": round(e_mj / 3600000, 2),
            "power_w": w,
            "current_a": ma / 1000,
            "temp_c": self.temp_dc[i] / 10,
            "faults": [FAULTS[b] for b in range(len(FAULTS)) if f & (1 << b)],
            "last_fault": FAULTS[k - 1] if k else None,
            "fault_pending": bool(self.fault_pending[i]),
            "fault_to_open_ms": self.fault_ms[i] if self.fault_ms[i] >= 0 else None,
        }


def _bit_index(bit):
    n = 0
    while bit > 1:
        bit >>= 1
        n += 1
    return n
