"""Host link: the board's side of a control channel over the USB console, for a test rig
or the emulated Pico (tools/emu), which plays the EV, the relay's contacts, the meter and
the faults on the pins and asks the firmware for what only it knows.

Off unless the file /flash/hostlink exists (the rig writes it over the REPL). When on,
the board gets what firmware.main's board I/O task looks for:
- inputs(): lines read from the console, "!tag N ID" and "!stall MS" (anything else is
  dropped), as the simulator's inputs;
- publish(i, **fields): the firmware's status, printed as one line "@P <json>" when it
  changed (i = -1: the station; then also gc.mem_free() and the safety tick's own
  duration, measured here: calls, sum and max in microseconds; i >= 0: also the
  kernel's meter reading, meter_wh, meter_w, meter_fail);
- heap_probe: the live heap after a collection, every 500 ms (heap_used, heap_peak).
A Ctrl-C still reaches the REPL: the console's interrupt character is never read here,
and once the safety tick caught one (board._interrupted: the loop runs on until the
watchdog task raises it, up to a second later) inputs() raises KeyboardInterrupt instead
of reading on, so what follows the Ctrl-C (mpremote's Ctrl-A for the raw REPL, sent at
once) is left to the REPL."""
from micropython import const
import gc
import json
import os
import sys
import time

FLAG = "/flash/hostlink"     # public: the emulator writes it
_MAX_LINE = const(80)
_MAX_INPUTS = const(8)
_MAX_STALL_MS = const(60000)


class HostLink:
    def __init__(self, n_evse, watchdog=None):
        """watchdog: the board's (boards.common.watchdog), whose halt says the tick
        caught a Ctrl-C."""
        import select
        self._poll = select.poll()
        self._poll.register(sys.stdin, select.POLLIN)
        self._line = bytearray()
        self._last = [None] * (n_evse + 1)
        self.n_evse = n_evse
        self._wd = watchdog
        self.tick_n = 0
        self.tick_us = 0
        self.tick_max_us = 0

    def inputs(self):
        wd = self._wd
        if wd is not None and wd.halt:      # a Ctrl-C the tick caught: the REPL's turn
            raise KeyboardInterrupt
        out = []
        rd = sys.stdin.buffer.read
        while len(out) < _MAX_INPUTS and self._poll.poll(0):
            c = rd(1)
            if not c:
                break
            if c != b"\n":
                if len(self._line) < _MAX_LINE:
                    self._line.extend(c)
                continue
            ev = self._parse(bytes(self._line).decode().strip())
            self._line = bytearray()
            if ev is not None:
                out.append(ev)
        return out

    def _parse(self, line):
        p = line.split()
        try:
            if len(p) == 3 and p[0] == "!tag":
                i = int(p[1]) - 1
                if 0 <= i < self.n_evse:
                    return ("tag", i, p[2])
            elif len(p) == 2 and p[0] == "!stall":
                ms = int(p[1])
                if 0 < ms <= _MAX_STALL_MS:
                    return ("stall", ms)
        except ValueError:
            pass
        return None

    def publish(self, i, **fields):
        if i < 0:
            fields["mem_free"] = gc.mem_free()
            fields["tick_n"] = self.tick_n
            fields["tick_us"] = self.tick_us
            fields["tick_max_us"] = self.tick_max_us
        else:
            fw = _fw_main().current
            if fw is not None:              # the kernel's meter reading (over the UART)
                e = fw.station.evses[i]
                fields["meter_wh"] = e.energy_wh
                fields["meter_w"] = e.power_w
                fields["meter_fail"] = e.meter_fail
        fields["i"] = i
        s = json.dumps(fields)
        if s != self._last[i + 1]:
            self._last[i + 1] = s
            print("@P", s)

    def timed(self, fn, interrupted):
        """fn (the board's timer callback) measured per call; a Ctrl-C that lands in the
        measuring goes to interrupted(), as one inside fn does (board._on_timer)."""
        ticks_us, ticks_diff = time.ticks_us, time.ticks_diff

        def cb(t):
            try:
                t0 = ticks_us()
                fn(t)
                d = ticks_diff(ticks_us(), t0)
                self.tick_n += 1
                self.tick_us += d
                if d > self.tick_max_us:
                    self.tick_max_us = d
            except KeyboardInterrupt:
                interrupted()
        return cb


def _fw_main():
    from firmware import main
    return main


def attach(board, flag=FLAG):
    """Gives board the host link when the flag file exists; -> the HostLink or None."""
    try:
        os.stat(flag)
    except OSError:
        return None
    link = HostLink(board.n_evse, getattr(board, "watchdog", None))
    board.inputs = link.inputs
    board.publish = link.publish
    board.heap_probe = True
    board._on_timer_cb = link.timed(board._on_timer_cb, board._interrupted)
    return link
