"""firmware.persist.settings' table, stored as one packed string and parsed per row (8 KB less heap
than tuples on a 32-bit port): every row parses to the documented shape with a default of
its type, the 1.6 key and the 2.0.1 component/variable/instance find the same row back,
aliases (CpoName, AuthorizationKey) work one way only, and odd names find nothing. A
stored settings file with unknown names, wrong types or names carrying the table's own
separators keeps only the valid values."""
import json

from tests import mp

CODE = r"""
import json, os, sys, store
from firmware.persist import settings as S
out = {"rows": [], "errors": []}
for r in S.rows():
    out["rows"].append(list(r[:2]) + [list(r[2]) if r[2] else None] + list(r[3:]))
    name, k16, v201, typ, d = r[:5]
    ok = (isinstance(d, int) and not isinstance(d, bool)) if typ == S.INT else \
        isinstance(d, bool) if typ == S.BOOL else isinstance(d, str)
    if not ok:
        out["errors"].append("default type " + name)
    if S.row(name) != r:
        out["errors"].append("row " + name)
    if k16 and S.find16(k16) != r:
        out["errors"].append("find16 " + name)
    if v201 and S.find201(*v201) != r:
        out["errors"].append("find201 " + name)
    if v201 and S.find201(v201[0], v201[1], "x") is not None:
        out["errors"].append("instance " + name)
    if v201 and v201[0] not in S.COMPONENTS:
        out["errors"].append("component " + name)
out["alias"] = [S.find16("CpoName")[0], S.find16("OrganizationName"),
                S.find16("AuthorizationKey")[0], S.find16("BasicAuthPassword")]
out["odd"] = [S.row(x) for x in ("", "Nope", "HeartbeatInterval|=", "\nHeartbeatInterval",
                                 "HeartbeatInterval|")] + \
             [S.find16("Heartbeat"), S.find201("Nope", "HeartbeatInterval"),
              S.find201("OCPPCommCtrlr", "MessageTimeout"), S.find201("OCPPCommCtrlr", "x|y")]
p = sys.argv[-1]
with open(p, "w") as f:
    json.dump({"HeartbeatInterval": 42, "MeterValueSampleInterval": "10", "Nope": 1,
               "HeartbeatInterval|=": 5, "LocalPreAuthorize": True, "5": 5}, f)
s = S.Settings(p)
out["load"] = [s.load(), s._values]
print(json.dumps(out))
"""


def test_table_rows_lookups_and_loading(tmp_path):
    out = json.loads(mp.run(CODE, args=(str(tmp_path / "s.json"),)).stdout.strip().splitlines()[-1])
    assert out["errors"] == []
    rows = {r[0]: r for r in out["rows"]}
    assert len(rows) == len(out["rows"]) >= 50                      # names are unique
    assert rows["HeartbeatInterval"] == ["HeartbeatInterval", "HeartbeatInterval",
                                         ["OCPPCommCtrlr", "HeartbeatInterval", None],
                                         0, 300, 0, 0, 86400]
    assert rows["MessageTimeout"][1:3] == [None, ["OCPPCommCtrlr", "MessageTimeout", "Default"]]
    assert rows["TransactionMessageAttempts"][2] == ["OCPPCommCtrlr", "MessageAttempts",
                                                      "TransactionEvent"]
    assert rows["UnlockConnectorOnEVSideDisconnect"][2] == ["OCPPCommCtrlr", "UnlockOnEVSideDisconnect", None]
    assert rows["StopTransactionOnEVSideDisconnect"][4] is True
    assert rows["AuthorizeRemoteTxRequests"][4] is False
    assert rows["BasicAuthPassword"][5] == 2                          # WO: in force at once (A01)
    assert out["alias"] == ["OrganizationName", None, "BasicAuthPassword", None]
    assert out["odd"] == [None] * 9
    assert out["load"] == [True, {"HeartbeatInterval": 42, "LocalPreAuthorize": True}]
