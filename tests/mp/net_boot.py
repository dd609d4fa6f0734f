"""A provisioned rp2 board boots (boards.common.boot) with Wi-Fi and an SNTP server on
loopback, on the fake machine and network (tests/unit/test_net.py). A thread reports,
once the link is up, the clock set, the LED driven, the watchdog fed and the adapter's
first connect logged (bounded: the report comes after 60 s regardless), on its OUT line.

argv: FLASH — the directory holding config.json"""
import _thread
import sys
import time

sys.path.insert(0, "tests/fixtures")

import machine  # noqa: E402  (the fake, from tests/fixtures)
import network  # noqa: E402
from boards.common import boot  # noqa: E402
from boards.rp2_pico_w import hal  # noqa: E402
from firmware import log  # noqa: E402
from out import report  # noqa: E402

network.APS["home"] = "secret123"
network.ASSOC_MS = 300
machine.start_threads()
boards = []


def figures():
    b = boards[0]
    return {"net": b.net.status(), "rtc": len(machine.RTCS[0].sets),
            "led": machine.PINS["LED"].writes, "feeds": len(machine.WDTS[0].feeds),
            "connects": len([ln for ln in log.tail(64) if "ocpp: connect" in ln])}


def done(f):
    st = f["net"]
    return st["time_ok"] and st["wifi"] == 2 and f["rtc"] and f["led"] >= 2 and f["feeds"] \
        and f["connects"]


def spy():
    t0 = time.ticks_ms()
    while time.ticks_diff(time.ticks_ms(), t0) < 60000:
        time.sleep_ms(50)
        try:
            if done(figures()):
                break
        except (IndexError, AttributeError):    # the board or its network not made yet
            pass
    report(figures())


def make():
    b = hal.make_board()
    boards.append(b)
    return b


_thread.start_new_thread(spy, ())
boot.boot(make, flash=sys.argv[1])
