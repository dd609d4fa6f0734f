"""tools/build/pinmap.py and docs/boards/: the committed drawings and generated tables equal a
fresh generation (run `.venv/bin/python tools/build/pinmap.py` after changing a board), every
wired pin of the board data is in the drawing exactly once, and no pin is used twice.

The tool computes on CPython with the real board and firmware modules; the HAL's
conversion is checked here against the same code running in micropython."""
import collections
import os
import subprocess
import sys
import types
import xml.etree.ElementTree as ET

import pytest

from tests import mp
from tools.build import pinmap

BOARDS = pinmap.boards()


def board(name):
    return pinmap.Board(name)


def pin_groups(svg_text):
    root = ET.fromstring(svg_text)
    return [g for g in root.iter("{http://www.w3.org/2000/svg}g") if g.get("class") == "pin"]


def test_the_real_boards_are_covered():
    assert {"esp32_generic", "rp2_pico_w"} <= set(BOARDS)
    assert "sim" not in BOARDS                     # no pin map: nothing to draw


# ------------------------------------------------------------------ drift
@pytest.mark.parametrize("name", BOARDS)
def test_committed_files_equal_a_fresh_generation(name):
    for path, content in pinmap.outputs(name).items():
        rel = os.path.relpath(path, mp.ROOT)
        assert os.path.isfile(path), "%s missing: run tools/build/pinmap.py" % rel
        with open(path) as f:
            assert f.read() == content, "%s is out of date: run tools/build/pinmap.py" % rel


def test_check_mode_exits_clean():
    p = subprocess.run([sys.executable, os.path.join(mp.ROOT, "tools", "build", "pinmap.py"), "--check"],
                       capture_output=True, text=True, timeout=60, cwd=mp.ROOT)
    assert p.returncode == 0 and p.stdout == "", p.stdout + p.stderr


@pytest.mark.parametrize("name", BOARDS)
def test_generation_is_deterministic(name):
    a, b = board(name), board(name)
    assert pinmap.svg(a) == pinmap.svg(b)
    assert pinmap.blocks(a) == pinmap.blocks(b)


def test_fill_replaces_blocks_and_refuses_a_page_without_one():
    gen = {"pins": "| a |", "levels": "| b |"}
    page = ("x\n<!-- pinmap:pins begin: generated -->\nold\nstuff\n<!-- pinmap:pins end -->\n"
            "y\n<!-- pinmap:levels begin -->\n<!-- pinmap:levels end -->\n")
    once = pinmap.fill(page, gen)
    assert once == ("x\n<!-- pinmap:pins begin: generated -->\n\n| a |\n\n<!-- pinmap:pins end -->\n"
                    "y\n<!-- pinmap:levels begin -->\n\n| b |\n\n<!-- pinmap:levels end -->\n")
    assert pinmap.fill(once, gen) == once
    with pytest.raises(KeyError):
        pinmap.fill("x\n<!-- pinmap:pins begin -->\n<!-- pinmap:pins end -->\n", gen)
    b = board("esp32_generic")                   # a new board's page has every block
    page = pinmap.fill(pinmap.skeleton(b), pinmap.blocks(b))
    for key, fn in pinmap.TABLES:
        assert fn(b) in page


# ------------------------------------------------------------------ pins in the drawing
@pytest.mark.parametrize("name", BOARDS)
def test_every_pin_of_the_board_data_is_drawn_once(name):
    b = board(name)
    with open(os.path.join(pinmap.DOCS, name + "-pins.svg")) as f:
        text = f.read()
    groups = pin_groups(text)
    drawn = [(g.get("data-role"), g.get("data-pin")) for g in groups]
    want = [(role, str(pin)) for role, pin in b.roles()]
    assert drawn == want
    # the data's roles: every EVSE role wired, every station role
    wired = ["evse%d.%s" % (n + 1, k) for n, ev in enumerate(b.pins.EVSE) for k in ev
             if k != "meter_unit" and ev[k] is not None]
    wired += [k for k in b.pins.STATION if b.pins.STATION[k] is not None]
    assert sorted(r for r, _ in drawn) == sorted(wired)
    for g, (role, pin) in zip(groups, b.roles()):
        words = [t.text for t in g.iter("{http://www.w3.org/2000/svg}text")]
        assert pinmap._pin(pin) in words and role in words, words
        r = role.split(".")[-1]
        want_dir = "out" if r in b.pinmap.OUTPUTS else (
            "analog in" if r in b.pinmap.ADC_ROLES else "in")
        assert g.get("data-dir") == want_dir, role
    assert name in text and b.json["description"].replace("&", "&amp;") in text
    for r in ("pilot_pwm", "pilot_adc", "relay", "relay_feedback", "lock_a", "lock_b",
              "lock_feedback", "rcd", "meter_tx", "meter_rx", "meter_de", "led", "button"):
        assert any(role.split(".")[-1] == r for role, _ in drawn), r
    # the pins table on the page lists the same pins
    with open(os.path.join(pinmap.DOCS, name + ".md")) as f:
        page = f.read()
    for role, pin in b.roles():
        assert "| %s | `%s` |" % (pinmap._pin(pin), role) in page


@pytest.mark.parametrize("name", BOARDS)
def test_no_pin_used_twice(name):
    b = board(name)
    count = collections.Counter(pin for _, pin in b.roles())
    assert [p for p, n in count.items() if n > 1] == []
    assert not set(count) & set(b.pins.RESERVED)
    with open(os.path.join(pinmap.DOCS, name + "-pins.svg")) as f:
        drawn = collections.Counter(g.get("data-pin") for g in pin_groups(f.read()))
    assert [p for p, n in drawn.items() if n > 1] == []


def test_unknown_roles_and_several_evses_still_draw():
    b = board("rp2_pico_w")
    p = b.pins
    ns = types.SimpleNamespace(**{k: getattr(p, k) for k in dir(p) if not k.startswith("__")})
    ev2 = dict(p.EVSE[0], pilot_pwm=3, pilot_adc=27, relay=4, relay_feedback=5, lock_a=None,
               lock_b=None, lock_feedback=None, rcd=None, fan=6)
    ns.EVSE = (p.EVSE[0], ev2)
    b.pins = ns
    text = pinmap.svg(b)
    drawn = [(g.get("data-role"), g.get("data-pin")) for g in pin_groups(text)]
    assert ("evse2.fan", "6") in drawn and ("evse2.pilot_pwm", "3") in drawn
    assert "EVSE 2: Control pilot" in text and "EVSE 2: Other" in text
    assert "evse2.lock_a" in text                # listed as not wired


# ------------------------------------------------------------------ the numbers
@pytest.mark.parametrize("name", BOARDS)
def test_levels_and_bands_follow_the_code(name):
    b = board(name)
    rows = [ln.split(" | ") for ln in pinmap.table_levels(b).splitlines()[2:]]
    assert [r[-1].strip(" |") for r in rows] == list("ABCDEF")
    readings = [int(r[2]) for r in rows]
    assert readings == sorted(readings, reverse=True)
    for r, v in zip(rows, pinmap.LEVELS):
        assert abs(int(r[3].split()[0]) - v * 1000) < 50      # the HAL's mV, within 50 mV
        assert 0 < float(r[1].split()[0]) < b.pins.VREF_MV
    bands = b.bands()
    by = {(s, frm.split()[0]): (lo, hi) for s, frm, lo, hi in bands}
    assert len(bands) == 12                                   # one run each: no gaps
    for s in "ABCDEF":
        lo, hi = by[(s, "any")]
        slo, shi = by[(s, s)]
        assert slo <= lo <= hi <= shi                          # hysteresis only widens
    # the HAL conversion in micropython gives what the CPython run put in the table
    got = mp.run_file("pinmap_to_mv", name, *readings)["mv"]
    assert got == [int(r[3].split()[0]) for r in rows]


@pytest.mark.parametrize("name", BOARDS)
def test_thresholds_are_the_edges_of_each_band(name):
    """Each row of the thresholds table: the first and last reading the HAL converts into
    the band, and the classifier gives the row's state at both ends."""
    b = board(name)
    cp = b.cp
    rows = [ln.strip("| ").split(" | ") for ln in pinmap.table_thresholds(b).splitlines()[2:]]
    assert [(r[0], r[1]) for r in rows] == [(s, f) for s, f, _, _ in b.bands()]
    for (state, frm, lo, hi), row in zip(b.bands(), rows):
        r0, r1 = (int(x) for x in row[3].split(" ... "))
        assert b.to_mv(r0) >= lo > b.to_mv(r0 - 1), row
        assert b.to_mv(r1) <= hi < b.to_mv(r1 + 1), row
        code = cp.NAMES.index(state)
        prevs = (0, cp.CP_A, cp.CP_B, cp.CP_C, cp.CP_D, cp.CP_E, cp.CP_F) \
            if frm == "any state" else (code,)
        for r in (r0, r1):
            assert {cp.classify(b.to_mv(r), q) for q in prevs} == {code}, (row, r)
        assert 0 < r0 <= r1 < b.full                            # inside the ADC's range
