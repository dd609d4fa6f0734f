"""DataTransfer from the CSMS (OCPP 2.0.1 P01, OCTT TC_P_01_CS; OCPP 1.6 4.3 / 5.6, TC_062) to the
vendor registry (firmware/vendor.py): the simulated board registers vendorId
"MicroEVSE.sim" with messageIds "Echo" (Accepted, the data back) and "Reject" (Rejected).
The station's own DataTransfer (P02) goes through the REPL API: tests/integration/
test_repl.py."""
import pytest

from tests.integration.conftest import accepted

VERSIONS = ("1.6", "2.0.1")
VENDOR = "MicroEVSE.sim"


@pytest.mark.parametrize("version", VERSIONS)
def test_TC_P_01_TC_062_data_transfer_to_the_station(csms, station, version):
    st = station(version)
    link = accepted(csms, st)
    assert link.call("DataTransfer", {"vendorId": "com.example.unknown",
                                      "messageId": "Echo"}) == {"status": "UnknownVendorId"}
    assert link.call("DataTransfer", {"vendorId": VENDOR, "messageId": "Nope"}) == \
        {"status": "UnknownMessageId"}
    assert link.call("DataTransfer", {"vendorId": VENDOR}) == {"status": "UnknownMessageId"}
    assert link.call("DataTransfer", {"vendorId": VENDOR, "messageId": "Reject",
                                      "data": "x"}) == {"status": "Rejected"}
    data = "hello \u00e9" if version == "1.6" else {"n": [1, 2], "s": "hello"}
    assert link.call("DataTransfer", {"vendorId": VENDOR, "messageId": "Echo", "data": data}) \
        == {"status": "Accepted", "data": data}
    assert st.status()["connected"]


def test_TC_P_03_custom_data_received(csms, station):
    """customData (2.0.1: any object may carry one, with its vendorId) is accepted where
    the schema allows it and ignored: the requests are answered as without it."""
    st = station("2.0.1")
    link = accepted(csms, st)
    cd = {"vendorId": "com.example.custom", "note": "ignored"}
    assert link.call("DataTransfer", {"vendorId": VENDOR, "messageId": "Echo", "data": "x",
                                      "customData": cd}) == {"status": "Accepted", "data": "x"}
    res = link.call("GetVariables", {"customData": cd, "getVariableData": [{
        "customData": cd, "component": {"name": "OCPPCommCtrlr", "customData": cd},
        "variable": {"name": "FileTransferProtocols", "customData": cd}}]})
    r = res["getVariableResult"][0]
    assert (r["attributeStatus"], r["attributeValue"]) == ("Accepted", "HTTP,HTTPS")
    assert link.call("TriggerMessage", {"requestedMessage": "Heartbeat", "customData": cd}) == \
        {"status": "Accepted"}
    link.wait_for("Heartbeat", timeout=30)
