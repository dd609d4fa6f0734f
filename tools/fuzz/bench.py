"""`make bench` section "Hostile frames" (issue 18), or `tools/bench/bench.py --only fuzz`:

- the long fuzz run: 100,000 seeded hostile frames per OCPP version (tools/fuzz/frames.py)
  through a serving ocppj.Rpc inside micropython (tests/mp/hostile.py), each answer
  judged as tests/unit/test_hostile.py judges its 3,000: frames, answers, wrong answers,
  frames per second, the longest time one frame took to be answered;
- the cost of the strict check per frame (tools/fuzz/scan_mp.py): lib/ocppj/scan.py's
  scan() beside json.loads of the same frame, and lib/ws's UTF-8 check of non-ASCII text
  (the least of 5 runs: the machine is shared)."""
import os
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, ROOT)

from tests import mp  # noqa: E402
from tools.bench import benchrec  # noqa: E402
from tools.fuzz import frames as F  # noqa: E402

TITLE = "Hostile frames"


def fuzz(version, n, seed, tmp):
    fr = F.frames(version, n, seed)
    src, dst = os.path.join(tmp, "frames"), os.path.join(tmp, "results")
    F.write(src, fr)
    t = time.monotonic()
    out = mp.run_file("hostile", version, src, dst, heapsize="512k", timeout=3600)
    dt = time.monotonic() - t
    res = F.read_results(dst)
    wrong = sum(1 for (k, b), a in zip(fr, res) if F.judge(version, k, b, a))
    return out, wrong, dt


def scan_cost(runs=5):
    best = {}
    for _ in range(runs):
        p = subprocess.run([mp.MICROPYTHON, "-X", "heapsize=2m",
                            os.path.join(ROOT, "tools", "fuzz", "scan_mp.py")],
                           capture_output=True, text=True, env=mp.env(), cwd=ROOT, check=True)
        for line in p.stdout.splitlines():
            if line.startswith("ROW|"):
                name, size, *us = line.split("|")[1:]
                us = [float(x) for x in us]
                old = best.get(name)
                best[name] = (size, [min(a, b) for a, b in zip(old[1], us)] if old else us)
    return best


def main(append=True, n=100000, seed=1):
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for v in ("1.6", "2.0.1"):
            out, wrong, dt = fuzz(v, n, seed, tmp)
            rows.append(("fuzz, OCPP %s: frames / answers / wrong" % v,
                         "%d / %d / %d" % (out["frames"], out["answers"], wrong),
                         "seed %d; wrong = missing, extra, invalid UTF-8/JSON or wrong id; "
                         "reader alive: %s, frames failed: %d" % (seed, out["alive"],
                                                                  out["failed"])))
            rows.append(("fuzz, OCPP %s: frames per second / slowest frame" % v,
                         "%.0f / %.1f ms" % (out["frames"] / dt, out["worst_us"] / 1000),
                         "unix port, `-X heapsize=512k` (%d B free at the end); a frame: "
                         "pushed, answered by a handler task" % out["free"]))
    for name, (size, us) in scan_cost().items():
        s, e, j, u = us
        rows.append(("strict check, %s (%s B)" % (name, size),
                     "%.0f us" % s,
                     "scan(); json.loads of it %s; encode() %.0f us; lib/ws UTF-8 check %s"
                     % ("%.0f us" % j if j >= 0 else "not run (refused)", e,
                        "%.0f us" % u if u >= 0 else "not run (ASCII)")))
    return benchrec.report(TITLE, "tools/fuzz/bench.py", rows, append, notes=(
        "Unix port, 64-bit, on the shared 2-core machine: the least of 5 runs; a board is "
        "some 10-30x slower per operation. The strict check runs once per incoming frame "
        "before json.loads (lib/ocppj/scan.py); lib/ws's extra UTF-8 check runs only for "
        "text that is not ASCII.",))


if __name__ == "__main__":
    main(append="--no-record" not in sys.argv,
         n=int(os.environ.get("FUZZ_FRAMES", "100000")))
