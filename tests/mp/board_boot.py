"""The rp2 board boots the whole firmware (boards.common.boot) on the fake machine, for
tests/unit/test_boards.py. A thread reports on the OUT line once what the case waits
for has happened (bounded: after 60 s it reports what it has); the test then ends the
process.

argv: CASE FLASH [NONET] —
  firmware FLASH        the tick runs, the watchdog is fed, the meter polled
  offline FLASH NONET   no `network` module (NONET holds only the fake machine): the
                        station runs offline
  watchdog FLASH        WDT at 500 ms: a task blocks the loop for 1 s, later the tick
                        stops for 1 s; the feed gaps the WDT would have reset the chip in"""
import _thread
import sys
import time

CASE, FLASH = sys.argv[1], sys.argv[2]
sys.path.insert(0, sys.argv[3] if CASE == "offline" else "tests/fixtures")

import machine  # noqa: E402  (the fake)
from out import report  # noqa: E402

_BOUND_MS = 60000


def wait_for(cond):
    t0 = time.ticks_ms()
    while time.ticks_diff(time.ticks_ms(), t0) < _BOUND_MS:
        try:
            if cond():
                return
        except (IndexError, KeyError, AttributeError):    # not made yet
            pass
        time.sleep_ms(20)


def firmware():
    from boards.common import boot
    from boards.rp2_pico_w import hal

    def spy():
        wait_for(lambda: machine.WDTS[0].feeds and machine.TIMERS[-1].fired >= 100
                 and machine.UARTS[0].sent)
        report({"feeds": len(machine.WDTS[0].feeds), "fired": machine.TIMERS[-1].fired,
                "sent": len(machine.UARTS[0].sent), "pilot": machine.PWMS[16].duty,
                "resets": len(machine.RESETS)})
    machine.start_threads()
    _thread.start_new_thread(spy, ())
    boot.boot(hal.make_board, flash=FLASH)


def offline():
    try:
        import network  # noqa: F401
        report({"network": True})
    except ImportError:
        pass
    from boards.common import boot
    from boards.rp2_pico_w.hal import make_board

    def spy():
        wait_for(lambda: machine.WDTS[0].feeds and machine.TIMERS[-1].fired >= 50)
        report({"network": False, "pilot": machine.PWMS[16].duty,
                "relay": machine.PINS[15].level, "resets": len(machine.RESETS)})
    machine.start_threads()
    _thread.start_new_thread(spy, ())
    boot.boot(make_board, flash=FLASH)


def watchdog():
    import asyncio
    import network
    from boards.common import boot
    from boards.rp2_pico_w import hal
    from boards.rp2_pico_w import pins
    network.APS["home"] = "secret123"

    class ShortPins:
        pass
    short = ShortPins()
    for k in dir(pins):
        if not k.startswith("__"):
            setattr(short, k, getattr(pins, k))
    short.WDT_MS = 500
    marks = {}
    orig_ui = boot.make_ui

    def make_ui(board, fw=None, net=None):
        async def hang():
            await asyncio.sleep_ms(1500)
            marks["loop"] = time.ticks_ms()
            time.sleep_ms(1000)                      # a task that blocks the loop
            marks["loop_end"] = time.ticks_ms()
        asyncio.create_task(hang())
        return orig_ui(board, fw, net)
    boot.make_ui = make_ui

    def make():
        b = hal.make_board(pins=short)
        b.watchdog.period_ms = 100
        return b

    def spy():
        wait_for(lambda: "loop_end" in marks)
        time.sleep_ms(500)                           # the loop runs again a while
        t = machine.TIMERS[-1]
        marks["tick"] = time.ticks_ms()
        t.hung = True                                # the safety tick stops
        time.sleep_ms(1000)
        t.hung = False
        marks["tick_end"] = time.ticks_ms()
        time.sleep_ms(600)
        w = machine.WDTS[0]
        t0 = w.feeds[0]
        report({"timeout": w.timeout,
                "healthy": w.bit(t0, marks["loop"] - 50),
                "loop": w.bit(marks["loop"], marks["loop_end"]),
                "between": w.bit(marks["loop_end"] + 300, marks["tick"] - 50),
                "tick": w.bit(marks["tick"], marks["tick_end"]),
                "after": w.bit(marks["tick_end"] + 300, time.ticks_ms()),
                "resets": len(machine.RESETS)})
    machine.start_threads()
    _thread.start_new_thread(spy, ())
    boot.boot(make, flash=FLASH)


{"firmware": firmware, "offline": offline, "watchdog": watchdog}[CASE]()
