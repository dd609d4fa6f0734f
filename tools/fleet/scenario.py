"""A fleet scenario: data (JSON), checked here with messages that name the field.

    {
      "seed": 1,                          # the same seed repeats a run exactly
      "duration_s": 120,                  # sessions start within this; then the run drains
      "ramp": {"wave": 5, "every_s": 2},  # stations started per wave, seconds between waves
      "stations": [                       # groups; identities from a pattern ({n}: 1, 2, ...)
        {"count": 10, "ocpp": "1.6", "evses": 1, "profile": 0, "id": "F16-{n:03d}"},
        {"count": 10, "ocpp": "2.0.1", "evses": 2, "profile": 1, "id": "F201-{n:03d}",
         "password": "secret-{n}"},       # optional; profiles 1 and 2 need one
        {"count": 2, "ocpp": "2.0.1", "profile": 3, "id": "F3-{n}"}
      ],                                  # profile 2: TLS to the tap, which holds a per-run
                                          # CA; 3: also a client certificate per station
      "sessions": {
        "arrivals_per_hour": 60,          # per station (Poisson)
        "duration_s": [20, 40],           # session length, uniform in [lo, hi]
        "energy_wh": [500, 5000],         # optional: the EV leaves once it took this much
        "tokens": ["04A1B2C3", "04D4E5F6"],
        "remote_share": 0.3               # started by the CSMS (only with the built-in CSMS)
      },
      "faults": [{"at_s": 60, "share": 0.1, "kind": "rcd", "for_s": 5}],   # rcd | meter
      "outages": [{"at_s": 80, "for_s": 10}]    # the CSMS unreachable (through the tap)
    }
"""
import json

KINDS = ("rcd", "meter")


class ScenarioError(ValueError):
    pass


def _num(where, v, lo=0, hi=None, integer=False):
    ok = isinstance(v, int if integer else (int, float)) and not isinstance(v, bool)
    if not ok or v < lo or (hi is not None and v > hi):
        rng = "%s..%s" % (lo, hi if hi is not None else "")
        raise ScenarioError("%s: expected %s in %s, got %r"
                            % (where, "an integer" if integer else "a number", rng, v))
    return v


def _range(where, v, lo=0):
    if isinstance(v, (int, float)) and not isinstance(v, bool):
        v = [v, v]
    if not (isinstance(v, list) and len(v) == 2):
        raise ScenarioError("%s: expected a number or [lo, hi], got %r" % (where, v))
    _num(where + "[0]", v[0], lo)
    _num(where + "[1]", v[1], v[0])
    return v


def _keys(where, d, allowed, required=()):
    if not isinstance(d, dict):
        raise ScenarioError("%s: expected an object, got %s" % (where, type(d).__name__))
    for k in d:
        if k not in allowed:
            raise ScenarioError("%s: unknown key %r (allowed: %s)" % (where, k, ", ".join(allowed)))
    for k in required:
        if k not in d:
            raise ScenarioError("%s: missing %r" % (where, k))


def validate(d, name="scenario"):
    """-> the scenario with defaults filled in; raises ScenarioError naming the field."""
    _keys(name, d, ("seed", "duration_s", "ramp", "stations", "sessions", "faults",
                    "outages", "comment"), ("stations",))
    out = {"seed": _num(name + ".seed", d.get("seed", 1), integer=True),
           "duration_s": _num(name + ".duration_s", d.get("duration_s", 120), 1)}
    ramp = d.get("ramp", {})
    _keys(name + ".ramp", ramp, ("wave", "every_s"))
    out["ramp"] = {"wave": _num(name + ".ramp.wave", ramp.get("wave", 10), 1, integer=True),
                   "every_s": _num(name + ".ramp.every_s", ramp.get("every_s", 2), 0)}
    if not isinstance(d["stations"], list) or not d["stations"]:
        raise ScenarioError("%s.stations: expected a non-empty list of groups" % name)
    out["stations"] = []
    for i, g in enumerate(d["stations"]):
        w = "%s.stations[%d]" % (name, i)
        _keys(w, g, ("count", "ocpp", "evses", "profile", "id", "password"), ("count", "ocpp"))
        if g["ocpp"] not in ("1.6", "2.0.1"):
            raise ScenarioError("%s.ocpp: expected \"1.6\" or \"2.0.1\", got %r" % (w, g["ocpp"]))
        grp = {"count": _num(w + ".count", g["count"], 1, 1000, True), "ocpp": g["ocpp"],
               "evses": _num(w + ".evses", g.get("evses", 1), 1, 4, True),
               "profile": _num(w + ".profile", g.get("profile", 0), 0, 3, True),
               "id": g.get("id", "FLEET%d-{n:03d}" % (i + 1)), "password": g.get("password")}
        try:
            ident = grp["id"].format(n=1)
        except (KeyError, IndexError, ValueError, AttributeError) as e:
            raise ScenarioError("%s.id: a pattern with {n}, e.g. \"CS-{n:03d}\" (%s)" % (w, e))
        if grp["count"] > 1 and grp["id"].format(n=2) == ident:
            raise ScenarioError("%s.id: %r gives every station the same identity: use {n}"
                                % (w, grp["id"]))
        if not 1 <= len(ident) <= 48 or ":" in ident:
            raise ScenarioError("%s.id: %r is not a station identity (1-48 characters, no ':')"
                                % (w, ident))
        if grp["profile"] in (1, 2) and not grp["password"]:
            raise ScenarioError("%s.password: security profile %d needs a password"
                                % (w, grp["profile"]))
        out["stations"].append(grp)
    s = d.get("sessions", {})
    w = name + ".sessions"
    _keys(w, s, ("arrivals_per_hour", "duration_s", "energy_wh", "tokens", "remote_share"))
    tokens = s.get("tokens", ["FLEETTAG1"])
    if not isinstance(tokens, list) or not tokens or not all(
            isinstance(t, str) and 1 <= len(t) <= 20 for t in tokens):
        raise ScenarioError("%s.tokens: expected a non-empty list of id tokens (1-20 characters)" % w)
    out["sessions"] = {
        "arrivals_per_hour": _num(w + ".arrivals_per_hour", s.get("arrivals_per_hour", 30), 0),
        "duration_s": _range(w + ".duration_s", s.get("duration_s", [20, 40]), 1),
        "energy_wh": _range(w + ".energy_wh", s["energy_wh"], 1) if "energy_wh" in s else None,
        "tokens": tokens,
        "remote_share": _num(w + ".remote_share", s.get("remote_share", 0), 0, 1)}
    out["faults"] = []
    for i, f in enumerate(d.get("faults", [])):
        w = "%s.faults[%d]" % (name, i)
        _keys(w, f, ("at_s", "share", "kind", "for_s"), ("at_s", "kind"))
        if f["kind"] not in KINDS:
            raise ScenarioError("%s.kind: expected one of %s, got %r" % (w, ", ".join(KINDS), f["kind"]))
        out["faults"].append({"at_s": _num(w + ".at_s", f["at_s"]), "kind": f["kind"],
                              "share": _num(w + ".share", f.get("share", 0.1), 0, 1),
                              "for_s": _num(w + ".for_s", f.get("for_s", 5), 0)})
    out["outages"] = []
    for i, o in enumerate(d.get("outages", [])):
        w = "%s.outages[%d]" % (name, i)
        _keys(w, o, ("at_s", "for_s"), ("at_s", "for_s"))
        out["outages"].append({"at_s": _num(w + ".at_s", o["at_s"]),
                               "for_s": _num(w + ".for_s", o["for_s"], 0)})
    return out


def load(path):
    """Reads and checks a scenario file; ScenarioError with the file name and the field."""
    try:
        with open(path) as f:
            text = f.read()
    except OSError as e:
        raise ScenarioError("%s: %s" % (path, e.strerror or e))
    try:
        d = json.loads(text)
    except json.JSONDecodeError as e:
        raise ScenarioError("%s: not JSON: %s (line %d, column %d)" % (path, e.msg, e.lineno, e.colno))
    return validate(d, path)


def stations(sc):
    """The stations of a scenario in start order: dicts with id, ocpp, evses, profile,
    password, index."""
    out = []
    for g in sc["stations"]:
        for n in range(1, g["count"] + 1):
            pw = g["password"].format(n=n) if g["password"] else None
            out.append({"id": g["id"].format(n=n), "ocpp": g["ocpp"], "evses": g["evses"],
                        "profile": g["profile"], "password": pw, "index": len(out)})
    ids = [s["id"] for s in out]
    if len(set(ids)) != len(ids):
        dup = sorted({i for i in ids if ids.count(i) > 1})[0]
        raise ScenarioError("stations: identity %r given to more than one station" % dup)
    return out
