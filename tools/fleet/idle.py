"""What a simulated station costs when nothing happens, and when it charges: CPU-seconds
per minute of its whole process tree (/proc), side by side with another revision of the
code in the same run (its tree unpacked with `git archive`), against one dev CSMS.

    .venv/bin/python -m tools.fleet.idle [--against REV] [--window 60] [--evses 2]

An idle station: connected, registered, heartbeats every --heartbeat s, no EV. Start-up:
process start to BootNotification Accepted (the control channel polled every 5 ms)."""
import argparse
import os
import subprocess
import sys
import tempfile
import time

from tools.fleet import proc
from tools.fleet.harness import ROOT, CsmsThread, SimStation, sim_script


def unpack(rev, into):
    """The tree of `rev` (a git revision of this repository) under `into`."""
    arch = subprocess.run(["git", "-C", ROOT, "archive", rev], check=True,
                          capture_output=True).stdout
    os.makedirs(into, exist_ok=True)
    subprocess.run(["tar", "-x", "-C", into], input=arch, check=True)
    return into


def start(csms, tree, ident, ocpp, evses, tmp):
    st = SimStation(csms.url + "ocpp", ident, ocpp, tmp, evses=evses)
    st.args[1] = sim_script(tree)
    st.start(timeout=30)
    st.wait(lambda s: s.get("registration") == "Accepted", timeout=30, what="accepted")
    return st


def startup_ms(csms, tree, ident, ocpp, evses, tmp, direct=False, code=None):
    """Process start to the CSMS holding the station's BootNotification (answered
    Accepted at once): tools/sim (CPython, which execs micropython), or with direct the
    micropython process alone, on the options file an earlier tools/sim run wrote, from
    `code` (default: the tree's sources; build/mpy: the .mpy files `make check` builds)."""
    st = SimStation(csms.url + "ocpp", ident, ocpp, tmp, evses=evses)
    st.args[1] = sim_script(tree)
    args, env, cwd = st.args, None, ROOT
    if direct:
        exe = os.path.join(os.path.dirname(sys.executable), "micropython")
        args = [exe, "-X", "heapsize=512k", "-m", "boards.sim.run", st.flash + ".opts.json"]
        code = code or tree
        env = dict(os.environ, MICROPYPATH=".frozen:%s:%s" % (os.path.join(code, "lib"), code))
        cwd = code
    seen = len(csms.csms.links(ident))
    log = open(st.log_path, "ab")
    t0 = time.monotonic()
    st.proc = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=log, env=env,
                               stderr=subprocess.STDOUT, cwd=cwd)
    st._log = log
    try:
        while time.monotonic() - t0 < 30:
            links = csms.csms.links(ident)[seen:]       # this boot's connections only
            if any(a == "BootNotification" for ln in links for a, _ in list(ln.received)):
                return (time.monotonic() - t0) * 1000
            time.sleep(0.002)
        return None
    finally:
        st.stop()


def measure(stations, window):
    """CPU-s per minute of each station's process tree over `window` s of wall time."""
    c0 = [proc.cpu_s(st.proc.pid) for st in stations]
    t0 = time.monotonic()
    time.sleep(window)
    dt = time.monotonic() - t0
    return [(proc.cpu_s(st.proc.pid) - c) * 60 / dt for st, c in zip(stations, c0)]


def run(against="HEAD", window=60, evses=2, ocpp="2.0.1", heartbeat=10, charging=True,
        startups=5, out=print):
    """-> {"idle": {label: cpu_s_per_min}, "charging": {...}, "startup_ms": {...},
    "rss": {...}}; labels "now" (this tree) and the revision."""
    res = {"idle": {}, "charging": {}, "startup_ms": {}, "rss": {}, "window_s": window,
           "evses": evses, "ocpp": ocpp, "heartbeat_s": heartbeat}
    with tempfile.TemporaryDirectory() as tmp, \
            CsmsThread(host="127.0.0.1", port=0, boot_interval=heartbeat) as csms:
        trees = {"now": ROOT}
        if against:
            trees[against] = unpack(against, os.path.join(tmp, "tree"))
        sts = {}
        try:
            for k, (label, tree) in enumerate(trees.items()):
                sts[label] = start(csms, tree, "IDLE%d" % k, ocpp, evses, tmp)
            time.sleep(2)                       # boot's after-messages settle
            labels = list(sts)
            cpu = measure([sts[k] for k in labels], window)
            for k, v in zip(labels, cpu):
                res["idle"][k] = round(v, 3)
                res["rss"][k] = proc.rss_bytes(sts[k].proc.pid)
                out("idle %-8s %.3f CPU-s/min  (rss %.1f MB)" % (k, v, res["rss"][k] / 1e6))
            if charging:
                for k in labels:
                    for e in range(1, evses + 1):
                        sts[k].cmd("plug %d" % e)
                for k in labels:
                    sts[k].wait(lambda s: all(e["relay"] for e in s["evses"]), timeout=30,
                                what="charging")
                cpu = measure([sts[k] for k in labels], window)
                for k, v in zip(labels, cpu):
                    res["charging"][k] = round(v, 3)
                    out("charging %-8s %.3f CPU-s/min" % (k, v))
        finally:
            for st in sts.values():
                st.stop()
        for k, (label, tree) in enumerate(trees.items()):
            # the first boot formats its flash image; the figures are boots on a used one.
            # Wall time on a shared machine: the median and the best of `startups` runs
            runs = {"startup_ms": [startup_ms(csms, tree, "UP%d" % k, ocpp, evses, tmp)
                                   for j in range(startups + 1)][1:],
                    "startup_mp_ms": [startup_ms(csms, tree, "UP%d" % k, ocpp, evses, tmp, True)
                                      for j in range(startups)]}
            mpy = os.path.join(tree, "build", "mpy")
            if os.path.isdir(mpy):          # `make check`'s .mpy files, as a board runs code
                runs["startup_mpy_ms"] = [startup_ms(csms, tree, "UP%d" % k, ocpp, evses, tmp,
                                                     True, mpy) for j in range(startups)]
            for key, xs in runs.items():
                xs = sorted(x for x in xs if x is not None)
                res.setdefault(key, {})[label] = (round(xs[len(xs) // 2]), round(xs[0])) \
                    if xs else (None, None)
            out("startup %-8s median/best ms: %s" % (label, ", ".join(
                "%s %s/%s" % (key[8:-3] or "tools/sim", *res[key][label])
                for key in runs)))
    return res


def main(argv=None):
    ap = argparse.ArgumentParser(prog="python -m tools.fleet.idle", description=__doc__.split("\n\n")[0])
    ap.add_argument("--against", default="HEAD", help="git revision measured beside this tree ('' for none)")
    ap.add_argument("--window", type=float, default=60, help="seconds of wall time per figure")
    ap.add_argument("--evses", type=int, default=2)
    ap.add_argument("--ocpp", default="2.0.1", choices=("1.6", "2.0.1"))
    ap.add_argument("--heartbeat", type=int, default=10, help="HeartbeatInterval the CSMS sets, s")
    ap.add_argument("--no-charging", action="store_true")
    a = ap.parse_args(argv)
    run(a.against or None, a.window, a.evses, a.ocpp, a.heartbeat, not a.no_charging)


if __name__ == "__main__":
    sys.exit(main())
