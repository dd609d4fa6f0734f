"""The station's status LED and push button (pin roles "led" and "button").

LED: one pattern per state a person needs to see, repeated every 2 s (20 slots of
100 ms; bit i of the mask = LED on in slot i). The state is read from the kernel and
the adapter every 500 ms, the slot advances every 100 ms; the pin is written only when
it changes (on the Pico W the LED is on the radio chip, behind SPI).

    state       pattern                          when (first that holds wins)
    FAULT       fast blink, 5 Hz                 a charging-blocking error on an EVSE,
                                                 or the safety tick failed
    SETUP       two short flashes every 2 s      the setup access point is on
    CHARGING    1 s on, 1 s off                  an EVSE is charging (relay closed)
    WAITING     1.5 s on, 0.5 s off              an EV is plugged in, not charging
                                                 (authorization, paused, finished)
    OFFLINE     one short flash every 2 s        no Wi-Fi link, or no CSMS connection
    READY       steady on                        connected, nothing plugged in
    OFF         off                              every EVSE disabled (unavailable)

Button (active low, debounced: a level counts once it held debounce_ms):
    short press (released before long_ms, 3 s)   stop: every charging session ends
                                                 (OCPP reason Local, as with the card)
    long press (held long_ms)                    setup access point on for 10 min
A press starts nothing: with auth "free" charging starts on plug-in, otherwise with a
card. The long press acts while the button is still held, so the LED answers at once."""
from micropython import const
import asyncio
import time
from firmware.evse import evse as kernel
from firmware.evse.pilot import CP_B, CP_D

OFF = const(0)
READY = const(1)
OFFLINE = const(2)
WAITING = const(3)
CHARGING = const(4)
SETUP = const(5)
FAULT = const(6)
NAMES = ("off", "ready", "offline", "waiting", "charging", "setup", "fault")
# 20 slots of 100 ms
PATTERNS = (0x00000, 0xFFFFF, 0x00001, 0x07FFF, 0x003FF, 0x00005, 0x55555)
_SLOTS = const(20)
_SLOT_MS = const(100)
_STATE_EVERY = const(5)          # slots between two state reads (500 ms)

SHORT = const(1)
LONG = const(2)


class Led:
    def __init__(self, pin, active=1):
        self._pin = pin
        self._on = active
        self._lit = None
        self.state = OFF
        self.slot = 0

    def show(self, state):
        self.state = state

    def step(self):
        """One 100 ms slot: the pattern bit of the current slot to the pin."""
        lit = (PATTERNS[self.state] >> self.slot) & 1
        if lit != self._lit:
            self._lit = lit
            self._pin.value(self._on if lit else 1 - self._on)
        self.slot = self.slot + 1 if self.slot < _SLOTS - 1 else 0
        return lit


class Button:
    """Debounce and press length from polling (poll(now) every few ms)."""
    debounce_ms = 40
    long_ms = 3000

    def __init__(self, pin, active=0):
        self._pin = pin
        self._act = active
        self._raw = False
        self._t_raw = 0             # when the raw level last changed
        self.pressed = False        # debounced
        self._t_press = 0
        self._long_done = False
        self.presses = 0
        if pin.value() == active:      # held (or stuck) since boot: no press until released
            self._raw = self.pressed = self._long_done = True

    def poll(self, now):
        """-> SHORT (on release), LONG (once, while held) or None."""
        raw = self._pin.value() == self._act
        if raw != self._raw:
            self._raw = raw
            self._t_raw = now
            return None
        if raw == self.pressed or time.ticks_diff(now, self._t_raw) < self.debounce_ms:
            if self.pressed and not self._long_done and \
                    time.ticks_diff(now, self._t_press) >= self.long_ms:
                self._long_done = True
                return LONG
            return None
        self.pressed = raw
        if raw:
            self._t_press = self._t_raw
            self._long_done = False
            return None
        self.presses += 1
        return None if self._long_done else SHORT


def led_state(evses, connected, link_up, ap_on, tick_failed=False):
    """The LED state from the kernel's EVSEs (firmware.evse.evse.Evse: state, errors,
    err_t, blocking, relay_on, cp), the adapter's connection, the Wi-Fi link and AP."""
    if tick_failed:
        return FAULT
    plugged = charging = False
    enabled = not evses
    for e in evses:
        if (e.errors | e.err_t) & e.blocking:
            return FAULT
        if e.state != kernel.DISABLED:
            enabled = True
        if e.relay_on or e.state == kernel.CHARGING:
            charging = True
        elif CP_B <= e.cp <= CP_D or e.in_session():
            plugged = True
    if ap_on:
        return SETUP
    if charging:
        return CHARGING
    if plugged:
        return WAITING
    if not enabled:
        return OFF
    if not (link_up and connected):
        return OFFLINE
    return READY


class Ui:
    """The LED and button tasks. status() -> LED state; on_short(), on_long(): the
    button's actions. Either pin may be None (not wired)."""
    poll_ms = 10

    def __init__(self, led, button, status, on_short=None, on_long=None, clock=None):
        self.led = Led(led) if led is not None else None
        self.button = Button(button) if button is not None else None
        self._status = status
        self._short = on_short
        self._long = on_long
        self._clock = clock or time.ticks_ms
        self._tasks = []

    def start(self):
        if self._tasks:
            return
        if self.led is not None:
            self._tasks.append(asyncio.create_task(self._led_task(self.led)))
        if self.button is not None:
            self._tasks.append(asyncio.create_task(self._button_task(self.button)))

    def deinit(self):
        for t in self._tasks:
            t.cancel()
        self._tasks = []

    async def _led_task(self, led):
        n = 0
        while True:
            if n == 0:
                led.show(self._status())
            n = n + 1 if n < _STATE_EVERY - 1 else 0
            led.step()
            await asyncio.sleep_ms(_SLOT_MS)

    async def _button_task(self, b):
        while True:
            ev = b.poll(self._clock())
            if ev == SHORT and self._short is not None:
                self._short()
            elif ev == LONG and self._long is not None:
                self._long()
            await asyncio.sleep_ms(self.poll_ms)
