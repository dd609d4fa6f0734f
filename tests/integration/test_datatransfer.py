"""DataTransfer from the CSMS (OCPP 2.0.1 P01, OCTT TC_P_01_CS; OCPP 1.6 4.3 / 5.6) to the
vendor registry (firmware/vendor.py): the simulated board registers vendorId
"MicroEVSE.sim" with messageIds "Echo" (Accepted, the data back) and "Reject" (Rejected).
The station's own DataTransfer (P02) goes through the REPL API: tests/integration/
test_repl.py."""
import pytest

from tests.integration.conftest import accepted

VERSIONS = ("1.6", "2.0.1")
VENDOR = "MicroEVSE.sim"


@pytest.mark.parametrize("version", VERSIONS)
def test_TC_P_01_data_transfer_to_the_station(csms, station, version):
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
