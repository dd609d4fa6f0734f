"""The adapters' routing tables (Adapter16.ROUTES, Adapter201.ROUTES): every request a
CSMS may send in that version's schemas (the `ocpp` package's) has an entry, so no
action falls through to a generic error by accident; every handler named there exists;
the supported ones are exactly the requests whose schemas tools/build/gen_schemas.py
generated into schema.py; docs/ocpp.md lists the same table. And the answers: NotSupported for a
"not supported" entry, UnknownVendorId for DataTransfer."""
import os
import re

import ocpp

from tests import mp
from tools.build import gen_schemas

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DOC = os.path.join(ROOT, "docs", "ocpp.md")

# Who sends which CALL (OCPP 1.6 sections 4 and 5 and the security extension; OCPP 2.0.1
# Part 2, each message's direction). DataTransfer goes both ways.
CSMS_CALLS = {
    "1.6": {
        "CancelReservation", "CertificateSigned", "ChangeAvailability", "ChangeConfiguration",
        "ClearCache", "ClearChargingProfile", "DataTransfer", "DeleteCertificate",
        "ExtendedTriggerMessage", "GetCompositeSchedule", "GetConfiguration", "GetDiagnostics",
        "GetInstalledCertificateIds", "GetLocalListVersion", "GetLog", "InstallCertificate",
        "RemoteStartTransaction", "RemoteStopTransaction", "ReserveNow", "Reset",
        "SendLocalList", "SetChargingProfile", "SignedUpdateFirmware", "TriggerMessage",
        "UnlockConnector", "UpdateFirmware"},
    "2.0.1": {
        "CancelReservation", "CertificateSigned", "ChangeAvailability", "ClearCache",
        "ClearChargingProfile", "ClearDisplayMessage", "ClearVariableMonitoring",
        "CostUpdated", "CustomerInformation", "DataTransfer", "DeleteCertificate",
        "GetBaseReport", "GetChargingProfiles", "GetCompositeSchedule", "GetDisplayMessages",
        "GetInstalledCertificateIds", "GetLocalListVersion", "GetLog", "GetMonitoringReport",
        "GetReport", "GetTransactionStatus", "GetVariables", "InstallCertificate",
        "PublishFirmware", "RequestStartTransaction", "RequestStopTransaction", "ReserveNow",
        "Reset", "SendLocalList", "SetChargingProfile", "SetDisplayMessage",
        "SetMonitoringBase", "SetMonitoringLevel", "SetNetworkProfile",
        "SetVariableMonitoring", "SetVariables", "TriggerMessage", "UnlockConnector",
        "UnpublishFirmware", "UpdateFirmware"},
}
STATION_CALLS = {
    "1.6": {
        "Authorize", "BootNotification", "DataTransfer", "DiagnosticsStatusNotification",
        "FirmwareStatusNotification", "Heartbeat", "LogStatusNotification", "MeterValues",
        "SecurityEventNotification", "SignCertificate", "SignedFirmwareStatusNotification",
        "StartTransaction", "StatusNotification", "StopTransaction"},
    "2.0.1": {
        "Authorize", "BootNotification", "ClearedChargingLimit", "DataTransfer",
        "FirmwareStatusNotification", "Get15118EVCertificate", "GetCertificateStatus",
        "Heartbeat", "LogStatusNotification", "MeterValues", "NotifyChargingLimit",
        "NotifyCustomerInformation", "NotifyDisplayMessages", "NotifyEVChargingNeeds",
        "NotifyEVChargingSchedule", "NotifyEvent", "NotifyMonitoringReport", "NotifyReport",
        "PublishFirmwareStatusNotification", "ReportChargingProfiles",
        "ReservationStatusUpdate", "SecurityEventNotification", "SignCertificate",
        "StatusNotification", "TransactionEvent"},
}


def _schema_actions(version):
    """Every CALL of the version that the `ocpp` package has a request schema for."""
    sub, suffix = gen_schemas.VERSIONS[version][:2]
    d = os.path.join(os.path.dirname(ocpp.__file__), sub, "schemas")
    out = set()
    for f in os.listdir(d):
        name = f[:-5]
        if name.endswith("Response"):
            continue
        if suffix:
            if not name.endswith(suffix):
                continue
            name = name[:-len(suffix)]
        out.add(name)
    return out


def _tables():
    return mp.run_file("routes_dump")


def _doc_tables():
    """docs/ocpp.md: {version: {action: where}} from its two route tables."""
    out, version = {}, None
    with open(DOC) as f:
        for line in f:
            h = re.match(r"^## OCPP (1\.6|2\.0\.1)", line)
            if h:
                version = h.group(1)
                out[version] = {}
                continue
            m = re.match(r"^\| (\w+) \| (.+?) \|", line)
            if version and m and m.group(1) != "action":
                text = m.group(2)
                if text.startswith("not supported"):
                    where = None
                elif text.startswith("adapter"):
                    where = ""
                else:
                    where = re.match(r"`(firmware\.[\w.]+)`", text).group(1)
                out[version][m.group(1)] = where
    return out


def test_every_schema_action_has_a_direction():
    """The direction lists above cover the package's schemas (a new message in a
    package update shows up here, then in the tables)."""
    for v in ("1.6", "2.0.1"):
        assert _schema_actions(v) == CSMS_CALLS[v] | STATION_CALLS[v], v


def test_each_routing_table_covers_every_csms_request():
    tables = _tables()
    for v in ("1.6", "2.0.1"):
        routes = tables[v]["routes"]
        actions = [a for a, _ in routes]
        assert len(actions) == len(set(actions)), "%s: an action twice" % v
        assert set(actions) == CSMS_CALLS[v], v
        assert tables[v]["missing"] == [], "%s: handler named in ROUTES missing" % v
        # the supported requests are exactly the ones whose schemas are generated
        # (tools/build/gen_schemas.py reads the table; the RPC validates them and answers
        # NotImplemented for the rest before routing): run it after a table change
        supported = [a for a, where in routes if where is not None]
        assert list(gen_schemas.VERSIONS[v][3]) == supported, v
        assert sorted(tables[v]["schemas"]) == sorted(supported), \
            "%s: schema.py out of date with ROUTES: run tools/build/gen_schemas.py" % v


def test_docs_list_the_routing_tables():
    tables = _tables()
    doc = _doc_tables()
    for v in ("1.6", "2.0.1"):
        want = {a: where for a, where in tables[v]["routes"]}
        assert doc.get(v) == want, "docs/ocpp.md, OCPP %s, out of date with ROUTES" % v


def test_not_supported_answers_not_supported_and_data_transfer_unknown_vendor():
    out = mp.run_file("routes_answers")
    tables = _tables()
    unsupported = {v: [a for a, w in tables[v]["routes"] if w is None][:1] for v in tables}
    assert unsupported["2.0.1"], "2.0.1 has unsupported blocks (display messages, ...)"
    want = []
    for v in ("1.6", "2.0.1"):
        want += [[v, a, "NotSupported"] for a in unsupported[v]]
        want.append([v, "DataTransfer", {"status": "UnknownVendorId"}])
    assert out == want
