"""firmware.repl.hold() feeds the watchdog while the safety tick runs, from a timer of
its own (tests/unit/test_repl_api.py), on the fake machine module (tests/fixtures).

argv: TICK_ID HOLD_ID — the tick's timer id and the one hold() takes (esp32: the tick on
timer 0, hold on 1; rp2: soft timers, -1)."""
import sys

sys.path.insert(0, "tests/fixtures")

import machine  # noqa: E402  (the fake, from tests/fixtures)
from boards.common.watchdog import Watchdog  # noqa: E402
from firmware import main, repl  # noqa: E402
from out import report  # noqa: E402

TICK_ID, HOLD_ID = int(sys.argv[1]), int(sys.argv[2])


class Port:
    timer_id = TICK_ID


class Board:
    pass


class Firmware:
    pass


board = Board()
board.port = Port()
board.watchdog = wd = Watchdog(lambda t: machine.WDT(timeout=t))
fw = Firmware()
fw.board = board
main.current = fw
out = {"not_started": repl.hold(False)}
wd.start()
out["held"] = repl.hold(False)
timer = machine.TIMERS[HOLD_ID]
wd.beat()
timer.fire()
timer.fire()                     # the tick did not move: no feed
wd.beat()
timer.fire()
out["feeds"] = wd.feeds
out["starved"] = wd.starved
repl.unhold()
out["after"] = timer.cb is None
report(out)
