"""The hardware watchdog (machine.WDT), fed only while both halves of the firmware run:

- the safety tick: the board's timer callback calls beat() after every tick whose
  callback returned normally (allocation-free; the count wraps before it leaves the
  small-int range);
- the asyncio loop: run() is a task on it; it feeds only when the tick count moved
  since its last check. A stalled loop never gets to feed; a stalled or failed tick
  leaves the count where it was.

Either way the WDT resets the chip after timeout_ms. A WDT cannot be stopped once
started (rp2: timeout at most 8388 ms), so start() happens only when the firmware runs.
"""
from micropython import const
import asyncio

_WRAP = const(0x3FFFFFF)
_RP2_MAX_MS = const(8388)


class Watchdog:
    def __init__(self, make_wdt, timeout_ms=8000, period_ms=1000):
        """make_wdt(timeout_ms) -> object with feed(); e.g. lambda t: machine.WDT(timeout=t)."""
        self._make = make_wdt
        self.timeout_ms = timeout_ms if timeout_ms <= _RP2_MAX_MS else _RP2_MAX_MS
        self.period_ms = period_ms
        self.ticks = 0          # written by the tick (beat), read by check
        self._seen = 0
        self.feeds = 0
        self.starved = 0        # checks that found the tick stalled
        self.halt = False       # set by the board: Ctrl-C cut the tick short
        self._wdt = None

    def beat(self):
        """From the safety tick, after the firmware's callback returned."""
        t = self.ticks + 1
        self.ticks = t if t <= _WRAP else 0

    def start(self):
        if self._wdt is None:
            self._wdt = self._make(self.timeout_ms)

    def started(self):
        return self._wdt is not None

    def check(self):
        """Feeds when the tick progressed since the last check. Returns whether it fed."""
        t = self.ticks
        if t == self._seen or self._wdt is None:
            self.starved += 1
            return False
        self._seen = t
        self._wdt.feed()
        self.feeds += 1
        return True

    def feed_idle(self):
        """Safe mode only (no firmware, no tick, outputs held off): feeds unchecked."""
        if self._wdt is not None:
            self._wdt.feed()
            self.feeds += 1

    async def run(self):
        """The loop half: start the WDT, then check every period_ms until cancelled.
        Raises KeyboardInterrupt, which ends asyncio.run, once the board says a Ctrl-C
        stopped the tick (halt): the Ctrl-C the tick caught reaches the main program."""
        self.start()
        while True:
            if self.halt:
                raise KeyboardInterrupt
            self.check()
            await asyncio.sleep_ms(self.period_ms)
