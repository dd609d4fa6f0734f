"""The simulated station with a REPL. Runs inside MicroPython (unix port), not CPython:

    micropython -X heapsize=512k -i tools/harness/simrepl.py OPTIONS.json

tools/harness/ptyrun.py --sim starts it that way (with tools/harness/sim's options file) behind a
pseudo-terminal that mpremote can connect to; `make deploy BOARD=sim` installs it as the
device's main.py. The board, the provisioning and the in-process reboots (Reset from
the CSMS, control `cut N`) are those of boards.sim.run. What differs is Ctrl-C:
boards.sim.run ends the process; here Ctrl-C stops the firmware's asyncio loop between
two tasks (firmware.repl watches the console) and leaves the MicroPython prompt, while
the simulated world, its control channel and the safety-tick thread keep running, as
the physical world and a board's machine.Timer do. At the prompt:

    >>> r.status()       (r is firmware.repl; see r.help())
    >>> r.run()          the loop continues, Ctrl-C stops it again
"""
import sys
import json
import asyncio
from firmware import log
from firmware import repl as r
from firmware import main as fw_main
from boards.sim import Reset
from boards.sim import run as sim_run
from boards.sim.flash import PowerCut
from boards.sim.board import SimBoard

FLASH = "/flash"


class SimStation:
    """One simulated station; run(ms) is firmware.repl's runner."""

    def __init__(self, opts):
        self.opts = opts
        self.cfg_in = opts.get("config", {})
        self.n = self.cfg_in.get("evses", 1)
        ctl = opts.get("control")
        self.control = (ctl[0], ctl[1]) if ctl else None
        b = self.board = SimBoard(n_evse=self.n, flash_path=opts["flash"], control=self.control,
                                  ev_max_a=opts.get("ev_max", 32),
                                  meter_port=opts.get("meter_pty"))
        b.log_tail = log.tail
        b.heap_probe = bool(opts.get("heap_probe"))
        self.cfg = self.ssl = None
        self.task = None            # the task running firmware.main.run

    def start(self):
        self.board.start()

    def stop(self):
        self.board.stop()

    def run(self, ms=None):
        """Boots the firmware, or continues the one Ctrl-C stopped; reboots it in-process
        as boards.sim.run does. Returns after ms (None: only when the firmware ends for
        good); Ctrl-C raises KeyboardInterrupt, the tasks stay for the next run()."""
        b = self.board
        while True:
            try:
                if self.cfg is None:
                    self.cfg, self.ssl = sim_run._provision(b, self.opts, self.cfg_in, self.n)
                if self.task is None:
                    r.new_loop()
                    self.task = asyncio.create_task(fw_main.run(b, self.cfg, FLASH, self.ssl))
                done, reason = r.loop(self.task, ms)
                if not done:
                    return None
            except Reset as e:          # board.reset(): out of every task at once
                reason = e.reason
            except PowerCut:            # control `cut N`: the flash died mid-write
                self.task = None
                b.reboot()
                b.flash_power_on()
                log.warn("sim", "power cut: boot %d", b.boots)
                continue
            self.task = None
            if reason is None:
                return "ended"
            log.warn("sim", "reboot (%s)", reason)
            b.reboot()


def main(path):
    with open(path) as f:
        opts = json.load(f)
    log.level = sim_run._LEVELS.get(opts.get("log", "info"), log.INFO)
    st = SimStation(opts)
    st.start()
    r.control_addr = st.control
    r.set_runner(st.run)
    r.watch_console()
    try:
        st.run()
    except KeyboardInterrupt:
        print("\nfirmware stopped (Ctrl-C); the world and the safety tick run on.\n"
              "r.status(), r.evse(1), r.log() ... r.run() continues the loop (r.help())")
        return st
    st.stop()
    return st


if __name__ == "__main__":
    station = main(sys.argv[1] if len(sys.argv) > 1 else "sim.json")
