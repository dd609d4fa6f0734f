#!/usr/bin/env python3
"""The board images and the emulated Pico (issue 15, "Measure"), run by `make bench`
(`tools/bench/bench.py --only images` runs this part alone); records its two sections in
BENCHMARKS.md (tools/bench/benchrec.py):

- image sizes, stock vs frozen, RPI_PICO and RPI_PICO_W: firmware.bin bytes, text / data
  / bss of firmware.elf (arm-none-eabi-size). Frozen: `make image-pico` and `make image
  BOARD=rp2_pico_w` (build/image/<BOARD>/); stock: `make image-stock MPBOARD=<BOARD>`
  (STOCK=1 tools/build/image.sh: the port's modules and asyncio, nothing of ours, into
  build/image/<BOARD>-stock/, so the frozen image stays). Each is built when missing
  (minutes) and brought up to date otherwise (seconds);
- build time: incremental (a firmware .py touched, `make image-pico` timed, every run)
  and from nothing (`--from-nothing`: the object folders build/image/obj-<BOARD> removed
  and `make image...` timed, sources and picotool cached; minutes, so only on request:
  the figure is kept in build/bench/image-times.json and reported from there, dated);
- on the emulated Pico (tools/emu on rp2040js, driven through tests/emu/emuctl.py), the
  RPI_PICO image: gc.mem_free() after boot and its lowest in a 16 A session, the live
  heap after a collection (boot, peak); the safety tick's own duration per call (mean
  and max over the run, emulated us); the pilot burst (reads, span); fault-to-relay-open
  in emulated ms: RCD through the pin interrupt with the loop stalled, diode missing,
  the EV going C->B (`--faults N` of each); the emulator's speed against the wall clock;
- the RPI_PICO_W image on the emulator: CYW43 is not emulated, so the station cannot
  come up; the image is booted on a fresh flash without provisioning and the frozen
  modules are imported at the REPL (gc.mem_free() before and after), if it gets there:
  what happened is recorded either way.

    .venv/bin/python tools/bench/emubench.py [--no-record] [--from-nothing] [--faults N]
                                       [--no-emu] [--no-build]

Measured, never asserted: the tests (tests/emu) check behaviour with limits."""
import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, ROOT)

from tools.bench import benchrec  # noqa: E402

IMG = os.path.join(ROOT, "build", "image")
BOARDS = ("RPI_PICO", "RPI_PICO_W")
TIMES = os.path.join(ROOT, "build", "bench", "image-times.json")
TOUCHED = os.path.join(ROOT, "firmware", "evse", "pilot.py")   # the incremental build's edit
TOOL = "tools/bench/emubench.py"
ERR_RCD, ERR_DIODE = 1, 16


def make(*args):
    """-> wall seconds of `make args` (its output to build/bench/make.log)."""
    os.makedirs(os.path.join(ROOT, "build", "bench"), exist_ok=True)
    t0 = time.monotonic()
    with open(os.path.join(ROOT, "build", "bench", "make.log"), "a") as log:
        log.write("\n$ make %s\n" % " ".join(args))
        log.flush()
        r = subprocess.run(["make", "--no-print-directory", "-C", ROOT] + list(args),
                           stdout=log, stderr=subprocess.STDOUT)
    if r.returncode:
        raise RuntimeError("make %s failed (build/bench/make.log)" % " ".join(args))
    return time.monotonic() - t0


def make_args(board, stock):
    if stock:
        return ("image-stock", "MPBOARD=" + board)
    return ("image-pico",) if board == "RPI_PICO" else ("image", "BOARD=rp2_pico_w")


def out_dir(board, stock):
    return os.path.join(IMG, board + ("-stock" if stock else ""))


def sizes(board, stock):
    d = out_dir(board, stock)
    out = subprocess.run(["arm-none-eabi-size", os.path.join(d, "firmware.elf")],
                         capture_output=True, text=True, check=True).stdout
    text, data, bss = (int(x) for x in out.splitlines()[-1].split()[:3])
    return {"bin": os.path.getsize(os.path.join(d, "firmware.bin")),
            "text": text, "data": data, "bss": bss}


def load_times():
    try:
        with open(TIMES) as f:
            return json.load(f)
    except (OSError, ValueError):
        return {}


def save_times(t):
    os.makedirs(os.path.dirname(TIMES), exist_ok=True)
    with open(TIMES, "w") as f:
        json.dump(t, f, indent=1, sort_keys=True)


def from_nothing(board):
    """Removes the board's frozen object folder and image, times the build."""
    subprocess.run(["rm", "-rf", os.path.join(IMG, "obj-" + board), out_dir(board, False)],
                   check=True)
    return make(*make_args(board, False))


def incremental():
    """-> (touched, edited, restored): `make image-pico` timed after a firmware module
    was only touched (mpy-cross of that module; its bytecode, so the frozen content, the
    same), after a line that changes its bytecode was appended (the frozen content
    compiled again, the image linked), and after the file was put back as it was."""
    make(*make_args("RPI_PICO", False))            # up to date first
    os.utime(TOUCHED)
    touched = make(*make_args("RPI_PICO", False))
    with open(TOUCHED, "rb") as f:
        orig = f.read()
    try:
        with open(TOUCHED, "ab") as f:
            f.write(b"\n_BENCH_EDIT = %d\n" % time.time())
        edited = make(*make_args("RPI_PICO", False))
    finally:
        with open(TOUCHED, "wb") as f:
            f.write(orig)
    restored = make(*make_args("RPI_PICO", False))
    return touched, edited, restored


def image_rows(build=True, nothing=False):
    rows = []
    times = load_times()
    if nothing:
        for b in BOARDS:
            s = from_nothing(b)
            times[b] = {"s": round(s, 1), "when": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
                        "how": "`tools/bench/emubench.py --from-nothing`: build/image/obj-%s removed, "
                               "sources and picotool cached" % b}
        save_times(times)
    for b in BOARDS:
        if build:
            make(*make_args(b, True))
            make(*make_args(b, False))
        st, fr = sizes(b, True), sizes(b, False)
        rows.append(("%s image, stock: firmware.bin; text / data / bss" % b,
                     "%d B; %d / %d / %d B" % (st["bin"], st["text"], st["data"], st["bss"]),
                     "`make image-stock MPBOARD=%s` (tools/build/stock-rp2-manifest.py: the port's "
                     "modules and asyncio), arm-none-eabi-size firmware.elf" % b))
        rows.append(("%s image, firmware frozen: firmware.bin; text / data / bss" % b,
                     "%d B; %d / %d / %d B" % (fr["bin"], fr["text"], fr["data"], fr["bss"]),
                     "`%s` (boards/rp2_pico_w/manifest.py)" % " ".join(("make",) + make_args(b, False))))
        rows.append(("%s image, what the frozen firmware adds" % b,
                     "firmware.bin +%d B; text +%d B, data +%d B, bss +%d B"
                     % (fr["bin"] - st["bin"], fr["text"] - st["text"], fr["data"] - st["data"],
                        fr["bss"] - st["bss"]),
                     "frozen minus stock (flash: 2 MiB, the filesystem after the image)"))
    for b in BOARDS:
        t = times.get(b)
        rows.append(("%s image build from nothing" % b,
                     "%.0f s (recorded %s)" % (t["s"], t["when"]) if t else "not measured",
                     t["how"] if t else "run `tools/bench/emubench.py --from-nothing` (minutes)"))
    if build:
        t, e, r = incremental()
        f = os.path.relpath(TOUCHED, ROOT)
        rows.append(("RPI_PICO image build after a firmware .py change",
                     "%.1f s (edit), %.1f s (back), %.1f s (touch only)" % (e, r, t),
                     "`make image-pico` timed this run (JOBS=2): after a line changing its "
                     "bytecode was appended to %s, after the file was put back, and after "
                     "`touch %s` (same bytecode, so the frozen content stays)" % (f, f)))
    return rows


# ------------------------------------------------------------------ the emulated Pico
def ev(s):
    return s["evses"][0]


def idle(emu):
    emu.ok("ev 1 auto")
    emu.ok("unplug 1")
    return emu.until(lambda s: ev(s).get("state") == "Idle" and not ev(s).get("errors")
                     and not ev(s)["relay"], emu_ms=20000, what="Idle, no error")


def charging(emu):
    emu.ok("plug 1")
    return emu.until(lambda s: ev(s)["relay"] and ev(s)["current_a"] > 0
                     and ev(s).get("state") == "Charging", what="charging")


def spread(xs, unit, nd=3):
    xs = [x for x in xs if x is not None]
    if not xs:
        return "none"
    lo, hi = min(xs), max(xs)
    f = "%%.%df" % nd
    return (f % lo if lo == hi else (f + "-" + f) % (lo, hi)) + " " + unit + " (%d)" % len(xs)


def emu_rows(tmp, faults=3, board="RPI_PICO"):
    """The station on the emulated board: boot, sessions, faults. The RPI_PICO_W image
    boots too, provisioned like the Pico's (CYW43 fails to start, the station runs
    offline beside the setup access point's retries)."""
    from tests.emu import emuctl
    why = emuctl.missing()
    image = os.path.join(out_dir(board, False), "firmware.bin")
    if why or not os.path.exists(image):
        return [("%s, emulated" % board, "not run", why or "no %s" % image)]
    guard, emuctl.GUARD_S = emuctl.GUARD_S, 300
    emu = None
    try:
        emu = emuctl.Emu(tmp, name="bench-" + board, image=image)
        s = emu.until(lambda s: ev(s).get("state") == "Idle" and s.get("heap_used"),
                      emu_ms=30000, what="the station idle, its status published")
        boot_free, boot_used = s["mem_free"], s["heap_used"]
        boot_tick_max = s["tick_max_us"]
        emu.ok("draw 1 16")
        low, c_to_b = boot_free, []
        for _ in range(faults):                 # sessions A->B->C, charge, C->B->A
            s = charging(emu)
            for _ in range(8):
                emu.run_ms(300)
                s = emu.status()
                low = min(low, s["mem_free"])
            emu.ok("ev 1 B")
            s = emu.until(lambda s: not ev(s)["relay"], what="relay open on C->B")
            c_to_b.append(ev(s)["ev_to_open_ms"])
            idle(emu)
        tmax = [("boot", boot_tick_max), ("sessions", emu.status()["tick_max_us"])]
        rcd = []
        for _ in range(faults):
            charging(emu)
            emu.ok("stall 1500")
            emu.run_ms(300)
            emu.ok("fault 1 rcd between-ticks")
            s = emu.until(lambda s: ev(s)["fault_to_open_ms"] is not None, emu_ms=2000,
                          what="relay open after the RCD trip")
            rcd.append(ev(s)["fault_to_open_ms"])
            emu.until(lambda s: ev(s).get("errors", 0) & ERR_RCD, emu_ms=10000, what="RCD error")
            emu.ok("clear 1 rcd")
            idle(emu)
        tmax.append(("RCD trips", emu.status()["tick_max_us"]))
        diode = []
        for _ in range(faults):
            charging(emu)
            emu.ok("fault 1 diode")
            s = emu.until(lambda s: ev(s).get("errors", 0) & ERR_DIODE and not ev(s)["relay"]
                          and ev(s)["fault_to_open_ms"] is not None, what="diode fault")
            diode.append(ev(s)["fault_to_open_ms"])
            emu.ok("clear 1 diode")
            idle(emu)
        s = emu.status()
        b = emu.ok("bursts")
        cyw43 = sum("Failed to start CYW43" in l for l in emu.cmd("log 400")["lines"])
    except (AssertionError, OSError) as e:
        return [("%s, emulated: the station" % board, "FAILED",
                 str(e).splitlines()[0][:300].replace("|", "/"))]
    finally:
        emuctl.GUARD_S = guard
        if emu:
            emu.stop()
    how = "%s image on rp2040js (tools/emu), emulated time (125 MHz, no flash wait states)" % board
    if board != "RPI_PICO":
        how += ("; '[CYW43] Failed to start CYW43' %d times in the last 400 console lines "
                "(no radio emulated: the setup access point retries)" % cyw43)
    rows = [
        ("RPI_PICO, emulated: heap free after boot", "%d B (live after a collection: %d B)"
         % (boot_free, boot_used), "gc.mem_free() with the station idle (offline: no radio), "
         "the firmware frozen; tests/emu/emuctl.py"),
        ("RPI_PICO, emulated: heap free, lowest in %d session(s) at 16 A" % faults,
         "%d B (live peak after a collection: %s B)" % (low, s.get("heap_peak")),
         "gc.mem_free() every 300 ms emulated while charging; heap_peak: the host link's "
         "gc.mem_alloc() after gc.collect(), highest of the run"),
        ("RPI_PICO, emulated: safety tick, own duration per call",
         "mean %.0f us, max %d us (%d calls)" % (s["tick_us"] / max(1, s["tick_n"]),
                                                 s["tick_max_us"], s["tick_n"]),
         "the tick's own time.ticks_us() around each call, since the station's boot; the "
         "max so far after each phase: %s; 10 ms period; "
         % ", ".join("%s %d us" % t for t in tmax + [("diode faults", s["tick_max_us"])]) + how),
        ("RPI_PICO, emulated: pilot burst per tick",
         "%.1f reads over %.0f us mean (span max %.0f us)" % (b["reads_mean"], b["span_us_mean"],
                                                            b["span_us_max"]),
         "%d bursts seen by the emulated ADC" % b["bursts"]),
        ("RPI_PICO, emulated: RCD trip -> relay open", spread(rcd, "ms"),
         "pin interrupt, the loop stalled (`stall 1500`), tripped 4 ms into a tick's burst"),
        ("RPI_PICO, emulated: diode missing -> relay open", spread(diode, "ms", 1),
         "the emulated pilot's low half gone, while charging"),
        ("RPI_PICO, emulated: EV C->B -> relay open", spread(c_to_b, "ms", 1),
         "the EV's state changed while charging at 16 A"),
        ("emulator speed", "%.2f x real time" % (s["emu_ms"] / max(1, s["wall_ms"])),
         "emulated ms / wall ms while the emulator ran (%.0f s emulated), on this shared "
         "machine" % (s["emu_ms"] / 1000)),
    ]
    for i, r in enumerate(rows):
        rows[i] = (r[0].replace("RPI_PICO,", board + ","), r[1], r[2])
    if board != "RPI_PICO":
        rows[-1] = (rows[-1][0] + ", " + board, rows[-1][1], rows[-1][2])
    return rows


PICO_W_IMPORTS = """import gc
gc.collect(); f0 = gc.mem_free()
import firmware.main, firmware.ocpp.v16.core, firmware.ocpp.v201.core, ws, ocppj, store
import boards.common.boot, boards.rp2_pico_w.hal
gc.collect(); print("FREE", f0, gc.mem_free())
"""


def pico_w_rows(tmp, limit_s=240):
    """The Pico W image on the emulator, no provisioning: to the REPL and the imports?"""
    from tests.emu import emuctl
    image = os.path.join(out_dir("RPI_PICO_W", False), "firmware.bin")
    if not os.path.exists(image):
        return [("RPI_PICO_W, emulated", "not run", "no %s" % image)]
    guard, emuctl.GUARD_S = emuctl.GUARD_S, limit_s
    emu = None
    t0 = time.monotonic()
    try:
        emu = emuctl.Emu(tmp, name="picow", image=image, args=("--no-provision",))
        emu.run_ms(3000)                 # what the firmware does at boot, from its console
        lines = emu.cmd("log 100")["lines"]
        cyw43 = sum("Failed to start CYW43" in l for l in lines)
        safe = any("SAFE MODE" in l for l in lines)
        out = emu.repl_exec(PICO_W_IMPORTS, soft_reset=True)
        m = re.search(r"FREE (\d+) (\d+)", out)
        if not m:
            raise AssertionError("no figures in %r" % out)
        f0, f1 = int(m.group(1)), int(m.group(2))
        s = emu.status()
        return [("RPI_PICO_W, emulated: heap free at the REPL, before / after importing the "
                 "firmware", "%d B / %d B" % (f0, f1),
                 "fresh flash, not provisioned: in its first 3 s the board logged %s and "
                 "'[CYW43] Failed to start CYW43' %d times (CYW43 is not emulated); Ctrl-C to "
                 "the raw REPL, a soft reset there (boot.py runs, main.py does not); gc.mem_free() after gc.collect(), imports: firmware.main, both OCPP "
                 "cores, ws, ocppj, store, boards.common.boot, the HAL (frozen: no heap for "
                 "code); %.0f s emulated"
                 % ("SAFE MODE (no configuration)" if safe else "no SAFE MODE", cyw43,
                    s["emu_ms"] / 1000))]
    except (AssertionError, OSError) as e:
        log = emu.log() if emu else ""
        tail = " / ".join(l.strip() for l in str(e).splitlines()[:1] + log.splitlines()[-3:]
                          if l.strip())
        return [("RPI_PICO_W, emulated", "no REPL reached (%.0f s wall)" % (time.monotonic() - t0),
                 "CYW43 is not emulated by rp2040js: %s" % tail.replace("|", "/")[:300])]
    finally:
        emuctl.GUARD_S = guard
        if emu:
            emu.stop()


def main(append=True, nothing=False, faults=3, emu=True, build=True):
    rows = image_rows(build=build, nothing=nothing)
    benchrec.report("Board images (rp2)", TOOL, rows, append,
                    notes=("MicroPython 1.25 (Debian's source), pico-sdk 2.1.1, arm-none-eabi-gcc "
                           "from Debian bookworm; RPI_PICO_W without Bluetooth "
                           "(tools/build/image.sh).",))
    if not emu:
        return rows
    with tempfile.TemporaryDirectory() as d:
        import pathlib
        erows = (emu_rows(pathlib.Path(d), faults=faults)
                 + emu_rows(pathlib.Path(d), faults=1, board="RPI_PICO_W")
                 + pico_w_rows(pathlib.Path(d)))
    benchrec.report("The emulated Pico (rp2040js)", TOOL, erows, append,
                    notes=("Emulated time counts rp2040js's instruction cycles at 125 MHz without "
                           "flash (XIP cache-miss) wait states: a real chip may be slower "
                           "(docs/emulator.md).",))
    return rows + erows


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--no-record", action="store_true", help="print only, BENCHMARKS.md untouched")
    ap.add_argument("--from-nothing", action="store_true",
                    help="also time each frozen image built from an empty object folder (minutes)")
    ap.add_argument("--faults", type=int, default=3, help="sessions / faults of each kind")
    ap.add_argument("--no-emu", action="store_true", help="the image figures only")
    ap.add_argument("--no-build", action="store_true",
                    help="sizes of the images as built, no make (no incremental build time)")
    a = ap.parse_args()
    main(append=not a.no_record, nothing=a.from_nothing, faults=a.faults, emu=not a.no_emu,
         build=not a.no_build)
