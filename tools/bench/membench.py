#!/usr/bin/env python3
"""Memory figures of a board running the firmware FROZEN into its image (issue 6), run by
`make bench`; appends its section to BENCHMARKS.md:

- the .mpy bundle per board: the files `make deploy` copies (tools/build/deploy.py's plan and
  build), compiled for esp32_generic (xtensawin) and rp2_pico_w (armv6m), by part;
- the frozen image: what firmware/, lib/ and boards/ add to the 32-bit unix image of
  `make mp32f` (text + data of its frozen_content.o, split by package from the symbols;
  the names' pool shared);
- on that image (`make mp32f`: 32-bit, 4-byte words, the firmware frozen as on a board):
  gc.mem_free() after boot and the live-heap peak of the complete firmware's session of
  tools/bench/heapreport.py (class Complete: boot, plug both EVSEs, 1 s meter values, unplug
  both; security profile 2 over TLS with mbedTLS in the MicroPython heap as on rp2, EVSE
  1's energy from a Modbus RTU meter; the dev CSMS validating), at -X heapsize=160k (a
  Pico W) and 112k (an ESP32 without PSRAM), per OCPP version; and the smallest
  -X heapsize at which that session passes (4 KiB steps).

    .venv/bin/python tools/bench/membench.py [--no-record]"""
import argparse
import glob
import json
import os
import re
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, ROOT)

MP32F = os.path.join(ROOT, "build", "mp32f", "micropython")
HEAPS = (("160k", "Pico W"), ("112k", "ESP32 without PSRAM"))
BOARDS = ("esp32_generic", "rp2_pico_w")
LIB = ("ws", "httpc", "ocppj", "store", "modbus", "x509", "csr", "fwslot")


def part(path):
    """The part of the firmware a file (path relative to the repository or the device,
    / separators) belongs to."""
    top = path.split("/")[0]
    if top == "lib" or top in LIB:
        return "lib"
    if top == "boards":
        return "boards/common" if path.split("/")[1] in ("common", "__init__.py",
                                                          "__init__.mpy") else "board"
    return top


def bundle(board):
    """-> {part: bytes} of the .mpy files `make deploy BOARD=board` copies, and its arch."""
    from tools.build import deploy
    with open(os.path.join(ROOT, "boards", board, "board.json")) as f:
        arch = json.load(f).get("arch")
    files, _ = deploy.plan(board)
    built = deploy.build(board, files, arch, os.path.join(ROOT, "build", "membench", board))
    sizes = {}
    for remote, local in built.items():
        if remote.endswith(".mpy"):
            p = part(remote)
            sizes[p] = sizes.get(p, 0) + os.path.getsize(local)
    return sizes, arch


_SYM = re.compile(r"^(?:fun_data|const_obj_table_data|const_obj|const_qstr_table_data|"
                  r"const_table_data|proto_fun_table|proto_fun|raw_code|children|frozen_module)_")


def frozen_image():
    """-> {part: bytes} of frozen_content.o in the mp32f build (text + data by symbol;
    'names' is the frozen qstr pool, the strings and the module table), or None without
    a build."""
    objs = glob.glob(os.path.join(ROOT, "build", "mpsrc", "*", "ports", "unix",
                                  "build-mp32f", "frozen_content.o"))
    if not objs:
        return None
    out = subprocess.run(["nm", "-S", objs[0]], capture_output=True, text=True, check=True).stdout
    sizes = {}
    for line in out.splitlines():
        w = line.split()
        if len(w) != 4 or w[2].lower() == "b":
            continue
        name = _SYM.sub("", w[3])
        top = name.split("_")[0]
        if top == "boards":
            p = "boards/common" if name.startswith(("boards_common_", "boards___init__")) else "board"
        elif top in LIB:
            p = "lib"
        elif top == "firmware":
            p = top
        elif top in ("asyncio", "uasyncio"):
            p = "runtime (asyncio)"
        else:
            p = "names"
        sizes[p] = sizes.get(p, 0) + int(w[1], 16)
    text, data = subprocess.run(["size", objs[0]], capture_output=True, text=True,
                                check=True).stdout.splitlines()[1].split()[:2]
    # the strings (names and str constants, .rodata.str1.1) have no symbol of their own
    sizes["names"] = sizes.get("names", 0) + int(text) + int(data) - sum(sizes.values())
    return sizes


_FREE = "import gc; gc.collect(); print(gc.mem_alloc() + gc.mem_free(), gc.mem_free())"


def heap_total(heap):
    """-> (bytes the GC can hand out at -X heapsize=heap, gc.mem_free() before any import)."""
    out = subprocess.run([MP32F, "-X", "heapsize=" + heap, "-c", _FREE], capture_output=True,
                         text=True, check=True, cwd=tempfile.gettempdir(),
                         env=dict(os.environ, MICROPYPATH=".frozen")).stdout.split()
    return int(out[0]), int(out[1])


def frozen_heap(tmp):
    """-> {version: ([(heap, label, total, free before, heapreport.scenario's result)],
    smallest passing heap in KiB or None)}."""
    from tools.bench import heapreport as H
    res = {}
    with H.Complete(tmp) as csms:
        for version in ("1.6", "2.0.1"):
            runs = []
            for heap, label in HEAPS:
                total, free0 = heap_total(heap)
                runs.append((heap, label, total, free0,
                             H.scenario(csms, MP32F, None, version, heap, tmp)))
            res[version] = runs, H.smallest(csms, MP32F, None, version, tmp, lo_k=32, hi_k=256)
    return res


def heap_rows(version, runs, least):
    rows = []
    for heap, label, total, free0, r in runs:
        boot, peak = r.get("boot"), r.get("peak")
        rows.append(("gc.mem_free() after boot, frozen, `-X heapsize=%s` (%s), OCPP %s"
                     % (heap, label, version),
                     "%d B" % (total - boot) if boot else "no boot (%s)" % r.get("error"),
                     "`make mp32f`, two EVSEs; %d B free before the firmware; live heap "
                     "(gc.mem_alloc() after gc.collect()) %s B after boot" % (free0, boot)))
        rows.append(("session heap peak, frozen, `-X heapsize=%s`, OCPP %s" % (heap, version),
                     ("%d B (%d B free at the peak)" % (peak, total - peak)) if r["ok"] and peak
                     else "session FAILED: %s%s" % (r.get("error"), ", MemoryError in the log"
                                                   if r.get("memoryerror") else ""),
                     "the complete firmware's session of tools/bench/heapreport.py: two EVSEs, security "
                     "profile 2 over TLS (mbedTLS in the MicroPython heap, as on rp2), a Modbus "
                     "RTU meter; live heap sampled every 0.5 s (--heap-probe), schema validation on"))
    rows.append(("smallest `-X heapsize` that passes, frozen, OCPP %s" % version,
                 "%d KiB" % least if least else "FAILED at 256 KiB",
                 "`make mp32f`, the same session, binary search, 4 KiB steps"))
    return rows


def main(append=True):
    subprocess.run(["make", "-s", "-C", ROOT, "mp32f"], check=True, stdout=subprocess.DEVNULL)
    rows = []
    for board in BOARDS:
        sizes, arch = bundle(board)
        rows.append(("`.mpy` bundle, %s (%s)" % (board, arch), "%d B" % sum(sizes.values()),
                     "what `make deploy` copies: " + ", ".join(
                         "%s %d B" % (p, sizes[p]) for p in ("firmware", "lib", "boards/common", "board")
                         if p in sizes)))
    img = frozen_image()
    if img:
        ours = sum(v for p, v in img.items() if p != "runtime (asyncio)")
        rows.append(("frozen image, firmware + lib + boards", "%d B" % ours,
                     "text + data of frozen_content.o in `make mp32f` (i386, 4-byte words), by "
                     "symbol: " + ", ".join("%s %d B" % (p, img[p]) for p in
                                            ("firmware", "lib", "boards/common", "board", "names")
                                            if p in img) +
                     "; board = boards/sim here; names = the frozen qstr pool and all strings "
                     "(str constants too), shared with the runtime's asyncio (%d B besides)"
                     % img.get("runtime (asyncio)", 0)))
    with tempfile.TemporaryDirectory() as tmp:
        for version, (runs, least) in frozen_heap(tmp).items():
            rows += heap_rows(version, runs, least)
    from tools.bench.benchrec import report
    return report("Memory on a board: firmware frozen, 32-bit", "tools/bench/membench.py", rows, append)


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--no-record", action="store_true")
    main(append=not ap.parse_args().no_record)
