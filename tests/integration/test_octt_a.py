"""OCTT 2.0.1 block A (security) cases not covered elsewhere: TC_A_10 (a new
BasicAuthPassword that is too short is Rejected; the next connection still uses the
old one). Covered elsewhere (named in their tests): test_security_basic.py,
test_security_profiles.py, test_deviations.py (TC_A_09), test_cert_signing.py
(TC_A_11, 14, 15, 23), test_network_profiles.py (TC_A_19-22)."""
from tests.integration.conftest import accepted
from tools.csms import CsmsThread
from tools.harness.simctl import SimStation


def test_TC_A_10_short_basic_auth_password_rejected(tmp_path):
    old = "old-password-0123456"
    with CsmsThread(host="127.0.0.1", port=0, passwords={"PWA10": old}) as csms:
        st = SimStation(csms.url + "ocpp", "PWA10", "2.0.1", tmp_path,
                        extra=("--profile", "1", "--password", old, "--set", "RetryBackOffWaitMinimum=1",
                               "--set", "RetryBackOffRandomRange=0"))
        try:
            st.start()
            link = accepted(csms, st)
            res = link.call("SetVariables", {"setVariableData": [{"component": {"name": "SecurityCtrlr"},
                            "variable": {"name": "BasicAuthPassword"},
                            "attributeValue": "short-pw-15char"}]})   # 15 < 16 characters
            assert res["setVariableResult"][0]["attributeStatus"] == "Rejected"
            link.close()                           # the next connection: the old password
            link2 = csms.station("PWA10", newer_than=link, timeout=30)
            st.wait(lambda s: s["connected"] and s["registration"] == "Accepted", timeout=30,
                    what="connected again with the old password")
            assert link2.call("DataTransfer", {"vendorId": "x"})["status"] == "UnknownVendorId"
            assert link.violations == [] and link2.violations == []
        finally:
            st.stop()
