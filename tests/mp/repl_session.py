"""firmware/repl.py driven as a person at the prompt does (tests/unit/test_repl_api.py):
the firmware on the simulated board in this process (no CSMS: the adapter keeps
retrying), the loop run for a while between calls (r.loop / r.run).

argv: CASE FLASH PORT OCPP — CASE session or card; FLASH the image; PORT the control
channel's; OCPP 1.6 or 2.0.1."""
import asyncio
import sys
import time

from boards.sim.board import SimBoard
from firmware import log
from firmware import main as fw_main
from firmware import repl
from firmware.persist import config
from out import report

CASE, FLASH, PORT, OCPP = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]


def until(task, pred, ms=8000):
    """Runs the loop in 100 ms steps until EVSE 1's state satisfies pred; -> that state."""
    t0 = time.ticks_ms()
    while time.ticks_diff(time.ticks_ms(), t0) < ms:
        repl.loop(task, 100)
        d = repl.evse(1, False)
        if pred(d):
            return d
    return repl.evse(1, False)


def session(board, task, out):
    done, res = repl.loop(task, 500)
    out["loop"] = [done, res]
    out["status"] = repl.status()
    out["plug"] = repl.plug(1)
    out["start"] = repl.start(1)
    out["charging"] = until(task, lambda d: d["state"] == "Charging" and d["relay"])
    out["limit"] = repl.limit(1, 10)
    out["limited"] = until(task, lambda d: d["offered_a"] == 10)
    repl.pause(1)
    out["paused"] = until(task, lambda d: d["state"] == "ChargingPausedEVSE")
    repl.resume(1)
    out["resumed"] = until(task, lambda d: d["state"] == "Charging" and d["relay"])
    time.sleep_ms(700)                 # at the prompt: not a loop stall
    repl.loop(task, 300)
    out["stall"] = repl.status()["stall_max_ms"]
    out["stop"] = repl.stop(1)
    out["stopped"] = until(task, lambda d: d["state"] == "Finished" and d["tx_id"] is None)
    repl.fault(1, "rcd")
    out["fault"] = until(task, lambda d: "RCD" in d["errors"])
    repl.clear(1, "rcd")
    repl.unplug(1)
    out["idle"] = until(task, lambda d: d["state"] == "Idle" and not d["errors"])
    old = fw_main.current.tasks[1]
    out["reconnect"] = repl.reconnect()
    repl.loop(task, 200)
    out["new_task"] = fw_main.current.tasks[1] is not old
    out["log"] = repl.log(64)["lines"]
    out["paused_run"] = repl.run(200)
    for name, call in (("evse9", lambda: repl.evse(9)), ("amps", lambda: repl.limit(1, 81))):
        try:
            call()
            out[name] = None
        except ValueError as e:
            out[name] = str(e)


def card(board, task, out):
    repl.loop(task, 300)
    repl.plug(1)
    out["card"] = repl.start(1, "CARD9")
    out["after"] = until(task, lambda d: False, 1500)
    out["log"] = repl.log(10)["lines"]


def main():
    out = {}
    try:
        repl.fw()
    except RuntimeError as e:
        out["no_fw"] = str(e)
    board = SimBoard(n_evse=2, flash_path=FLASH, control=("127.0.0.1", PORT))
    board.log_tail = log.tail
    board.start()
    board.flash_mount("/flash")
    cfg, _ = config.validate({"csms": "ws://127.0.0.1:1/ocpp", "id": "T1", "ocpp": OCPP,
                              "evses": 2, "auth": "ocpp"})
    repl.control_addr = ("127.0.0.1", PORT)
    task = asyncio.create_task(fw_main.run(board, cfg, "/flash"))
    {"session": session, "card": card}[CASE](board, task, out)
    board.stop()
    report(out)


main()
