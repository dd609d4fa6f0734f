"""Each version's routing table, whether each handler it names exists, and the requests
its generated schema table holds (tests/unit/test_routes.py)."""
from out import report
import json, sys
from firmware.ocpp.v16.core import Adapter16
from firmware.ocpp.v201.core import Adapter201
out = {}
for v, cls in (("1.6", Adapter16), ("2.0.1", Adapter201)):
    missing = []
    for act, where in cls.ROUTES:
        if where == "":
            ok = hasattr(cls, "on_" + act)
        elif where is None:
            ok = True
        else:
            m = __import__(where, None, None, ("_",))
            ok = hasattr(m, "on_" + act)
        if not ok:
            missing.append(act)
    index = cls.REQUESTS[1].decode()         # b" Action:offset Action:offset ..."
    schemas = [x.split(":")[0] for x in index.split()]
    out[v] = {"routes": [list(r) for r in cls.ROUTES], "missing": missing, "schemas": schemas}
report(out)
