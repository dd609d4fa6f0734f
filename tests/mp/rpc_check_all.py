"""ocppj's payload checker against every generated schema table, case by case
(tests/unit/test_rpc.py): per line of CASES (JSON [version, table, action, payload, kind,
where]) one JSON line, [kind, where] of what the checker found, or [null, ""].

argv: CASES — the cases file (JSON lines)"""
import json
import sys

import ocppj
from firmware.ocpp.v16 import schema as schema16
from firmware.ocpp.v201 import schema as schema201

with open(sys.argv[1]) as f:
    for line in f:
        version, table, action, payload, kind, where = json.loads(line)
        schema = schema16 if version == "1.6" else schema201
        bad = ocppj.check(ocppj.lookup(getattr(schema, table), action), payload)
        print(json.dumps([bad[0], bad[1]] if bad else [None, ""]))
