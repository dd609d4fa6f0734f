"""Run a fleet: stations started in waves (each `tools/sim`: the real firmware on the unix
port with its own flash image), sessions driven per station from the scenario's seeded
random streams, faults and CSMS outages on schedule, live progress, then a drain (every
transaction message delivered) and the report (tools.fleet.report)."""
import os
import random
import shutil
import threading
import time

from tools.fleet import proc
from tools.fleet.harness import Control, CsmsThread, SimStation, control
from tools.fleet.scenario import stations as station_list
from tools.fleet.tap import TapThread
from tools.harness.mpytree import current_mpy

_STATUS_S = 2.0             # a driver's look at its station when nothing is due
_PROGRESS_S = 5.0
_RETAG_S = 8.0              # no transaction this long after a card, online: present it again


def arrivals(rng, per_hour, duration_s):
    """Poisson arrival times in [0, duration_s)."""
    out, t = [], 0.0
    if per_hour <= 0:
        return out
    while True:
        t += rng.expovariate(per_hour / 3600.0)
        if t >= duration_s:
            return out
        out.append(t)


def plan(sc, ident):
    """The EVs that come to station `ident`: every draw made up front from a stream of
    the seed and the identity, so a seed gives the same arrivals, tokens, lengths and
    energies whatever the run meets (a busy or offline station skips one, the rest stay)."""
    rng = random.Random("%d:%s" % (sc["seed"], ident))
    ss = sc["sessions"]
    return [{"t": t, "token": rng.choice(ss["tokens"]),
             "length_s": round(rng.uniform(*ss["duration_s"]), 1),
             "energy_wh": round(rng.uniform(*ss["energy_wh"])) if ss["energy_wh"] else None,
             "remote": rng.random() < ss["remote_share"]}
            for t in arrivals(rng, ss["arrivals_per_hour"], sc["duration_s"])]


class Station:
    def __init__(self, fleet, spec):
        self.fleet, self.spec = fleet, spec
        self.id = spec["id"]
        sc = fleet.sc
        self.arrivals = plan(sc, self.id)
        extra = ["--auth", "ocpp", "--profile", str(spec["profile"])]
        if spec["password"]:
            extra += ["--password", spec["password"]]
        url = fleet.station_url
        if spec["profile"] >= 2:        # TLS to the tap: its CA as the station's CSMS root
            url = fleet.tls_url
            extra += ["--ca", fleet.pki.ca_path]
        if spec["profile"] >= 3:        # and a certificate of its own, from the same CA
            cert, key = fleet.pki.client(self.id)
            extra += ["--client-cert", cert, "--client-key", key]
        extra += ["--mpy", fleet.mpy] if fleet.mpy else ["--source"]
        self.sim = SimStation(url, self.id, spec["ocpp"], fleet.workdir,
                              evses=spec["evses"], heap=fleet.heap, extra=extra)
        self.sessions = []
        self.active = {}            # evse -> session dict
        self.missed = 0             # arrivals that found every EVSE busy
        self.offline = 0            # arrivals that found the station offline
        self.status = {}
        self.cpu0 = self.t_cpu0 = None
        self.error = None

    # -- on the driver thread ------------------------------------------------------
    def drive(self):
        try:
            self._drive()
        except Exception as e:      # noqa: BLE001 - reported, the run goes on
            self.error = "%s: %s" % (type(e).__name__, e)

    def _drive(self):
        f = self.fleet
        ctl = Control(self.sim.port, timeout=30)
        try:
            pending = list(self.arrivals)
            while not f.stopping.is_set():
                now = f.now()
                self.status = ctl("status")
                while pending and pending[0]["t"] <= now:
                    self._arrive(ctl, now, pending.pop(0))
                for e, s in list(self.active.items()):
                    self._check(ctl, e, s, now)
                if not pending and not self.active and now >= f.sc["duration_s"]:
                    break
                nxt = pending[0]["t"] if pending else now + _STATUS_S
                f.stopping.wait(max(0.2, min(_STATUS_S, nxt - f.now())))
            self.status = ctl("status")
        finally:
            ctl.close()

    def _free_evse(self):
        for i, e in enumerate(self.status.get("evses", [])):
            if i + 1 not in self.active and not e.get("plugged") and not e.get("faults") \
                    and e.get("ocpp_status") == "Available":
                return i + 1
        return None

    def _arrive(self, ctl, now, a):
        e = self._free_evse()
        if e is None:
            self.missed += 1
            return
        if not self.fleet.online(self):         # the EV driver sees an offline station
            self.offline += 1
            return
        s = {"station": self.id, "evse": e, "t_start": round(now, 1), "token": a["token"],
             "length_s": a["length_s"], "energy_wh": a["energy_wh"],
             "remote": a["remote"] and self.fleet.csms is not None,
             "wh0": self.status["evses"][e - 1]["energy_wh"], "tx": None, "ended": False,
             "t_end": None}
        if s["remote"] and not self.fleet.remote_start(self, e, s["token"]):
            s["remote"] = "failed"
        if s["remote"] is not True:
            ctl("tag %d %s" % (e, s["token"]))
        ctl("plug %d" % e)
        self.sessions.append(s)
        self.active[e] = s

    def _check(self, ctl, e, s, now):
        ev = self.status["evses"][e - 1]
        if ev.get("tx_id") and not s["tx"]:
            s["tx"] = ev["tx_id"]
        if s["t_end"] is None and not s["tx"] and ev.get("state") == "WaitingForAuthentication" \
                and now - s.get("t_tag", s["t_start"]) >= _RETAG_S and self.fleet.online(self):
            # the card's authorization was lost with the link (an outage began as it was
            # presented): the driver presents it again
            ctl("tag %d %s" % (e, s["token"]))
            s["t_tag"] = now
            s["retags"] = s.get("retags", 0) + 1
        if s["t_end"] is None:
            took = ev["energy_wh"] - s["wh0"]
            if now - s["t_start"] >= s["length_s"] or (s["energy_wh"] and took >= s["energy_wh"]):
                ctl("unplug %d" % e)
                s["t_end"] = round(now, 1)
                s["wh"] = round(took, 1)
        elif not ev.get("tx_id"):
            s["ended"] = True
            del self.active[e]


class Fleet:
    def __init__(self, sc, workdir, csms_url=None, heap="512k", out=print, heartbeat_s=60,
                 mpy="auto", csms_ssl=None):
        """csms_url: None for the dev CSMS started here; csms_ssl: the tap's client TLS
        context toward a wss:// CSMS (None: the system's roots); mpy: a .mpy tree for
        every station, "auto" (build/mpy when current, else the sources) or None (the
        sources)."""
        self.sc, self.workdir, self.heap, self.out = sc, workdir, heap, out
        os.makedirs(workdir, exist_ok=True)
        if mpy == "auto":
            mpy = current_mpy()
        self.mpy = None             # tools/sim --mpy DIR for every station: a copy, since
        if mpy:                     # `make check` deletes build/mpy and makes it again, and
            self.mpy = os.path.join(workdir, "mpy")     # a module loaded later must be found
            shutil.copytree(mpy, self.mpy, dirs_exist_ok=True)
        self.specs = station_list(sc)
        self.csms = None
        if csms_url is None:
            pw = {s["id"]: s["password"] for s in self.specs}
            # the dev CSMS checks passwords only when every station has one
            self.csms = CsmsThread(host="127.0.0.1", port=0, boot_interval=heartbeat_s,
                                   passwords=pw if all(pw.values()) else None)
            csms_url = self.csms.csms.url + "ocpp/"
        self.csms_url = csms_url
        self.pki = None
        if any(s["profile"] >= 2 for s in self.specs):     # the run's CA, the tap's TLS side
            from tools.fleet.pki import FleetPki
            self.pki = FleetPki(workdir)
        self.tap = TapThread(csms_url, {s["id"]: s["ocpp"] for s in self.specs}, ssl=csms_ssl,
                             profiles={s["id"]: s["profile"] for s in self.specs},
                             server_ssl=self.pki.server_context() if self.pki else None)
        self.station_url = self.tap.url.rstrip("/")
        self.tls_url = self.tap.tls_url.rstrip("/") if self.pki else None
        self.stations = []
        self.stopping = threading.Event()
        self.t0 = None
        self.timeline = []
        self.events = []

    def now(self):
        return time.monotonic() - self.t0

    def online(self, st):
        """The station's link is up through the tap, no outage, and it is registered."""
        return self.tap.online(st.id) and st.status.get("connected") \
            and st.status.get("registration") == "Accepted"

    def remote_start(self, st, evse, token):
        link = self.csms.station(st.id)
        if link is None:
            return False
        try:
            if st.spec["ocpp"] == "1.6":
                r = link.call("RemoteStartTransaction", {"connectorId": evse, "idTag": token}, timeout=20)
            else:
                r = link.call("RequestStartTransaction", {"evseId": evse, "remoteStartId": len(st.sessions) + 1,
                              "idToken": {"idToken": token, "type": "ISO14443"}}, timeout=20)
        except Exception:           # noqa: BLE001 - the link went away meanwhile: a tag then
            return False
        return r.get("status") == "Accepted"

    def _schedule(self):
        rng = random.Random("%d:events" % self.sc["seed"])
        ev = []
        for f in self.sc["faults"]:
            k = max(1, round(f["share"] * len(self.stations)))
            for st in rng.sample(self.stations, min(k, len(self.stations))):
                ev.append((f["at_s"], "fault", st, f["kind"]))
                ev.append((f["at_s"] + f["for_s"], "clear", st, f["kind"]))
        for o in self.sc["outages"]:
            ev.append((o["at_s"], "outage", None, o["for_s"]))
        ev.sort(key=lambda x: (x[0], x[1], x[2].id if x[2] else ""))
        return ev

    def _fire(self, e):
        t, what, st, arg = e
        self.events.append({"t": round(self.now(), 1), "event": what,
                            "station": st.id if st else None, "arg": arg})
        if what == "outage":
            self.out("fleet: CSMS outage for %ss" % arg)
            self.tap.outage(arg)
            return
        for k in range(1, st.spec["evses"] + 1):
            try:
                control(st.sim.port, "%s %d %s" % (what, k, arg))
            except OSError as ex:
                self.out("fleet: %s %s: %s" % (what, st.id, ex))

    def progress(self):
        snap = self.tap.stats.snapshot()
        running = sum(len(s.active) for s in self.stations)
        done = sum(1 for s in self.stations for x in s.sessions if x["ended"])
        row = {"t": round(self.now(), 1), "connected": snap["connected"],
               "registered": snap["registered"], "running": running, "sessions_done": done,
               "errors": snap["errors"], "violations": snap["violations"]}
        self.timeline.append(row)
        self.out("fleet t=%5.0fs  connected %d/%d  registered %d/%d  sessions running %d, "
                 "done %d  tx %d/%d  errors %d  violations %d"
                 % (row["t"], row["connected"], len(self.stations), row["registered"],
                    len(self.stations), running, done, snap["tx_ended"], snap["tx_started"],
                    row["errors"], row["violations"]))

    def run(self, drain_s=120):
        """Starts, drives, drains; -> the report dict (tools.fleet.report.build)."""
        from tools.fleet import report
        self.t0 = time.monotonic()
        wave, every = self.sc["ramp"]["wave"], self.sc["ramp"]["every_s"]
        drivers = []
        try:
            for k, spec in enumerate(self.specs):
                if k and k % wave == 0:
                    time.sleep(every)
                st = Station(self, spec)
                self.stations.append(st)
                st.sim.start(timeout=60)
            self.out("fleet: %d stations started in %.1fs" % (len(self.stations), self.now()))
            self.t0 = time.monotonic()      # the scenario's clock starts with every station up
            for st in self.stations:
                st.cpu0, st.t_cpu0 = proc.cpu_s(st.sim.proc.pid), time.monotonic()
                th = threading.Thread(target=st.drive, name="drive-" + st.id, daemon=True)
                th.start()
                drivers.append(th)
            events = self._schedule()
            t_prog = 0.0
            while any(th.is_alive() for th in drivers):
                while events and events[0][0] <= self.now():
                    self._fire(events.pop(0))
                if self.now() >= t_prog:
                    self.progress()
                    t_prog = self.now() + _PROGRESS_S
                time.sleep(0.2)
            for e in events:                # after the last session: faults still on cleared
                if e[1] == "clear":
                    self._fire(e)
            self._drain(drain_s)
            self.progress()
            return report.build(self)
        finally:
            self.stopping.set()
            for st in self.stations:
                st.sim.stop()
            self.tap.stop()
            if self.csms is not None:
                self.csms.stop()

    def _drain(self, drain_s):
        """Until every station's transaction queue is empty and the CSMS acknowledged the
        end of every transaction it acknowledged the start of (bounded)."""
        deadline = time.monotonic() + drain_s
        for st in self.stations:
            st.rss = proc.rss_bytes(st.sim.proc.pid)
            st.cpu = proc.cpu_s(st.sim.proc.pid) - st.cpu0
            st.cpu_wall = time.monotonic() - st.t_cpu0
        while time.monotonic() < deadline:
            qs = []
            for st in self.stations:
                try:
                    st.status = control(st.sim.port, "status")
                except OSError:
                    continue
                qs.append(st.status.get("tx_queue") or 0)
            snap = self.tap.stats.snapshot()
            st_all = self.tap.stats
            with st_all.lock:
                open_tx = len(st_all.tx_started - st_all.tx_ended)
            if not any(qs) and not open_tx and snap["registered"] >= len(self.stations):
                return True
            time.sleep(1)
        self.out("fleet: drain incomplete after %ss" % drain_s)
        return False
