#!/usr/bin/env python3
"""`make sim`: the dev CSMS and one simulated station with a charging session to watch.

Starts tools/csms in-process and tools/harness/sim as a process, plugs the simulated EV in,
shows a live line per EVSE (pilot state, OCPP connector status, amps, kW, kWh) while it
charges, unplugs it, then keeps both running with the control channel's address printed
until Ctrl-C. --once ends after the session (exit status 0 only if the session was seen
by the CSMS), which is how the test suite runs it."""
import argparse
import os
import signal
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, ROOT)

from tools.csms import CsmsThread  # noqa: E402
from tools.harness.simctl import SimStation  # noqa: E402


def line(ev, n):
    kw = ev.get("power_w", 0) / 1000.0
    return "EVSE %d  pilot %s  %-13s  %-24s %5.1f A  %5.2f kW  %7.3f kWh" % (
        n, ev.get("pilot", "?"), ev.get("ocpp_status") or "-", ev.get("state") or "-",
        ev.get("current_a", 0.0), kw, ev.get("energy_wh", 0) / 1000.0)


class Live:
    def __init__(self):
        self.tty = sys.stdout.isatty()
        self.last = 0

    def show(self, st):
        lines = [line(ev, i + 1) for i, ev in enumerate(st["evses"])]
        if self.tty:
            sys.stdout.write("\r" + " | ".join(lines) + "\033[K")
            sys.stdout.flush()
        elif time.monotonic() - self.last >= 1.0:
            self.last = time.monotonic()
            print(" | ".join(lines), flush=True)

    def say(self, msg):
        if self.tty:
            sys.stdout.write("\r\033[K")
        print(msg, flush=True)


def main(argv=None):
    p = argparse.ArgumentParser(prog="make sim", description=__doc__.split("\n\n")[0])
    p.add_argument("--ocpp", default="2.0.1", choices=("1.6", "2.0.1"))
    p.add_argument("--evses", type=int, default=1)
    p.add_argument("--port", type=int, default=9000, help="CSMS port (0 = any free port)")
    p.add_argument("--control", type=int, default=7001, help="control channel port (0 = any)")
    p.add_argument("--charge-s", type=float, default=15.0, help="how long the EV charges")
    p.add_argument("--once", action="store_true", help="end after the charging session")
    p.add_argument("--var", default=os.path.join(ROOT, "var"), help="folder for logs and flash")
    a = p.parse_args(argv)
    os.makedirs(a.var, exist_ok=True)
    csms_log = open(os.path.join(a.var, "csms.log"), "a")
    live = Live()

    def log(msg):
        csms_log.write(msg + "\n")
        csms_log.flush()

    csms = CsmsThread(host="127.0.0.1", port=a.port, boot_interval=60, log=log)
    ident = "DEMO-%s" % a.ocpp.replace(".", "")
    url = "ws://127.0.0.1:%d/ocpp" % csms.port
    st = SimStation(url, ident, a.ocpp, a.var, evses=a.evses, log_name="station.log",
                    control_port=a.control or None,
                    flash=os.path.join(a.var, "%s.img" % ident))
    ok = False
    stopping = []
    signal.signal(signal.SIGTERM, lambda *_: stopping.append(1))
    try:
        live.say("MicroEVSE demo: CSMS %s, station %s (OCPP %s), logs in %s"
                 % (url, ident, a.ocpp, a.var))
        st.start()
        st.wait(lambda s: s.get("registration") == "Accepted", timeout=30, what="boot Accepted")
        live.say("station registered; plugging the EV in")
        st.cmd("plug 1")
        t0 = time.monotonic()
        energy0 = st.evse(1).get("energy_wh", 0)
        while time.monotonic() - t0 < a.charge_s:
            live.show(st.status())
            time.sleep(0.2)
        st.cmd("unplug 1")
        end = time.monotonic() + 10
        while time.monotonic() < end:
            s = st.status()
            live.show(s)
            if s["evses"][0].get("ocpp_status") == "Available":
                break
            time.sleep(0.2)
        charged = st.evse(1).get("energy_wh", 0) - energy0
        link = csms.station(ident, timeout=1)
        seen = [pl.get("status") or pl.get("connectorStatus")
                for act, pl in link.received if act == "StatusNotification"]
        want = "Charging" if a.ocpp == "1.6" else "Occupied"
        ok = charged > 0 and want in seen and seen[-1] == "Available"
        live.say("session done: %.3f kWh; statuses the CSMS received: %s" % (charged / 1000.0, seen))
        if not a.once:
            live.say("running: CSMS %s, control channel 127.0.0.1:%d (try: printf 'plug 1\\n' | "
                     "nc -q1 127.0.0.1 %d). Ctrl-C stops." % (url, st.port, st.port))
            while not stopping:
                live.show(st.status())
                time.sleep(0.5)
    except KeyboardInterrupt:
        ok = True if not a.once else ok
    finally:
        live.say("stopping")
        st.stop()
        csms.stop()
        csms_log.close()
    if a.once and not ok:
        print("demo: the charging session was not seen end to end", file=sys.stderr)
        print(st.log(), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
