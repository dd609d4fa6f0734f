"""firmware.persist.settings' table, stored as one packed string and parsed per row (8 KB less heap
than tuples on a 32-bit port): every row parses to the documented shape with a default of
its type, the 1.6 key and the 2.0.1 component/variable/instance find the same row back,
aliases (CpoName, AuthorizationKey) work one way only, and odd names find nothing. A
stored settings file with unknown names, wrong types or names carrying the table's own
separators keeps only the valid values."""
from tests import mp


def test_table_rows_lookups_and_loading(tmp_path):
    out = mp.run_file("settings_table", tmp_path / "s.json")
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
