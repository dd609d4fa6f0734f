#!/usr/bin/env python3
"""tools/build/config.py — check a station configuration (config.json) and write it to a
device or read it back.

    tools/build/config.py check station.json [--board esp32_generic]
    tools/build/config.py put station.json --port /dev/ttyUSB0 [--board esp32_generic]
    tools/build/config.py get --port /dev/ttyUSB0

The rules are the firmware's own: firmware/persist/config.py validate() runs inside the
MicroPython unix port, plus the keys a board refuses to guess (boards.common.boot
CRITICAL: without them it boots into safe mode) and, with --board, what the board's
wiring limits (board.json "evses", "max_current_a"). Any problem is an error here: on
the station a bad value falls back to its default, or to safe mode, so a configuration
that does not pass is never written. On the device the file is /flash/config.json
(flash/config.json under --root on the unix port)."""
import argparse
import json
import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
REMOTE = "flash/config.json"

_CHECK = r"""
import sys, json
from firmware.persist import config
try:
    from boards.common.boot import CRITICAL
except ImportError:
    CRITICAL = ("csms", "id", "ocpp", "evses", "max_current")
data = json.loads(sys.stdin.read())
cfg, errors = config.validate(data)
missing = [k for k in CRITICAL if not isinstance(data, dict) or k not in data]
print("OUT" + json.dumps({"cfg": cfg, "errors": errors, "missing": missing,
                         "critical": list(CRITICAL)}))
"""


def micropython():
    exe = os.path.join(os.path.dirname(sys.executable), "micropython")
    return exe if os.path.exists(exe) else os.path.join(ROOT, ".venv", "bin", "micropython")


def parse(text):
    """-> (data, problems): the JSON object, or None and why not."""
    try:
        data = json.loads(text)
    except ValueError as e:
        return None, ["not valid JSON: %s" % e]
    if not isinstance(data, dict):
        return None, ["must hold a JSON object, not %s" % type(data).__name__]
    return data, []


def board_json(board):
    path = os.path.join(ROOT, "boards", board, "board.json")
    if not os.path.isfile(path):
        return None
    with open(path) as f:
        return json.load(f)


def check(data, board=None):
    """-> (cfg, problems): problems are readable sentences, empty when it passes."""
    env = dict(os.environ, MICROPYPATH=".frozen:%s:%s" % (os.path.join(ROOT, "lib"), ROOT))
    p = subprocess.run([micropython(), "-c", _CHECK], input=json.dumps(data),
                       capture_output=True, text=True, env=env, cwd=ROOT, timeout=60)
    out = [ln for ln in p.stdout.splitlines() if ln.startswith("OUT")]
    if p.returncode != 0 or not out:
        raise RuntimeError("config check failed to run:\n" + p.stdout + p.stderr)
    res = json.loads(out[-1][3:])
    crit = res["critical"]
    problems = []
    for k in res["missing"]:
        problems.append("%s: missing (a board without it stays in safe mode, not charging)" % k)
    for e in res["errors"]:
        key = e.split(":")[0]
        got = " (got %s)" % json.dumps(data[key]) if key in data else ""
        if key in crit:
            tail = ": the station would boot into safe mode"
        elif key in res["cfg"]:
            tail = ": the station would use the default %s" % json.dumps(res["cfg"][key])
        else:
            tail = ": the station ignores it"
        problems.append("%s%s%s" % (e, got, tail))
    bj = board_json(board) if board else None
    if bj:
        cfg = res["cfg"]
        if "evses" in bj and "evses" in data and cfg["evses"] != bj["evses"]:
            problems.append("evses: %d, but board %s has %d (its wiring wins)"
                            % (cfg["evses"], board, bj["evses"]))
        if "max_current_a" in bj and cfg["max_current"] > bj["max_current_a"]:
            problems.append("max_current: %d A is above board %s's %d A (limited to it)"
                            % (cfg["max_current"], board, bj["max_current_a"]))
    return res["cfg"], problems


def report(name, problems, out=None):
    out = out or sys.stderr
    if problems:
        print("%s: %d problem%s, not accepted:" % (name, len(problems),
                                                  "" if len(problems) == 1 else "s"), file=out)
        for p in problems:
            print("  " + p, file=out)
    return not problems


def check_file(path, board=None):
    """-> (data, problems) for a local file."""
    try:
        with open(path) as f:
            text = f.read()
    except OSError as e:
        return None, ["%s: %s" % (path, e.strerror or e)]
    data, problems = parse(text)
    if data is None:
        return None, problems
    return data, check(data, board)[1]


def remote_path(root, rel=REMOTE):
    return (root.rstrip("/") + "/" + rel) if root else rel


def connect(port):
    """mpremote's serial transport on port (a device path or socket://host:port), in
    the raw REPL without a soft reset (mpremote `resume`)."""
    from mpremote.transport_serial import SerialTransport
    t = SerialTransport(port, baudrate=115200)
    t.enter_raw_repl(soft_reset=False)
    return t


def put(t, data, root=""):
    """Writes the configuration to the device (the flash directory made when missing)."""
    path = remote_path(root)
    d = path.rsplit("/", 1)[0]
    if not t.fs_exists(d):
        t.fs_mkdir(d)
    t.fs_writefile(path, (json.dumps(data, indent=1, sort_keys=True) + "\n").encode())


def get(t, root=""):
    """-> the device's configuration text, or None when it has none."""
    path = remote_path(root)
    if not t.fs_exists(path):
        return None
    return t.fs_readfile(path).decode()


def main(argv=None):
    p = argparse.ArgumentParser(prog="tools/build/config.py", description=__doc__.split("\n\n")[0])
    p.add_argument("command", choices=("check", "put", "get"))
    p.add_argument("file", nargs="?", help="config.json to check or put")
    p.add_argument("--board", help="check against this board's wiring (boards/BOARD/board.json)")
    p.add_argument("--port", help="the device (for put and get), as for mpremote connect")
    p.add_argument("--root", default="", help="the firmware's directory on the device "
                   "(default: its working directory, / on a board)")
    a = p.parse_args(argv)
    if a.command in ("check", "put") and not a.file:
        p.error("%s needs a FILE" % a.command)
    if a.command in ("put", "get") and not a.port:
        p.error("%s needs --port" % a.command)
    if a.command == "get":
        t = connect(a.port)
        try:
            text = get(t, a.root)
        finally:
            t.exit_raw_repl()
            t.close()
        if text is None:
            print("%s: no %s (the station boots into safe mode)" % (a.port, REMOTE),
                  file=sys.stderr)
            return 1
        print(text, end="")
        data, problems = parse(text)
        if data is not None:
            problems = check(data, a.board)[1]
        return 0 if report("%s:%s" % (a.port, REMOTE), problems) else 1
    data, problems = check_file(a.file, a.board)
    if not report(a.file, problems):
        return 1
    if a.command == "check":
        print("%s: OK" % a.file)
        return 0
    t = connect(a.port)
    try:
        put(t, data, a.root)
    finally:
        t.exit_raw_repl()
        t.close()
    print("%s -> %s:%s" % (a.file, a.port, remote_path(a.root)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
