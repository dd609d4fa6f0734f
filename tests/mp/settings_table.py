"""firmware.persist.settings' table: rows, lookups, aliases, loading a stored file
(tests/unit/test_settings_table.py).

argv: PATH — where to write the stored settings file"""
from out import report
import json, os, sys, store
from firmware.persist import settings
out = {"rows": [], "errors": []}
for r in settings.rows():
    out["rows"].append(list(r[:2]) + [list(r[2]) if r[2] else None] + list(r[3:]))
    name, k16, v201, typ, d = r[:5]
    ok = (isinstance(d, int) and not isinstance(d, bool)) if typ == settings.INT else \
        isinstance(d, bool) if typ == settings.BOOL else isinstance(d, str)
    if not ok:
        out["errors"].append("default type " + name)
    if settings.row(name) != r:
        out["errors"].append("row " + name)
    if k16 and settings.find16(k16) != r:
        out["errors"].append("find16 " + name)
    if v201 and settings.find201(*v201) != r:
        out["errors"].append("find201 " + name)
    if v201 and settings.find201(v201[0], v201[1], "x") is not None:
        out["errors"].append("instance " + name)
    if v201 and v201[0] not in settings.COMPONENTS:
        out["errors"].append("component " + name)
out["alias"] = [settings.find16("CpoName")[0], settings.find16("OrganizationName"),
                settings.find16("AuthorizationKey")[0], settings.find16("BasicAuthPassword")]
out["odd"] = [settings.row(x) for x in ("", "Nope", "HeartbeatInterval|=", "\nHeartbeatInterval",
                                 "HeartbeatInterval|")] + \
             [settings.find16("Heartbeat"), settings.find201("Nope", "HeartbeatInterval"),
              settings.find201("OCPPCommCtrlr", "MessageTimeout"), settings.find201("OCPPCommCtrlr", "x|y")]
p = sys.argv[-1]
with open(p, "w") as f:
    json.dump({"HeartbeatInterval": 42, "MeterValueSampleInterval": "10", "Nope": 1,
               "HeartbeatInterval|=": 5, "LocalPreAuthorize": True, "5": 5}, f)
s = settings.Settings(p)
out["load"] = [s.load(), s._values]
report(out)
