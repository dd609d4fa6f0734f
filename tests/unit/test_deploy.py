"""tools/build/deploy.py and tools/build/config.py without a device: what a board gets (remote
paths, main.py, no build files), the compile step per arch, and configurations that
are refused with a readable reason before anything is copied. The copy itself, against
the unix port behind a pty, is in tests/integration/test_repl.py."""
import json
import os
import subprocess

import pytest

from tools.build import config as C
from tools.build import deploy as D

GOOD = {"csms": "ws://127.0.0.1:9000/ocpp", "id": "CS1", "ocpp": "2.0.1", "evses": 1,
        "max_current": 32}


def _py(top):
    out = []
    for d, dirs, files in os.walk(os.path.join(D.ROOT, top)):
        dirs[:] = [x for x in dirs if x != "__pycache__"]
        out += [os.path.relpath(os.path.join(d, f), D.ROOT) for f in files if f.endswith(".py")]
    return out


@pytest.mark.parametrize("board", D.boards())
def test_plan_holds_every_module_once(board):
    files, ours = D.plan(board)
    remotes = [r for r, _, _ in files]
    assert len(remotes) == len(set(remotes))
    srcs = {src: (r, comp) for r, src, comp in files}
    for src in _py("firmware") + _py("boards/common") + ["boards/__init__.py"]:
        assert srcs[src] == (src[:-3] + ".mpy", True), src
    for pkg in D.lib_packages():
        for src in _py("lib/" + pkg):
            assert srcs[src] == (src[:-3] + ".mpy", True), src
    for src in _py("boards/" + board):
        name = os.path.basename(src)
        if name == "manifest.py":
            assert src not in srcs
        elif name not in ("main.py", "boot.py"):
            assert srcs[src][1], src
    others = [b for b in D.boards() if b != board]
    assert not [r for r in remotes if any(r.startswith("boards/%s/" % o) for o in others)]
    main = [(src, comp) for r, src, comp in files if r == "main.py"]
    expect = "tools/harness/simrepl.py" if board == "sim" else "boards/%s/main.py" % board
    assert main == [(expect, False)]                 # the entry stays source: boards run main.py
    boot = [(src, comp) for r, src, comp in files if r == "boot.py"]
    if os.path.isfile(os.path.join(D.ROOT, "boards", board, "boot.py")):
        assert boot == [("boards/%s/boot.py" % board, False)]   # outputs safe at a soft reset
    else:
        assert boot == []
    assert ours[:2] == ["firmware", "boards"] and "lib/ws" in ours


def test_unknown_board():
    with pytest.raises(SystemExit) as e:
        D.plan("nope")
    assert "no board 'nope'" in str(e.value) and "esp32_generic" in str(e.value)


def test_build_compiles_for_the_arch_and_only_what_changed(tmp_path):
    files = [("firmware/log.mpy", "firmware/log.py", True), ("main.py", "tools/harness/simrepl.py", False)]
    out = tmp_path / "b"
    built = D.build("esp32_generic", files, "xtensawin", out_dir=str(out))
    assert built["main.py"] == os.path.join(D.ROOT, "tools", "harness", "simrepl.py")
    mpy = out / "firmware" / "log.mpy"
    assert open(built["firmware/log.mpy"], "rb").read(2) == b"M\x06"
    assert (out / ".flags").read_text() == "-O1 -s <module> -march=xtensawin"
    t = mpy.stat().st_mtime_ns
    D.build("esp32_generic", files, "xtensawin", out_dir=str(out))
    assert mpy.stat().st_mtime_ns == t                  # up to date: not compiled again
    D.build("esp32_generic", files, "armv6m", out_dir=str(out))
    assert (out / ".flags").read_text() == "-O1 -s <module> -march=armv6m"
    o1 = mpy.stat().st_size
    D.build("esp32_generic", files, "armv6m", out_dir=str(out), opt="-O3")   # rebuilt
    assert (out / ".flags").read_text() == "-O3 -s <module> -march=armv6m"
    assert mpy.stat().st_size < o1                      # no line-number tables
    with pytest.raises(SystemExit):
        D.build("esp32_generic", files, "armv6m", out_dir=str(out), opt="-Ofast")


def test_config_check_messages(tmp_path):
    _, problems = C.check(dict(GOOD))
    assert problems == []
    bad = dict(GOOD, ocpp="3", csms="http://x", max_current=40, evses=2, colour="red")
    del bad["id"]
    _, problems = C.check(bad, "esp32_generic")
    text = "\n".join(problems)
    assert "id: missing (a board without it stays in safe mode" in text
    assert 'ocpp: 1.6 or 2.0.1 (got "3"): the station would boot into safe mode' in text
    assert 'csms: must start with ws:// or wss:// (got "http://x")' in text
    assert "colour: unknown key (got \"red\"): the station ignores it" in text
    assert "evses: 2, but board esp32_generic has 1" in text
    assert "max_current: 40 A is above board esp32_generic's 32 A" in text
    _, problems = C.check(dict(GOOD, voltage=120, phases=1))   # the supply (smart charging W -> A)
    assert problems == []
    _, problems = C.check(dict(GOOD, voltage=400, phases=2))
    assert sorted(p.split(":")[0] for p in problems) == ["phases", "voltage"], problems
    _, problems = C.check(dict(GOOD, auth="maybe"))
    assert problems == ['auth: free or ocpp (got "maybe"): the station would use the default "free"']


def test_config_file_errors(tmp_path, capsys):
    p = tmp_path / "c.json"
    p.write_text('{"csms": ')
    assert C.main(["check", str(p)]) == 1
    assert "not valid JSON: Expecting value: line 1" in capsys.readouterr().err
    p.write_text("[1, 2]")
    assert C.main(["check", str(p)]) == 1
    assert "must hold a JSON object, not list" in capsys.readouterr().err
    p.write_text(json.dumps(GOOD))
    assert C.main(["check", str(p), "--board", "rp2_pico_w"]) == 0
    assert "OK" in capsys.readouterr().out


def test_deploy_refuses_a_bad_config_before_connecting(tmp_path, capsys):
    p = tmp_path / "c.json"
    p.write_text(json.dumps(dict(GOOD, profile=7)))
    assert D.main(["--board", "sim", "--port", str(tmp_path / "no-such-tty"),
                   "--config", str(p)]) == 1
    cap = capsys.readouterr()
    assert "profile: 0-3 (got 7)" in cap.err and "cannot reach" not in cap.err + cap.out


def test_deploy_to_a_missing_device(tmp_path, capsys):
    assert D.main(["--board", "sim", "--port", str(tmp_path / "no-such-tty")]) == 2
    assert "cannot reach" in capsys.readouterr().err


def test_mpy_source_name_is_the_module_name(tmp_path):
    """.mpy files name their module in tracebacks (mpy-cross -s: the name the import
    interned anyway, so no heap per module for a file path)."""
    assert D.module_name("lib/ws/client.py") == "ws.client"
    assert D.module_name("lib/ws/__init__.py") == "ws"
    assert D.module_name("firmware/ocpp/v16/core.py") == "firmware.ocpp.v16.core"
    assert D.module_name("boards/__init__.py") == "boards"
    files = [("firmware/clock.mpy", "firmware/clock.py", True)]
    out = tmp_path / "b"
    D.build("sim", files, None, out_dir=str(out))
    p = subprocess.run([D.tool("micropython"), os.path.join(D.ROOT, "tests", "mp", "mpy_traceback.py"),
                        str(out), os.path.join(D.ROOT, "lib")],
                       capture_output=True, text=True, cwd=str(tmp_path))
    assert 'File "firmware.clock", line ' in p.stdout + p.stderr, p.stdout + p.stderr
