#!/usr/bin/env python3
"""tools/build/deploy.py (`make deploy`) — compile the firmware for a board and copy what
changed to the device over mpremote; optionally write its configuration.

    tools/build/deploy.py --board esp32_generic --port /dev/ttyUSB0 [--config station.json]

1. --config is checked first (tools/build/config.py: the firmware's own rules, the keys a
   board needs, the board's wiring); a configuration that does not pass stops here.
2. firmware/, lib/<every package>/, boards/__init__.py, boards/common/ and
   boards/<BOARD>/ are compiled with mpy-cross -O1 for the board's arch (board.json
   "arch"; a board without board.json, such as sim, gets plain bytecode), the module's
   dotted name as the source name (module_name), into
   build/deploy/<BOARD>/ (only sources newer than their .mpy). The board's main.py and
   boot.py are copied as source to the device's main.py and boot.py (sim's main.py:
   tools/harness/simrepl.py).
3. The device is reached as `mpremote connect PORT resume` does (Ctrl-C, raw REPL, no
   soft reset). A running firmware is stopped by that Ctrl-C; a board's watchdog is then
   fed while the copy runs (firmware.repl.hold). The device's sys.platform must be the
   board's port and its .mpy version mpy-cross's, or nothing is copied. A device whose
   heap is smaller than the firmware needs as .mpy (MPY_HEAP_KIB) gets a warning: a Pico
   W or an ESP32 without PSRAM runs it frozen into the image instead.
4. One command on the device hashes (SHA-256) everything under firmware/, boards/ and
   the lib packages, and main.py; only files whose hash differs are copied, files of
   ours the device has but the build does not are removed (a stale .py would shadow
   its .mpy). build/deploy/<BOARD>/manifest.json records what the device holds now.
5. The configuration goes to flash/config.json. An esp32 or rp2 board is then reset
   (machine.reset) to run the new firmware; the unix port is not (it would exit).

Paths on the device are relative to its working directory (/ on a board); --root puts
everything under a directory instead."""
import argparse
import hashlib
import json
import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, ROOT)

from tools.build import config as C  # noqa: E402

OPT = "-O1"
PLATFORMS = {"esp32": "esp32", "rp2": "rp2", None: "linux"}   # board.json "port" -> sys.platform
MPY_VERSION = (6, 3)          # mpy-cross 1.29 emits mpy v6.3
CHUNK = 1024                  # bytes per write command on the device
_SCRIPTS = ("main.py", "boot.py")   # a board's top-level scripts: copied as source, never pruned
# the heap the complete firmware needs loaded as .mpy: its session on a 32-bit port passes
# from 227-235 KiB (OCPP 1.6) / 233-237 KiB (2.0.1) with a TLS session in the heap (docs/memory.md)
MPY_HEAP_KIB = 240


def module_name(src):
    """The dotted module name of a source path: lib/ws/client.py -> ws.client,
    firmware/ocpp/__init__.py -> firmware.ocpp. mpy-cross embeds it as the source name
    (`-s`): tracebacks then name the module, and the name costs no heap on the device,
    where the import has made that very name already (a path such as
    firmware/ocpp/base.py would be one more string in the heap per module)."""
    parts = src.replace(os.sep, "/")[:-3].split("/")
    if parts[0] == "lib":
        parts = parts[1:]
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def mpy_cross_args(src, opt=OPT, arch=None):
    """mpy-cross arguments for one source (relative to ROOT), as every tool compiles."""
    return [opt, "-s", module_name(src)] + (["-march=" + arch] if arch else [])


def tool(name):
    exe = os.path.join(os.path.dirname(sys.executable), name)
    return exe if os.path.exists(exe) else os.path.join(ROOT, ".venv", "bin", name)


def _walk(top):
    for d, dirs, files in os.walk(os.path.join(ROOT, top)):
        dirs[:] = sorted(x for x in dirs if x != "__pycache__" and not x.startswith("."))
        for f in sorted(files):
            if f.endswith(".py"):
                yield os.path.relpath(os.path.join(d, f), ROOT).replace(os.sep, "/")


def lib_packages():
    lib = os.path.join(ROOT, "lib")
    return sorted(d for d in os.listdir(lib)
                  if os.path.isfile(os.path.join(lib, d, "package.json")))


def plan(board):
    """-> [(remote path, source path relative to ROOT, compile?)], and the remote
    directories that are ours (pruned of files the build does not have)."""
    bdir = os.path.join(ROOT, "boards", board)
    if not os.path.isdir(bdir) or board in ("common", "__pycache__"):
        raise SystemExit("deploy: no board %r (boards/: %s)" % (board, ", ".join(boards())))
    out = [(src[:-3] + ".mpy", src, True) for src in _walk("firmware")]
    pkgs = lib_packages()
    for pkg in pkgs:
        out += [(src[:-3] + ".mpy", src, True) for src in _walk("lib/" + pkg)]
    out.append(("boards/__init__.mpy", "boards/__init__.py", True))
    for top in ("boards/common", "boards/" + board):
        for src in _walk(top):
            name = src.rsplit("/", 1)[-1]
            if name == "manifest.py" or (name in _SCRIPTS and top != "boards/common"):
                continue
            out.append((src[:-3] + ".mpy", src, True))
    boot = "boards/%s/boot.py" % board          # outputs safe at every (soft) reset
    if os.path.isfile(os.path.join(ROOT, boot)):
        out.append(("boot.py", boot, False))
    main = "boards/%s/main.py" % board
    if not os.path.isfile(os.path.join(ROOT, main)) and board == "sim":
        main = "tools/harness/simrepl.py"
    if os.path.isfile(os.path.join(ROOT, main)):
        out.append(("main.py", main, False))
    ours = ["firmware", "boards"] + ["lib/" + p for p in pkgs]
    return out, ours


def boards():
    b = os.path.join(ROOT, "boards")
    return sorted(d for d in os.listdir(b) if os.path.isdir(os.path.join(b, d))
                  and d not in ("common", "__pycache__"))


def build(board, files, arch, out_dir=None, opt=OPT):
    """Compiles what is out of date into build/deploy/<board>/ -> {remote: local file}.
    opt: mpy-cross's optimisation level; -O3 drops the line-number tables (about 5 KB
    less heap for the whole firmware, docs/memory.md; tracebacks then show line 1)."""
    if opt not in ("-O0", "-O1", "-O2", "-O3"):
        raise SystemExit("deploy: --opt must be one of -O0 -O1 -O2 -O3, not %r" % opt)
    out_dir = out_dir or os.path.join(ROOT, "build", "deploy", board)
    flags = mpy_cross_args("<module>.py", opt, arch)      # recorded: a change rebuilds all
    stamp = os.path.join(out_dir, ".flags")
    os.makedirs(out_dir, exist_ok=True)
    old = open(stamp).read() if os.path.exists(stamp) else ""
    fresh = old != " ".join(flags)
    built = {}
    for remote, src, comp in files:
        if not comp:
            built[remote] = os.path.join(ROOT, src)
            continue
        dst = os.path.join(out_dir, remote)
        if fresh or not os.path.exists(dst) or \
                os.path.getmtime(dst) < os.path.getmtime(os.path.join(ROOT, src)):
            os.makedirs(os.path.dirname(dst), exist_ok=True)
            p = subprocess.run([tool("mpy-cross")] + mpy_cross_args(src, opt, arch) + ["-o", dst, src], cwd=ROOT,
                               capture_output=True, text=True)
            if p.returncode != 0:
                raise SystemExit("deploy: mpy-cross %s failed:\n%s%s" % (src, p.stdout, p.stderr))
        built[remote] = dst
    with open(stamp, "w") as f:
        f.write(" ".join(flags))
    return built


_SCAN = r"""
import os, sys, json, hashlib, binascii, gc
_b = bytearray(512)
def _h(p):
    d = hashlib.sha256()
    with open(p, 'rb') as f:
        while True:
            n = f.readinto(_b)
            if not n:
                break
            d.update(memoryview(_b)[:n])
    return binascii.hexlify(d.digest()).decode()
def _w(p, out):
    try:
        es = list(os.ilistdir(p))
    except OSError:
        return
    for e in es:
        q = p + '/' + e[0]
        if e[1] & 0x4000:
            _w(q, out)
        else:
            out[q] = _h(q)
_out = {}
for _d in DIRS:
    _w(R + _d, _out)
for _f in FILES:
    try:
        _out[R + _f] = _h(R + _f)
    except OSError:
        pass
gc.collect()
print(json.dumps({'platform': sys.platform, 'mpy': getattr(sys.implementation, '_mpy', 0),
                  'heap': gc.mem_alloc() + gc.mem_free(),
                  'files': dict((k[len(R):], v) for k, v in _out.items())}))
"""

_HOLD = """
try:
    from firmware import repl as _r
    _r.hold(False)
except Exception:
    pass
"""


def rpath(root, rel):
    return (root.rstrip("/") + "/" + rel) if root else rel


def scan(t, root, ours, extra):
    code = "R = %r\nDIRS = %r\nFILES = %r\n" % (rpath(root, ""), ours, extra) + _SCAN
    out = t.exec(code).decode().strip().splitlines()
    return json.loads(out[-1])


def check_device(info, board, bj, force):
    want = PLATFORMS.get(bj.get("port") if bj else None)
    if info["platform"] != want:
        msg = "deploy: the device on this port is %s, board %s needs %s" % (
            info["platform"], board, want)
        if not force:
            raise SystemExit(msg + " (nothing copied; --force to copy anyway)")
        print(msg + ": --force, copying anyway")
    heap = info.get("heap") or 0
    if heap and heap < MPY_HEAP_KIB * 1024:
        print("deploy: warning: this device's MicroPython heap is %d KiB and the complete "
              "firmware loaded as .mpy needs about %d KiB (docs/memory.md): it will run out "
              "of memory here. A board without PSRAM runs the firmware frozen into its image "
              "(boards/%s/manifest.py, docs/boards/)" % (heap // 1024, MPY_HEAP_KIB, board),
              file=sys.stderr)
    mpy = info.get("mpy") or 0
    if mpy and ((mpy & 0xFF), (mpy >> 8) & 3) != MPY_VERSION:
        raise SystemExit("deploy: the device loads .mpy v%d.%d, mpy-cross makes v%d.%d: update "
                         "the device's MicroPython (nothing copied)" % (
                             mpy & 0xFF, (mpy >> 8) & 3, MPY_VERSION[0], MPY_VERSION[1]))


def sha(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def mkdirs(t, root, remotes, have):
    known = set()
    for p in have:
        parts = p.split("/")[:-1]
        for i in range(1, len(parts) + 1):
            known.add("/".join(parts[:i]))
    need = set()
    for p in remotes:
        parts = p.split("/")[:-1]
        for i in range(1, len(parts) + 1):
            need.add("/".join(parts[:i]))
    if root:
        need.add("")
    for d in sorted(need - known, key=lambda x: (x.count("/"), x)):
        try:
            t.fs_mkdir(rpath(root, d) if d else root.rstrip("/"))
        except FileExistsError:
            pass


def main(argv=None):
    p = argparse.ArgumentParser(prog="tools/build/deploy.py", description=__doc__.split("\n\n")[0])
    p.add_argument("--board", required=True, help="board folder under boards/ (%s)" % ", ".join(boards()))
    p.add_argument("--port", required=True, help="the device, as for mpremote connect "
                   "(/dev/ttyUSB0, a pty from tools/harness/ptyrun.py, socket://host:port)")
    p.add_argument("--config", help="config.json to check and write to flash/config.json")
    p.add_argument("--root", default="", help="directory on the device (default: its working "
                   "directory, / on a board)")
    p.add_argument("--arch", help="mpy-cross -march (default: board.json \"arch\")")
    p.add_argument("--opt", default=OPT, help="mpy-cross optimisation level (default %s; -O3: "
                   "no line numbers in tracebacks, about 5 KB less heap)" % OPT)
    p.add_argument("--dry-run", action="store_true", help="say what would change, copy nothing")
    p.add_argument("--no-prune", action="store_true", help="keep files of ours the build lacks")
    p.add_argument("--no-reset", action="store_true", help="do not reset an esp32/rp2 board after")
    p.add_argument("--force", action="store_true", help="copy to a device of another port")
    a = p.parse_args(argv)

    files, ours = plan(a.board)
    bj = C.board_json(a.board)
    cfg = None
    if a.config:
        cfg, problems = C.check_file(a.config, a.board)
        if not C.report(a.config, problems):
            return 1
    arch = a.arch or (bj or {}).get("arch")
    built = build(a.board, files, arch, opt=a.opt)
    want = dict((r, sha(path)) for r, path in built.items())
    print("deploy: %s, %d files (%s)" % (a.board, len(want), arch or "bytecode"))

    try:
        t = C.connect(a.port)
    except Exception as e:        # mpremote raises TransportError, serial errors, OSError
        print("deploy: cannot reach %s: %s" % (a.port, e), file=sys.stderr)
        return 2
    reset = False
    try:
        t.exec(_HOLD)
        info = scan(t, a.root, ours, list(_SCRIPTS))
        check_device(info, a.board, bj, a.force)
        have = info["files"]
        copy = sorted(r for r in want if have.get(r) != want[r])
        prune = [] if a.no_prune else sorted(
            r for r in have if r not in want and r not in _SCRIPTS)
        for r in copy:
            print(("would copy " if a.dry_run else "copy ") + r)
        for r in prune:
            print(("would remove " if a.dry_run else "remove ") + r)
        if not a.dry_run:
            mkdirs(t, a.root, copy, have)
            for r in copy:
                with open(built[r], "rb") as f:
                    t.fs_writefile(rpath(a.root, r), f.read(), chunk_size=CHUNK)
            for r in prune:
                t.fs_rmfile(rpath(a.root, r))
            if cfg is not None:
                text = C.get(t, a.root)
                if text is None or json.loads(text) != cfg:
                    C.put(t, cfg, a.root)
                    print("config %s -> %s" % (a.config, C.remote_path(a.root)))
                else:
                    print("config unchanged")
            man = os.path.join(ROOT, "build", "deploy", a.board, "manifest.json")
            with open(man, "w") as f:
                json.dump({"port": a.port, "root": a.root, "files": want}, f, indent=1,
                          sort_keys=True)
        print("deploy: %d copied, %d unchanged, %d removed%s" % (
            len(copy), len(want) - len(copy), len(prune), " (dry run)" if a.dry_run else ""))
        reset = not a.dry_run and not a.no_reset and info["platform"] in ("esp32", "rp2")
        if reset:
            print("reset")
            t.exec_raw_no_follow("import machine\nmachine.reset()")
    finally:
        if not reset:
            t.exit_raw_repl()
        t.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
