"""Where a station's start-up time goes (issue 20: start-up to BootNotification Accepted
under 200 ms): the same station (2.0.1, two EVSEs, a used flash image, the dev CSMS on
loopback answering at once) timed from process start, N runs each, median and best:

- interpreter: `micropython -c pass`, the unix port's own start;
- import: `micropython -c "import boards.sim.run"`, every module a boot loads before it
  opens the flash image, from the .py sources (compiled at import) and from build/mpy;
- Accepted, micropython alone: the station on its options file, to its log line "boot
  Accepted" (its own ticks_ms: CLOCK_MONOTONIC, as time.monotonic() here), from sources
  and from build/mpy;
- Accepted via tools/harness/sim: the CPython launcher first (argument handling, the
  build/mpy check, exec), with --source and with its default (build/mpy when current).

    .venv/bin/python -m tools.fleet.startup [--runs 7]

Wall time on whatever else the machine runs: the best figure is the one least disturbed."""
import argparse
import os
import subprocess
import sys
import tempfile
import time

from tools.fleet.harness import ROOT, CsmsThread, SimStation
from tools.harness.mpytree import current_mpy

_MP = os.path.join(os.path.dirname(sys.executable), "micropython")


def _env(code):
    return dict(os.environ, MICROPYPATH=".frozen:%s:%s" % (os.path.join(code, "lib"), code))


def _wall(args, env=None, cwd=ROOT):
    t0 = time.monotonic()
    subprocess.run(args, env=env, cwd=cwd, check=True, stdin=subprocess.DEVNULL,
                   stdout=subprocess.DEVNULL)
    return (time.monotonic() - t0) * 1000


_TICKS = 1 << 30                # MicroPython's ticks_ms period


def _accepted(csms, st, args, env, cwd):
    """Process start to the station taking the BootNotification's Accepted -> ms (None:
    not in 30 s). The station logs "boot Accepted" with time.ticks_ms(), which on the unix
    port is CLOCK_MONOTONIC in ms, the clock of CPython's time.monotonic(): the figure is
    the station's own moment, not when a poll from here noticed it."""
    seen = len(csms.csms.links(st.ident))
    with open(st.log_path, "ab") as f:
        start = f.tell()
    log = open(st.log_path, "ab")
    t0 = time.monotonic()
    st.proc = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=log, env=env,
                               stderr=subprocess.STDOUT, cwd=cwd)
    st._log = log
    try:
        booted = False
        while time.monotonic() - t0 < 30:
            if not booted:
                links = csms.csms.links(st.ident)[seen:]
                booted = any(a == "BootNotification" for ln in links for a, _ in list(ln.received))
            if booted:
                with open(st.log_path, "rb") as f:
                    f.seek(start)
                    for line in f:
                        if b" ocpp: boot Accepted" in line:
                            tick = int(line.split(None, 1)[0])
                            return (tick - int(t0 * 1000)) % _TICKS
            time.sleep(0.005)
        return None
    finally:
        st.stop()


def measure(runs=7, out=print):
    """-> {figure: (median ms, best ms)}; figures as the module's docstring lists them."""
    mpy = current_mpy()
    if mpy is None:
        raise SystemExit("startup: build/mpy is missing or older than the sources: make check")
    res = {}

    def put(name, xs):
        xs = sorted(x for x in xs if x is not None)
        res[name] = (round(xs[len(xs) // 2]), round(xs[0])) if xs else (None, None)
        out("%-34s median %5s ms, best %5s ms" % (name, *res[name]))

    put("interpreter", [_wall([_MP, "-c", "pass"]) for _ in range(runs)])
    imp = [_MP, "-X", "heapsize=512k", "-c", "import boards.sim.run"]
    put("import, sources", [_wall(imp, _env(ROOT), ROOT) for _ in range(runs)])
    put("import, build/mpy", [_wall(imp, _env(mpy), mpy) for _ in range(runs)])
    with tempfile.TemporaryDirectory() as tmp, \
            CsmsThread(host="127.0.0.1", port=0, boot_interval=300) as csms:
        st = SimStation(csms.url + "ocpp", "UP1", "2.0.1", tmp, evses=2)
        st.start(timeout=60)        # formats the flash image and writes the options file
        st.wait(lambda s: s.get("registration") == "Accepted", timeout=60, what="accepted")
        st.stop()
        direct = [_MP, "-X", "heapsize=512k", "-m", "boards.sim.run", st.flash + ".opts.json"]
        for name, code in (("Accepted, micropython, sources", ROOT),
                           ("Accepted, micropython, build/mpy", mpy)):
            put(name, [_accepted(csms, st, direct, _env(code), code) for _ in range(runs)])
        for name, flag in (("Accepted, tools/harness/sim --source", ["--source"]),
                           ("Accepted, tools/harness/sim default", [])):
            args = st.args[:] + flag
            put(name, [_accepted(csms, st, args, None, ROOT) for _ in range(runs)])
    return res


def main(argv=None):
    ap = argparse.ArgumentParser(prog="python -m tools.fleet.startup",
                                 description=__doc__.split("\n\n")[0])
    ap.add_argument("--runs", type=int, default=7)
    a = ap.parse_args(argv)
    measure(a.runs)


if __name__ == "__main__":
    sys.exit(main())
