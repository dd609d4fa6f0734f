"""Relay, connector lock and RCD input over machine.Pin (docs/architecture.md, Board HAL).

Relay.set, Relay.feedback, Rcd.tripped and Lock.service allocate nothing: the safety
tick calls them, and Rcd's interrupt handler calls Relay.set. The lock motor is driven
by a non-blocking state machine: set() starts an H-bridge pulse and returns at once; the
board's tick calls service() to end it, so the pulse length does not depend on asyncio
and nothing ever sleeps in the tick."""
from micropython import const
import time

_IDLE = const(0)
_DRIVE = const(1)
_BREAK_MS = const(400)         # motor rest between two pulses towards the same side


class Relay:
    """Contactor coil driver (high = closed) and an optional auxiliary (mirror) contact."""

    def __init__(self, pin, fb=None, fb_active=1):
        self._pin = pin
        self._fb = fb
        self._act = fb_active

    def set(self, on):
        self._pin.value(1 if on else 0)

    def feedback(self):
        """True while the mirror contact says closed; None with no feedback wired."""
        fb = self._fb
        if fb is None:
            return None
        return fb.value() == self._act


class Rcd:
    """Residual-current monitor output (6 mA DC), read every tick, and armed to open its
    EVSE's relay from a pin interrupt (arm): on a board the safety tick is a timer
    callback run between bytecodes, so a long C call delays it - a TLS handshake's
    elliptic-curve work blocks for 0.4-0.75 s on the 32-bit x86 test build (mbedTLS as
    MicroPython configures it), far longer on an RP2040; a flash erase. The interrupt
    only drops the coil and counts the trip (trips); the tick sees the count change and
    faults the EVSE, and the relay closes again only when the kernel commands it after the
    fault has cleared."""

    def __init__(self, pin, active=0):
        self._pin = pin
        self._act = active
        self._relay = None
        self.trips = 0              # trips the interrupt saw; the kernel's tick compares

    def arm(self, relay, hard):
        """The edge into the active level opens `relay`: at once from a hard interrupt
        where the port has them (rp2; the handler allocates nothing), else from a
        scheduled one, which runs when the VM does, like the tick, but still catches a
        pulse shorter than the tick period (esp32 1.25 schedules every pin interrupt
        and takes no `hard` argument)."""
        self._relay = relay
        pin = self._pin
        trig = pin.IRQ_FALLING if self._act == 0 else pin.IRQ_RISING
        if hard:
            pin.irq(handler=self._trip, trigger=trig, hard=True)
        else:
            pin.irq(handler=self._trip, trigger=trig)

    def _trip(self, _pin):
        try:
            self._open()
        except KeyboardInterrupt:   # a Ctrl-C landed in here: the port would print it and
            self._open()            # disable this interrupt for good; the trip counts
        self.trips += 1

    def _open(self):
        relay = self._relay
        if relay is not None:
            relay.set(False)

    def tripped(self):
        """True while the monitor says tripped (a trip shorter than the tick is counted in
        `trips` by the interrupt: the kernel faults the EVSE on either)."""
        return self._pin.value() == self._act


class Lock:
    """Motor lock on an H-bridge: a_pin high = lock, b_pin high = unlock, both low =
    off. A pulse of pulse_ms drives the motor one way; repeated set() towards the same
    side neither restarts a running pulse nor drives again within _BREAK_MS of the last
    one (retries are the caller's, e.g. the kernel's, with a rest for the motor)."""

    def __init__(self, a_pin, b_pin, fb=None, fb_active=1, pulse_ms=500, clock=None):
        self._a = a_pin
        self._b = b_pin
        self._fb = fb
        self._act = fb_active
        self._pulse = pulse_ms
        self._clock = clock or time.ticks_ms
        self._mode = _IDLE
        self._t_end = 0
        self.target = None          # last commanded side: True locked, False unlocked
        self.pulses = 0
        a_pin.value(0)
        b_pin.value(0)

    def set(self, locked):
        locked = bool(locked)
        now = self._clock()
        if locked == self.target:
            if self._mode == _DRIVE:
                return
            if time.ticks_diff(now, self._t_end) < _BREAK_MS:
                return
            fb = self.feedback()
            if fb is not None and fb == locked:
                return
        self._a.value(0)            # never both sides at once
        self._b.value(0)
        if locked:
            self._a.value(1)
        else:
            self._b.value(1)
        self.target = locked
        self._mode = _DRIVE
        self._t_end = time.ticks_add(now, self._pulse)
        self.pulses += 1

    def service(self, now):
        """Ends a pulse whose time is up (the safety tick calls this; no allocation)."""
        if self._mode == _DRIVE and time.ticks_diff(now, self._t_end) >= 0:
            self._a.value(0)
            self._b.value(0)
            self._mode = _IDLE

    def moving(self):
        return self._mode == _DRIVE

    def halt(self):
        """Motor off now (the tick stopped, or the board resets)."""
        self._a.value(0)
        self._b.value(0)
        self._mode = _IDLE

    def feedback(self):
        """True when the lock switch says locked; None with no switch wired."""
        fb = self._fb
        if fb is None:
            return None
        return fb.value() == self._act
