"""One EVSE (one physical connector): the IEC 61851-1 charging state machine, modelled on
EVerest's EvseManager Charger.

Two halves share preallocated state:
- tick(): the safety tick (machine.Timer on boards, a thread in the simulator). It
  samples the pilot, debounces it, detects faults and is the only code that switches
  the relay: it closes it only while the state machine asks for power (want_power) in
  state C (D with ventilation) without a blocking error, and opens it at once otherwise.
  It allocates nothing and never waits for asyncio, the network or the flash.
- poll(): the state machine, run from an asyncio task. It decides what to offer,
  authorizes, pauses, stops, and publishes session events to listeners.
"""
from micropython import const
import array
import time
from firmware.evse.pilot import CP_A, CP_B, CP_C, CP_D, CP_E, CP_F, CP_FAULT, classify, duty_permille

# Charger states (EVerest names)
DISABLED = const(0)
IDLE = const(1)
WAIT_AUTH = const(2)
PREPARE = const(3)
CHARGING = const(4)
PAUSED_EV = const(5)
PAUSED_EVSE = const(6)
STOPPING = const(7)
FINISHED = const(8)
STATE_NAMES = ("Disabled", "Idle", "WaitingForAuthentication", "PrepareCharging", "Charging",
               "ChargingPausedEV", "ChargingPausedEVSE", "StoppingCharging", "Finished")

# Error bits
ERR_RCD = const(1)
ERR_WELD = const(2)
ERR_LOCK = const(4)
ERR_METER = const(8)
ERR_DIODE = const(16)
ERR_OVERTEMP = const(32)
ERR_OVERCURRENT = const(64)
ERR_PILOT = const(128)
ERR_VENT = const(256)
ERR_RELAY = const(512)
ERROR_NAMES = ("RCD", "Weld", "Lock", "Meter", "Diode", "OverTemp", "OverCurrent",
               "Pilot", "Ventilation", "Relay")
_BLOCKING = const(0x3F7)      # every error but the meter blocks charging
_TICK_ERRS = const(ERR_RCD | ERR_DIODE | ERR_PILOT)   # bits the tick may raise
# Errors that end the session (charging resumes only after a new plug-in); a lost meter
# and over-temperature only pause it until they clear.
_ENDS_SESSION = const(_BLOCKING & ~(ERR_METER | ERR_OVERTEMP))

_STOP_WAIT_MS = const(6000)   # wait for the EV to go to B before opening under load
_F_MS = const(300)            # state F after a fault (IEC 61851-1 Table A.5 minimum)
_OC_MS = const(6000)          # overcurrent tolerated this long (EVerest)
_TEMP_DERATE = const(65)
_TEMP_STOP = const(71)
_TEMP_CLEAR = const(55)
_LOCK_TRIES = const(3)
_LOCK_MS = const(1000)        # lock feedback expected within this after driving it
_CLOSE_MS = const(500)        # relay feedback expected within this after closing

_SESSION_STATES = const((WAIT_AUTH, PREPARE, CHARGING, PAUSED_EV, PAUSED_EVSE, STOPPING, FINISHED))
_HOLD_STATES = const((PREPARE, CHARGING, PAUSED_EV, PAUSED_EVSE))


class Evse:
    def __init__(self, eid, board, cfg, emit):
        i = eid - 1
        self.id = eid
        self._pilot = board.pilot[i]
        self._relay = board.relay[i]
        self._lock = board.lock[i] if board.lock else None
        self._rcd = board.rcd[i] if board.rcd else None
        self._rcd_trips = self._rcd.trips if self._rcd is not None else 0
        self._emit = emit
        self.max_a = cfg.get("max_current", 32)
        self.ventilation = cfg.get("ventilation", False)
        self.free = cfg.get("auth", "free") == "free"
        # --- shared with the tick (preallocated, written as small ints only) ---
        self._buf = array.array("i", (0, 0))
        self.cp = CP_A            # debounced pilot state
        self._raw = CP_A
        self.pwm_on = False
        self._diode_n = 0
        self.want_power = False
        self.relay_on = False
        self.err_t = 0            # errors raised by the tick
        self._err_clear = 0       # clear requests from poll() to the tick
        self.opened_ms = 0        # when the tick last opened the relay
        self.f_ms = 0             # when the tick drove state F (0: not in F)
        self._f_done = False      # F already driven for the current tick fault
        # --- owned by poll() ---
        self.state = IDLE
        self.errors = 0
        self.authorized = False
        self.enabled = True
        self.paused = False
        self.limit_a = 80         # from commands (smart charging, CSMS limits)
        self.offer_a = 0
        self.duty = 1000
        self.energy_wh = 0
        self.power_w = 0
        self.volts = (0, 0, 0)
        self.amps = (0, 0, 0)
        self.temp_c = None
        self.meter_fail = False
        self.meter_seen = False   # a good meter reading arrived since boot
        self.meter_cycle = 0      # the station's read cycle that gave the last reading
        self.hold_on_unplug = False   # EV-side disconnect keeps the session (set by OCPP)
        self.unlock_on_unplug = True  # ... and unlocks the connector meanwhile
        self._held = False
        self.token = None         # the id that authorized the session
        self.next_auth = None     # (token, parent) given to a session that is over (authorize)
        self.locked = False
        self._lock_tries = 0
        self._t_lock = 0
        self._lock_fail = False
        self._t_close = 0
        self._t_state = 0
        self._t_auth = 0
        self._t_oc = 0
        self._t_fault = 0
        self.plugin_timeout_s = 60
        self.resv = None          # the station's Reservations (firmware.evse.reserve)
        self.resv_used = None     # id of the reservation this session's token used
        # meter loss pauses charging unless configured otherwise
        self.blocking = _BLOCKING | (ERR_METER if cfg.get("meter_loss_pause", True) else 0)

    # ------------------------------------------------------------ safety tick
    def tick(self):
        """Fast and allocation-free. Returns nothing; changes only preallocated state."""
        buf = self._buf
        self._pilot.sample(buf)
        raw = classify(buf[0], self.cp)
        if raw == CP_A or raw == self._raw:          # two equal readings; A at once
            self.cp = raw
        self._raw = raw
        cp = self.cp
        clr = self._err_clear
        if clr:
            self.err_t &= ~clr
            self._err_clear = 0
        if cp == CP_FAULT or cp == CP_E:
            self.err_t |= ERR_PILOT
        elif self.pwm_on and CP_B <= cp <= CP_D and buf[1] > -10000:
            # no -12 V low level: diode missing. Twice in a row: one burst can straddle
            # a switch between PWM and X1 made by the state machine
            if self._diode_n:
                self.err_t |= ERR_DIODE
            self._diode_n = 1
        else:
            self._diode_n = 0
        rcd = self._rcd
        if rcd is not None:
            n = rcd.trips                             # trips a pin interrupt saw (pulses too)
            if n != self._rcd_trips or rcd.tripped():
                self._rcd_trips = n
                self.err_t |= ERR_RCD
        if self.err_t & _BLOCKING:
            if not self._f_done:                      # a new fault: state F at once
                self._pilot.f()
                self.pwm_on = False
                self.f_ms = time.ticks_ms() or 1
                self._f_done = True
        elif self._f_done:
            self._f_done = False
        ok = self.want_power and (cp == CP_C or (cp == CP_D and self.ventilation)) \
            and not ((self.err_t | self.errors) & self.blocking)
        if ok:
            if not self.relay_on:
                self._relay.set(True)
                self.relay_on = True
        elif self.relay_on:
            self._relay.set(False)
            self.relay_on = False
            self.opened_ms = time.ticks_ms()

    # ------------------------------------------------------------ commands
    def enable(self, on):
        """Availability. Takes effect when no session is running: a session in progress
        finishes first (the OCPP adapters answer Scheduled then)."""
        self.enabled = on

    def authorize(self, ok, token=None, parent=None):
        """Authorization result for this EVSE (EVerest authorize_response). A reserved
        EVSE takes only the reserving token or one with its parent / group id (1.6 5.13,
        2.0.1 H01.FR.18/19); that one ends the reservation (Used).

        A session that is over cannot take an accepted token: FINISHED (stopped, the
        cable not yet out), or any session state once the tick has seen the unplug
        that the next poll ends it for. The token is kept for the next session, applied
        when this one ends (with the cable still in, on the next poll: 1.6 Finishing ->
        Preparing). Before, the dying session took it and cleared it at its end: a card
        presented around an unplug and replug (a deauthorized start, TC_C_16/34) left
        the new plug-in WaitingForAuthentication."""
        if ok and not self.authorized and (self.state == FINISHED or (
                self.cp == CP_A and self.state in _SESSION_STATES)):
            self.next_auth = (token, parent)
            return
        if ok and not self.authorized and self.resv is not None:
            ok, r = self.resv.match(self, token, parent)
            if r is not None:
                self.resv_used = r[0]
                self.resv.cancel(r[0], "Used")
        if ok and not self.authorized:
            self.authorized = True
            self.token = token
            self._t_auth = time.ticks_ms()
            if self.state == IDLE:
                self._emit(self.id, "SessionStarted", "Authorized")
            self._emit(self.id, "Authorized", token)
        elif not ok:
            self._emit(self.id, "AuthRequired", token)

    def withdraw(self):
        self.next_auth = None
        if self.authorized:
            self.authorized = False
            self._emit(self.id, "Deauthorized", None)

    def pause(self):
        self.paused = True

    def resume(self):
        self.paused = False

    def stop(self):
        """Stop charging for good in this session (EVerest stop_transaction). Also
        while a pause is stopping: no longer authorized, it finishes instead of
        pausing (a stop there was lost, the session resumed later)."""
        if self.state in (PREPARE, CHARGING, PAUSED_EV, PAUSED_EVSE, STOPPING):
            self.authorized = False
            if self.state != STOPPING:
                self._go(STOPPING)

    def reserve(self, rid, token, parent=None, expiry=None):
        """Hold this EVSE for `token` (or its parent / group id) until `expiry` (Unix
        seconds) (EVerest reserve). -> "Accepted" or why not (firmware.evse.reserve)."""
        return self.resv.reserve(rid, self.id, token, parent, expiry)

    def cancel_reservation(self, rid):
        """EVerest cancel_reservation: False when there is no such reservation."""
        return self.resv.cancel(rid)

    def reserved(self):
        """The reservation holding this EVSE ([id, evse, token, parent, expiry]) or None."""
        return self.resv.held(self) if self.resv is not None else None

    def fault(self):
        """An error that blocks charging (a lost meter only pauses it)."""
        return bool(self.errors & self.blocking & ~ERR_METER)

    def set_limit(self, amps):
        self.limit_a = amps

    def force_unlock(self):
        """Unlock the connector, never while the relay is closed."""
        if self.relay_on or self.want_power:
            return False
        if self._lock is not None:
            self._lock.set(False)
        self.locked = False
        return True

    def lock_released(self):
        """True unless the lock's feedback still reports it locked (no lock, or no
        feedback pin: True)."""
        lk = self._lock
        return lk is None or not lk.feedback()

    # ------------------------------------------------------------ state machine
    def _go(self, st):
        self.state = st
        self._t_state = time.ticks_ms()
        ev = _EVENTS.get(st)
        if ev:
            self._emit(self.id, ev, None)

    def _hold_f(self):
        """After a fault the pilot stays in F for at least 300 ms (IEC 61851-1
        Table A.5), then goes to steady +12 V."""
        f = self.f_ms
        if f:
            if time.ticks_diff(time.ticks_ms(), f) < _F_MS:
                return True
            self.f_ms = 0
            self.duty = -1                            # force the x1 write below
        return False

    def _x1(self):
        if self._hold_f():
            return
        if self.pwm_on or self.duty != 1000:
            self.pwm_on = False                       # first: the tick must not see X1 as PWM
            self._pilot.x1()
            self.duty = 1000

    def _offer(self, amps):
        if self._hold_f():
            return False
        d = duty_permille(amps)
        if d == 0:
            self._x1()
            return False
        if d != self.duty or not self.pwm_on:
            self._pilot.pwm(d)
            self.duty = d
            self.pwm_on = True
        return True

    def available_a(self):
        a = min(self.max_a, self.limit_a)
        t = self.temp_c
        if t is not None and t >= _TEMP_DERATE:
            a //= 2
        return a

    def in_session(self):
        return self.state in _SESSION_STATES

    def poll(self, now):
        """One step of the state machine (asyncio, every ~50 ms)."""
        cp = self.cp
        self._errors(cp, now)
        st = self.state
        if cp != CP_A:
            self._held = False
        elif st in _HOLD_STATES and self.hold_on_unplug and self.authorized:
            # EV-side disconnect, the transaction kept (1.6 StopTransactionOnEVSideDisconnect
            # false): no power, no PWM; replugging resumes it, a stop ends it
            self.want_power = False
            self._x1()
            if self.unlock_on_unplug:
                self._unlock()
            if not self._held:
                self._held = True
                if st != PAUSED_EV:
                    self._go(PAUSED_EV)
                self._emit(self.id, "EVDisconnected", None)
            return
        if (cp == CP_A and st in _SESSION_STATES) or (st == FINISHED and self.next_auth):
            # the unplug ends the session; so does a token for a new one with the cable
            # still in (1.6 Finishing -> Preparing on an idTag; Evse.authorize)
            self.want_power = False
            keep = False
            if st in (CHARGING, STOPPING, PAUSED_EV, PAUSED_EVSE, PREPARE):
                self._emit(self.id, "ChargingFinished", None)
                # an EV-side unplug ends it: the cable stays locked unless told (1.6
                # UnlockConnectorOnEVSideDisconnect false; UnlockConnector unlocks it)
                keep = cp == CP_A and st != STOPPING and not self.unlock_on_unplug
            self.authorized = False
            self.token = None
            self.resv_used = None
            self.paused = False
            if not keep:
                self._unlock()
            self._x1()
            self._go(IDLE)
            self._emit(self.id, "SessionFinished", None)
            st = IDLE
            nxt = self.next_auth
            if nxt is not None:                 # given to the session just ended (authorize)
                self.next_auth = None
                self.authorize(True, nxt[0], nxt[1])
        if st == DISABLED:
            self.want_power = False
            self._x1()
            if self.enabled:
                self._go(IDLE)
                self._emit(self.id, "Enabled", None)
            return
        if st == IDLE:
            self._x1()
            if not self.enabled:
                self._go(DISABLED)
            elif cp in (CP_B, CP_C, CP_D):
                if not self.authorized:
                    self._emit(self.id, "SessionStarted", "EVConnected")
                if self.free and self.reserved() is None:
                    self.authorized = True      # a reserved EVSE waits for its token
                self._go(PREPARE if self.authorized else WAIT_AUTH)
            elif self.authorized and time.ticks_diff(now, self._t_auth) > self.plugin_timeout_s * 1000:
                self.authorized = False
                self.resv_used = None
                self.token = None               # the timed-out token names no later session
                self._emit(self.id, "PluginTimeout", None)
            return
        blocked = self.errors & self.blocking
        if st == WAIT_AUTH:
            self._x1()
            if self.authorized:
                self._go(PREPARE)
            return
        if st == FINISHED:
            self.want_power = False
            self._x1()
            return
        if st == STOPPING:
            self._x1()
            if not self.relay_on or cp == CP_B or time.ticks_diff(now, self._t_state) > _STOP_WAIT_MS:
                self.want_power = False
                if self.relay_on:
                    return                      # the tick opens it on its next run
                if self.authorized and not (self.errors & _ENDS_SESSION):
                    self._go(PAUSED_EVSE)             # resumes when the cause clears
                else:
                    self._go(FINISHED)
                    self._emit(self.id, "ChargingFinished", None)
            return
        # PREPARE, CHARGING, PAUSED_EV, PAUSED_EVSE
        amps = self.available_a()
        if blocked or self.paused or amps < 6:
            if st == CHARGING:
                self._go(STOPPING)
            elif st != PAUSED_EVSE:
                self.want_power = False
                self._x1()
                self._go(PAUSED_EVSE)
            else:
                self.want_power = False
                self._x1()
            return
        if st == PAUSED_EVSE:
            self._go(PREPARE)
        self.offer_a = amps
        self._offer(amps)
        if not self._ensure_locked():
            return
        if not (self.meter_seen or self.meter_fail):
            return                  # no power before the first meter reading: it bills it
        if cp == CP_C or (cp == CP_D and self.ventilation):
            self.want_power = True
            if self.relay_on and self.state != CHARGING:
                self._go(CHARGING)
        elif cp == CP_B:
            self.want_power = False
            if self.state == CHARGING:
                self._go(PAUSED_EV)

    def _ensure_locked(self):
        """Lock before the relay may close; feedback within _LOCK_MS, bounded retries
        (EVerest/esp32-evse: a lock failure blocks charging)."""
        lk = self._lock
        if lk is None or self.locked:
            return True
        if self.errors & ERR_LOCK:
            return False
        now = time.ticks_ms()
        fb = lk.feedback()
        if self._t_lock and (fb is None or fb):
            self.locked = True
            self._lock_tries = 0
            self._t_lock = 0
            return True
        if not self._t_lock or time.ticks_diff(now, self._t_lock) > _LOCK_MS:
            if self._lock_tries >= _LOCK_TRIES:
                self._lock_fail = True
                self._t_lock = 0
                return False
            self._lock_tries += 1
            lk.set(True)                              # (re)drive the actuator
            self._t_lock = now or 1
        return False

    def _unlock(self):
        if self._lock is not None and not self.relay_on:
            if self.locked or self._t_lock:
                self._lock.set(False)
            self.locked = False
        self._lock_tries = 0
        self._t_lock = 0

    def _errors(self, cp, now):
        """Merge tick errors, detect slow faults, apply each error's recovery rule."""
        old = self.errors
        e = (old & ~_TICK_ERRS) | self.err_t
        if cp == CP_A:                                # cleared on unplug (A)
            clr = e & (ERR_RCD | ERR_DIODE | ERR_PILOT | ERR_OVERCURRENT | ERR_LOCK)
            if self._rcd is not None and self._rcd.tripped():
                clr &= ~ERR_RCD
            if clr:
                self._err_clear = clr & _TICK_ERRS
                e &= ~clr
        if cp == CP_D and not self.ventilation:
            e |= ERR_VENT
        elif e & ERR_VENT and cp != CP_D:
            e &= ~ERR_VENT
        fb = self._relay.feedback()
        if not self.relay_on and time.ticks_diff(now, self.opened_ms) > 1000 and \
                (fb or self.power_w > 100):
            e |= ERR_WELD
        elif e & ERR_WELD and not fb and self.power_w <= 100:
            e &= ~ERR_WELD
        if self._lock_fail:
            e |= ERR_LOCK
            if cp == CP_A:
                self._lock_fail = False
        if self.relay_on:
            if fb is False and not (e & ERR_RELAY):
                if not self._t_close:
                    self._t_close = now or 1
                elif time.ticks_diff(now, self._t_close) > _CLOSE_MS:
                    e |= ERR_RELAY                    # closed but never confirmed
            else:
                self._t_close = 0
        elif e & ERR_RELAY and cp == CP_A:
            e &= ~ERR_RELAY
        if self.meter_fail:
            e |= ERR_METER
        else:
            e &= ~ERR_METER
        t = self.temp_c
        if t is not None:
            if t >= _TEMP_STOP:
                e |= ERR_OVERTEMP
            elif t < _TEMP_CLEAR:
                e &= ~ERR_OVERTEMP
        if self.relay_on and self.offer_a:
            lim = self.offer_a * 1.1 + 0.5           # EVerest soft over-current rule
            if max(self.amps) > lim:
                if not self._t_oc:
                    self._t_oc = now or 1
                elif time.ticks_diff(now, self._t_oc) > _OC_MS:
                    e |= ERR_OVERCURRENT
            else:
                self._t_oc = 0
        if e != old:
            self.errors = e
            raised, cleared = e & ~old, old & ~e
            if raised:
                self._emit(self.id, "ErrorRaised", raised)
            if cleared:
                self._emit(self.id, "ErrorCleared", cleared)

    def meter(self, wh, w, volts, amps):
        self.energy_wh = wh
        self.power_w = w
        self.volts = volts
        self.amps = amps


_EVENTS = {
    DISABLED: "Disabled",
    PREPARE: "PrepareCharging",
    CHARGING: "ChargingStarted",
    PAUSED_EV: "ChargingPausedEV",
    PAUSED_EVSE: "ChargingPausedEVSE",
    STOPPING: "StoppingCharging",
    WAIT_AUTH: "AuthRequired",
}
