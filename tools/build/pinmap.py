#!/usr/bin/env python3
"""Board pin-map drawings and wiring tables, generated from the board's own data.

    .venv/bin/python tools/build/pinmap.py                  # every board: write the files
    .venv/bin/python tools/build/pinmap.py --check          # exit 1 if any file is out of date
    .venv/bin/python tools/build/pinmap.py esp32_generic    # one board

For each boards/<name>/board.json it imports the pin map module that board.json names
(boards.<name>.pins) and writes docs/boards/<name>-pins.svg (the pins by role) and the
generated blocks of docs/boards/<name>.md, between `<!-- pinmap:KEY begin ... -->` and
`<!-- pinmap:KEY end -->`: pins, divider, levels, thresholds, settings. The rest of that
page is prose and stays as written. Output is deterministic (tests/unit/test_pinmap.py
compares the committed files with a fresh generation).

Nothing is copied here: the roles and port rules come from boards.common.pinmap, the
ADC-to-mV conversion from boards.common.pilot.Pilot.to_mv, the bands from
firmware.evse.pilot.classify, all imported and run on CPython (a stand-in `micropython`
module supplies const() while they load). Only physics (the divider's transfer from
PILOT_R, the port's ADC) and the labels are written here. A board without a page gets
a skeleton page with every block, to fill in with its wiring."""
import argparse
import contextlib
import html
import importlib
import json
import os
import re
import sys
import types

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DOCS = os.path.join(ROOT, "docs", "boards")
LEVELS = (12, 9, 6, 3, 0, -12)          # IEC 61851-1 pilot levels, V
SWEEP = range(-14000, 14001)            # pilot mV scanned for the classifier's bands

# role -> (group, what the signal is); unknown roles still draw, under "Other"
ROLES = {
    "pilot_pwm": ("Control pilot", "PWM out, 1 kHz, to the +-12 V stage"),
    "pilot_adc": ("Control pilot", "ADC in: the pilot read back through the divider"),
    "relay": ("Contactor", "contactor coil driver, high = closed"),
    "relay_feedback": ("Contactor", "contactor mirror contact"),
    "lock_a": ("Connector lock", "lock H-bridge input A, high = lock"),
    "lock_b": ("Connector lock", "lock H-bridge input B, high = unlock"),
    "lock_feedback": ("Connector lock", "lock switch"),
    "rcd": ("RCD", "6 mA DC residual-current monitor output"),
    "ntc": ("Temperature", "NTC at the contactor (ADC in)"),
    "meter_tx": ("Energy meter (RS-485)", "UART TX -> RS-485 transceiver DI"),
    "meter_rx": ("Energy meter (RS-485)", "UART RX <- RS-485 transceiver RO"),
    "meter_de": ("Energy meter (RS-485)", "RS-485 DE and /RE, high = transmit"),
    "led": ("User interface", "status LED"),
    "button": ("User interface", "push button, active low"),
}
ACTIVE = {"relay_feedback": "RELAY_FEEDBACK_ACTIVE", "lock_feedback": "LOCK_FEEDBACK_ACTIVE",
          "rcd": "RCD_ACTIVE"}
COLORS = {"Control pilot": "#1f77b4", "Contactor": "#d62728", "Connector lock": "#9467bd",
          "RCD": "#ff7f0e", "Temperature": "#8c564b", "Energy meter (RS-485)": "#2ca02c",
          "User interface": "#7f7f7f", "Other": "#17becf"}


@contextlib.contextmanager
def _micropython_stub():
    """Board and firmware modules import const() from `micropython`, which CPython lacks:
    a stand-in while they are imported, removed again after."""
    if ROOT not in sys.path:
        sys.path.insert(0, ROOT)
    added = "micropython" not in sys.modules
    if added:
        m = types.ModuleType("micropython")
        m.const = lambda x: x
        sys.modules["micropython"] = m
    try:
        yield
    finally:
        if added:
            del sys.modules["micropython"]


def boards():
    """Names of the boards with a board.json that names a pin map."""
    out = []
    for name in sorted(os.listdir(os.path.join(ROOT, "boards"))):
        p = os.path.join(ROOT, "boards", name, "board.json")
        if os.path.isfile(p):
            with open(p) as f:
                if "pins" in json.load(f):
                    out.append(name)
    return out


class Board:
    """One board's data: board.json, its pin map module and the code that reads it."""

    def __init__(self, name):
        with open(os.path.join(ROOT, "boards", name, "board.json")) as f:
            self.json = json.load(f)
        self.name = self.json["name"]
        with _micropython_stub():
            self.pins = importlib.import_module(self.json["pins"])
            self.pinmap = importlib.import_module("boards.common.pinmap")
            self.cp = importlib.import_module("firmware.evse.pilot")
            pilot = importlib.import_module("boards.common.pilot")
        p = self.pins
        self.to_mv = pilot.Pilot(None, None, p.PILOT_OFF, p.PILOT_MUL).to_mv
        r1, r2, r3 = p.PILOT_R
        s = 1 / r1 + 1 / r2 + 1 / r3
        self.gain = (1 / r1) / s                    # V_adc = gain * V_cp + off_mv
        self.off_mv = p.VREF_MV * (1 / r2) / s
        self.uv = p.PILOT_UNIT_UV                   # reading unit: uV, or 0 = u16 counts
        self.full = p.VREF_MV * 1000 // self.uv if self.uv else 65535

    def roles(self):
        return self.pinmap.roles(self.pins)

    # ------------------------------------------------------------ the ADC (port model)
    def reading(self, adc_mv):
        """What the HAL's read function returns for adc_mv at the pin: esp32 read_uv()
        in uV; rp2 read_u16(), a 12-bit code scaled to 16 bits."""
        adc_mv = min(max(adc_mv, 0), self.pins.VREF_MV)
        if self.uv:
            return int(round(adc_mv * 1000 / self.uv))
        v12 = int(round(adc_mv * 4095 / self.pins.VREF_MV))
        return (v12 << 4) | (v12 >> 8)

    def reading_mv(self, r):
        return r * self.uv / 1000 if self.uv else r * self.pins.VREF_MV / 65535

    def unit(self):
        return "uV (read_uv)" if self.uv else "counts (read_u16)"

    def first_reading(self, mv):
        """The smallest reading the HAL converts to >= mv pilot mV (to_mv is monotonic)."""
        lo, hi = 0, self.full
        if self.to_mv(hi) < mv:
            return None
        while lo < hi:
            m = (lo + hi) // 2
            if self.to_mv(m) >= mv:
                hi = m
            else:
                lo = m + 1
        return lo

    # ------------------------------------------------------------ the classifier's bands
    def bands(self):
        """[(state, from, lo_mv, hi_mv)]: the pilot mV ranges classify() maps to each state
        A-F from any previous state, and (hysteresis) when already in that state."""
        cp = self.cp
        states = (cp.CP_A, cp.CP_B, cp.CP_C, cp.CP_D, cp.CP_E, cp.CP_F)
        prevs = (0,) + states + (cp.CP_FAULT,)
        out = []
        for s in states:
            for frm, ok in (("any state", lambda mv: all(cp.classify(mv, q) == s for q in prevs)),
                            (cp.NAMES[s] + " (stays)", lambda mv: cp.classify(mv, s) == s)):
                run = None
                for mv in SWEEP:
                    if ok(mv):
                        run = [mv, mv] if run is None else [run[0], mv]
                    elif run is not None:
                        out.append((cp.NAMES[s], frm, run[0], run[1]))
                        run = None
                if run is not None:
                    out.append((cp.NAMES[s], frm, run[0], run[1]))
        return out


# ---------------------------------------------------------------- tables (markdown)
def _table(head, rows):
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    lines += ["| " + " | ".join(str(c) for c in r) + " |" for r in rows]
    return "\n".join(lines)


def _pin(pin):
    return "GPIO%d" % pin if isinstance(pin, int) else 'Pin("%s")' % pin


def _role(name):
    return name.split(".")[-1]


def _direction(b, role):
    if role in b.pinmap.ADC_ROLES:
        return "analog in"
    return "out" if role in b.pinmap.OUTPUTS else "in"


def _note(b, role, pin):
    notes = []
    if role in ACTIVE:
        notes.append("active %s" % ("high" if getattr(b.pins, ACTIVE[role]) else "low"))
    if role == "pilot_pwm":
        notes.append("inverting stage" if b.pins.PILOT_INVERT else "high = +12 V")
    if role in b.pinmap.PWM_ROLES and b.pins.PWM_SLICES and isinstance(pin, int):
        sl, ch = b.pinmap.pwm_slice(pin)
        notes.append("PWM slice %d %s" % (sl, "AB"[ch]))
    if pin in b.pins.INPUT_ONLY and _direction(b, role) == "in":
        notes.append("input-only pin: external pull resistor")
    return ", ".join(notes)


def table_pins(b):
    rows = []
    for name, pin in b.roles():
        r = _role(name)
        rows.append((_pin(pin), "`%s`" % name, ROLES.get(r, ("Other", r))[1],
                     _direction(b, r), _note(b, r, pin)))
    unwired = ["`evse%d.%s`" % (n + 1, k) for n, ev in enumerate(b.pins.EVSE)
               for k in ev if ev[k] is None]
    unwired += ["`%s`" % k for k in b.pins.STATION if b.pins.STATION[k] is None]
    t = _table(("Pin", "Role", "Signal", "Direction", "Notes"), rows)
    if unwired:
        t += "\n\nNot wired: " + ", ".join(unwired) + "."
    return t


def table_divider(b):
    p = b.pins
    r1, r2, r3 = p.PILOT_R
    mul = 65536 / (b.gain * 1000 / b.uv) if b.uv else 65536 / (b.gain * 65535 / p.VREF_MV)
    off = b.off_mv * 1000 / b.uv if b.uv else b.off_mv * 65535 / p.VREF_MV
    top = "CP (after the +-12 V stage) --R1 %s--" % _ohm(r1)
    pad = " " * len(top)
    sch = "\n".join(("```", top + "+--R2 %s-- %.1f V (VREF)" % (_ohm(r2), p.VREF_MV / 1000),
                     pad + "+--R3 %s-- GND" % _ohm(r3),
                     pad + "+-- %s (pilot_adc)" % " / ".join(_pin(ev["pilot_adc"])
                                                          for ev in p.EVSE), "```"))
    rows = [("R1 (series), R2 (to VREF), R3 (to GND)", "`PILOT_R`",
             "%d, %d, %d ohm" % (r1, r2, r3)),
            ("VREF", "`VREF_MV`", "%d mV" % p.VREF_MV),
            ("gain G = (1/R1) / (1/R1 + 1/R2 + 1/R3)", "", "%.6f" % b.gain),
            ("offset V_off = VREF (1/R2) / (1/R1 + 1/R2 + 1/R3)", "", "%.1f mV" % b.off_mv),
            ("reading for 0 V on the pilot", "`PILOT_OFF`",
             "%d %s (from R: %.1f)" % (p.PILOT_OFF, b.unit(), off)),
            ("pilot mV per reading unit x 65536", "`PILOT_MUL`",
             "%d (from R: %.2f)" % (p.PILOT_MUL, mul)),
            ("burst window, top/bottom k", "`SAMPLE_WINDOW_US`, `SAMPLE_K`",
             "%d us, %d" % (p.SAMPLE_WINDOW_US, p.SAMPLE_K))]
    return (sch + "\n\n" + _table(("Quantity", "In pins.py", "Value"), rows) +
            "\n\nV_adc = G x V_cp + V_off; the HAL converts a reading to pilot mV with "
            "`((reading - PILOT_OFF) * PILOT_MUL) >> 16` (boards/common/pilot.py).")


def _ohm(r):
    return ("%gk" % (r / 1000)) if r >= 1000 else "%d" % r


def table_levels(b):
    rows = []
    for v in LEVELS:
        adc = b.gain * v * 1000 + b.off_mv
        r = b.reading(adc)
        mv = b.to_mv(r)
        rows.append(("%+d V" % v if v else "0 V", "%.0f mV" % adc, "%d" % r,
                     "%d mV" % mv, b.cp.NAMES[b.cp.classify(mv, 0)]))
    return _table(("Pilot level", "ADC input", "Reading, " + b.unit(),
                   "HAL pilot mV", "classify(), no previous state"), rows)


def table_thresholds(b):
    rows = []
    for state, frm, lo, hi in b.bands():
        r0 = b.first_reading(lo)
        r1 = b.first_reading(hi + 1)
        r1 = b.full if r1 is None else r1 - 1
        if r0 is None or r0 > r1:
            span, pin = "outside the ADC range", ""
        else:
            span = "%d ... %d" % (r0, r1)
            pin = "%.0f ... %.0f mV" % (b.reading_mv(r0), b.reading_mv(r1))
        rows.append((state, frm, "%+d ... %+d mV" % (lo, hi), span, pin))
    return _table(("State", "From", "Pilot high level", "Reading, " + b.unit(),
                   "ADC input"), rows)


def table_settings(b):
    p = b.pins
    m = p.METER or {}
    lv = {1: "high", 0: "low"}
    rows = [("relay feedback closed", "`RELAY_FEEDBACK_ACTIVE`", lv[p.RELAY_FEEDBACK_ACTIVE]),
            ("lock switch: locked", "`LOCK_FEEDBACK_ACTIVE`", lv[p.LOCK_FEEDBACK_ACTIVE]),
            ("RCD tripped", "`RCD_ACTIVE`", lv[p.RCD_ACTIVE]),
            ("pilot stage inverting", "`PILOT_INVERT`", str(p.PILOT_INVERT)),
            ("lock motor pulse", "`LOCK_PULSE_MS`", "%d ms" % p.LOCK_PULSE_MS),
            ("meter UART, baud, profile", "`METER`",
             "UART%s, %s, %s" % (m.get("uart"), m.get("baud"), m.get("profile"))),
            ("Modbus unit per EVSE", "`EVSE[n]['meter_unit']`",
             ", ".join(str(ev.get("meter_unit")) for ev in p.EVSE)),
            ("watchdog", "`WDT_MS`", "%d ms" % p.WDT_MS),
            ("safety tick timer", "`TICK_TIMER`", "%d" % p.TICK_TIMER),
            ("max current (contactor, cable, traces)", "`MAX_CURRENT_A`",
             "%d A" % p.MAX_CURRENT_A),
            ("NTC: R25, B, pull-up to VREF", "`NTC`",
             "%d ohm, %d, %d ohm" % tuple(p.NTC) if p.NTC else "none"),
            ("ADC-capable pins", "`ADC_PINS`", _pins(p.ADC_PINS)),
            ("input-only pins (no internal pulls)", "`INPUT_ONLY`", _pins(p.INPUT_ONLY)),
            ("reserved pins (never used)", "`RESERVED`", _pins(p.RESERVED)),
            ("RP2040 PWM slice check", "`PWM_SLICES`", str(p.PWM_SLICES))]
    return _table(("Setting", "In pins.py", "Value"), rows)


def _pins(t):
    return ", ".join(str(x) for x in t) if t else "none"


TABLES = (("pins", table_pins), ("divider", table_divider), ("levels", table_levels),
          ("thresholds", table_thresholds), ("settings", table_settings))


# ---------------------------------------------------------------- the drawing (SVG)
_ROW = 22
_HEAD = 26
_CH = 7.5               # width of one 12 px monospace character, with margin
_X_PIN = 170            # pin boxes on the MCU's edge
_X_TXT = 380            # role names, then what the signal is


def _groups(b):
    """[(title, group, [(role name, pin, role)])] in the pin map's order."""
    out = []
    for name, pin in b.roles():
        r = _role(name)
        g = ROLES.get(r, ("Other", r))[0]
        ev = name.split(".")[0][4:] if "." in name else ""
        title = "EVSE %s: %s" % (ev, g) if ev and len(b.pins.EVSE) > 1 else g
        if not out or out[-1][0] != title:
            out.append((title, g, []))
        out[-1][2].append((name, pin, r))
    return out


def svg(b):
    """The pin map by role as an SVG document (str)."""
    j = b.json
    groups = _groups(b)
    rows = [row for _, _, rs in groups for row in rs]
    x_what = _X_TXT + int(_CH * (max(len(n) for n, _, _ in rows) + 2))
    foot = _footer(b)
    width = int(max(760, x_what + 20 + _CH * max(len(_what(b, r, p)) for _, p, r in rows),
                    40 + _CH * max(len(t) for t in [j.get("description", "")] + foot)))
    y0 = 96
    body = sum(_HEAD + _ROW * len(rs) for _, _, rs in groups) + 8
    height = y0 + body + 40 + 18 * len(foot)
    out = ['<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" '
           'viewBox="0 0 %d %d" font-family="DejaVu Sans Mono, Menlo, Consolas, monospace" '
           'font-size="12">' % (width, height, width, height),
           '<title>%s pin map</title>' % _x(b.name),
           '<defs><marker id="arr" markerWidth="8" markerHeight="8" refX="7" refY="4" '
           'orient="auto"><path d="M0,0 L8,4 L0,8 z" fill="#333"/></marker></defs>',
           '<rect x="0" y="0" width="%d" height="%d" fill="#fff"/>' % (width, height),
           '<text x="20" y="30" font-size="20" font-weight="bold">%s</text>' % _x(b.name),
           '<text x="20" y="52">%s</text>' % _x(j.get("description", "")),
           '<text x="20" y="72" fill="#555">MCU %s, MicroPython port %s, board %s, '
           'arch %s</text>' % tuple(_x(str(j.get(k, "?"))) for k in
                                    ("mcu", "port", "micropython_board", "arch")),
           '<rect x="20" y="%d" width="%d" height="%d" rx="6" fill="#f4f4f4" stroke="#333"/>'
           % (y0, _X_PIN - 20, body),
           '<text x="%d" y="%d" text-anchor="middle" font-weight="bold">%s</text>'
           % ((_X_PIN + 20) // 2, y0 + 20, _x(str(j.get("mcu", b.name)).upper()))]
    y = y0
    for title, g, rs in groups:
        c = COLORS.get(g, COLORS["Other"])
        out.append('<rect x="%d" y="%d" width="%d" height="%d" fill="%s" opacity="0.15"/>'
                   % (_X_PIN, y + 4, width - _X_PIN - 20, _HEAD - 6, c))
        out.append('<text x="%d" y="%d" font-weight="bold" fill="%s">%s</text>'
                   % (_X_TXT, y + 19, c, _x(title)))
        y += _HEAD
        for name, pin, r in rs:
            out.append(_row(b, name, pin, r, y, c, x_what))
            y += _ROW
    y = y0 + body + 24
    for i, (d, label) in enumerate((("out", "output"), ("in", "digital input"),
                                    ("analog in", "analog input (ADC)"))):
        x = 20 + 220 * i
        out.append(_arrow(d, x, x + 60, y - 4) + '\n<text x="%d" y="%d">%s</text>'
                   % (x + 70, y, label))
    for t in foot:
        y += 18
        out.append('<text x="20" y="%d" fill="#555">%s</text>' % (y, _x(t)))
    out.append("</svg>")
    return "\n".join(out) + "\n"


def _what(b, r, pin):
    note = _note(b, r, pin)
    return ROLES.get(r, ("Other", r))[1] + (" (%s)" % note if note else "")


def _arrow(d, x0, x1, y):
    """An arrow from the MCU (x0) outwards (x1) for an output, inwards for an input."""
    if d == "out":
        return ('<line x1="%d" y1="%d" x2="%d" y2="%d" stroke="#333" marker-end="url(#arr)"/>'
                % (x0, y, x1 - 4, y))
    dash = ' stroke-dasharray="4,3"' if d == "analog in" else ""
    return ('<line x1="%d" y1="%d" x2="%d" y2="%d" stroke="#333"%s marker-end="url(#arr)"/>'
            % (x1, y, x0 + 2, y, dash))


def _row(b, name, pin, r, y, color, x_what):
    d = _direction(b, r)
    cy = y + _ROW // 2
    return "\n".join((
        '<g class="pin" data-role="%s" data-pin="%s" data-dir="%s">' % (_x(name), _x(str(pin)), d),
        '<rect x="%d" y="%d" width="80" height="%d" fill="%s" stroke="#333"/>'
        % (_X_PIN, y + 2, _ROW - 4, color),
        '<text x="%d" y="%d" text-anchor="middle" fill="#fff" font-weight="bold">%s</text>'
        % (_X_PIN + 40, cy + 4, _x(_pin(pin))),
        _arrow(d, _X_PIN + 80, _X_TXT - 10, cy),
        '<text x="%d" y="%d" font-weight="bold">%s</text>' % (_X_TXT, cy + 4, _x(name)),
        '<text x="%d" y="%d">%s</text>' % (x_what, cy + 4, _x(_what(b, r, pin))),
        "</g>"))


def _footer(b):
    p = b.pins
    unwired = ["evse%d.%s" % (n + 1, k) for n, ev in enumerate(p.EVSE) for k in ev
               if ev[k] is None] + [k for k in p.STATION if p.STATION[k] is None]
    out = ["Reserved, never used: %s" % _pins(p.RESERVED)]
    if unwired:
        out.append("Not wired: " + ", ".join(unwired))
    out.append("Generated by tools/build/pinmap.py from %s and boards/%s/board.json"
               % (b.json["pins"], b.name))
    return out


def _x(s):
    return html.escape(s, quote=True)


# ---------------------------------------------------------------- the doc page
def blocks(b):
    return {key: fn(b) for key, fn in TABLES}


_BLOCK = re.compile(r"(?s)(<!-- pinmap:(\w+) begin[^>]*-->)\n.*?(<!-- pinmap:\2 end -->)")


def fill(text, gen):
    """text with every pinmap block replaced by its generated content. KeyError for a
    block the page lacks or one the generator does not know."""
    seen = []

    def sub(m):
        seen.append(m.group(2))
        return "%s\n\n%s\n\n%s" % (m.group(1), gen[m.group(2)], m.group(3))

    text = _BLOCK.sub(sub, text)
    missing = sorted(set(gen) - set(seen))
    if missing:
        raise KeyError("no block for " + ", ".join(missing))
    return text


_SKELETON = """# %(name)s

%(description)s

![%(name)s pin map](%(name)s-pins.svg)

## Pins by role

%(pins)s

## Control pilot

%(divider)s

%(levels)s

%(thresholds)s

## Settings

%(settings)s
"""


def skeleton(b):
    """A new board's page: a heading and every generated block, prose to be written."""
    marks = {k: "<!-- pinmap:%s begin: generated by tools/build/pinmap.py, do not edit -->\n"
                "<!-- pinmap:%s end -->" % (k, k) for k, _ in TABLES}
    return _SKELETON % dict(marks, name=b.name, description=b.json.get("description", ""))


def outputs(name):
    """{path: content} of everything generated for one board."""
    b = Board(name)
    page = os.path.join(DOCS, name + ".md")
    if os.path.exists(page):
        with open(page) as f:
            text = f.read()
    else:
        text = skeleton(b)
    return {os.path.join(DOCS, name + "-pins.svg"): svg(b), page: fill(text, blocks(b))}


def main(argv):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--check", action="store_true", help="exit 1 if a file is out of date")
    ap.add_argument("board", nargs="*", help="board names (default: every board)")
    a = ap.parse_args(argv)
    stale = []
    for name in a.board or boards():
        for path, content in outputs(name).items():
            old = None
            if os.path.exists(path):
                with open(path) as f:
                    old = f.read()
            if old == content:
                continue
            stale.append(os.path.relpath(path, ROOT))
            if not a.check:
                os.makedirs(os.path.dirname(path), exist_ok=True)
                with open(path, "w") as f:
                    f.write(content)
    for p in stale:
        print(("out of date: " if a.check else "wrote ") + p)
    return 1 if a.check and stale else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
