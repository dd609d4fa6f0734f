"""Spec deviations of issue 18, one test (or a few checks on one station) each, named
after the OCTT cases they cover: 2.0.1 TC_* ids, 1.6 case or feature names."""
import pytest

from tests.integration.conftest import accepted, sent

VERSIONS = ("1.6", "2.0.1")


def _set201(link, component, variable, value):
    res = link.call("SetVariables", {"setVariableData": [{"component": {"name": component},
                    "variable": {"name": variable}, "attributeValue": value}]})
    return res["setVariableResult"][0]["attributeStatus"]


def _ended(p):
    return p["eventType"] == "Ended"


# ---- 7: a Reset ends running transactions before the reboot (B12, TC_B_22; 1.6 Reset)

@pytest.mark.parametrize("version", VERSIONS)
def test_TC_B_22_reset_sends_the_transaction_end_before_rebooting(csms, station, version):
    st = station(version)
    link = accepted(csms, st)
    st.cmd("plug 1")
    st.wait(lambda s: s["evses"][0]["relay"], what="charging")
    if version == "1.6":
        link.wait_for("StartTransaction")
        assert link.call("Reset", {"type": "Soft"})["status"] == "Accepted"
        stop = link.wait_for("StopTransaction", timeout=30)
        assert stop["reason"] == "SoftReset" and stop["transactionId"] == 1
    else:
        link.wait_for("TransactionEvent", lambda p: p["eventType"] == "Started")
        assert link.call("Reset", {"type": "Immediate"})["status"] == "Accepted"
        end = link.wait_for("TransactionEvent", _ended, timeout=30)
        assert end["transactionInfo"]["stoppedReason"] == "ImmediateReset"
        assert end["triggerReason"] == "ResetCommand" and not end.get("offline")
    link.wait_closed(timeout=30)
    link2 = csms.station(st.ident, newer_than=link, timeout=30)
    link2.wait_for("BootNotification")
    # the end was delivered before the reboot: the new boot does not send it again
    link2.wait_for("StatusNotification")
    assert not sent(link2, "StopTransaction")
    assert not [p for p in sent(link2, "TransactionEvent") if _ended(p)]
