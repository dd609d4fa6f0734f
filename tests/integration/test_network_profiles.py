"""Security profile upgrades and network connection profiles (issue 5; OCPP 1.6
security whitepaper: SecurityProfile; 2.0.1 A05, B09, B10). Upgrades only, their
prerequisites checked, the station reconnects with the new profile and falls back to
the one that worked when the new one does not connect (NetworkProfileConnectionAttempts).

OCTT 2.0.1: TC_A_19_CS (upgrade accepted), TC_A_20_CS (no CSMS root), TC_A_21_CS (no
station certificate), TC_A_22_CS (downgrade rejected), TC_B_43_CS (SetNetworkProfile
rejected), TC_B_45_CS (migrate to a new profile), TC_B_46_CS (fall-back)."""

import pytest

from tests import certs
from tests.integration.conftest import roundtrip
from tests.integration.test_certificates import install
from tools.csms import CsmsThread
from tools.harness.simctl import SimStation, free_port

PW = "profile-password-0123456"
FAST = ("--set", "RetryBackOffWaitMinimum=1", "--set", "RetryBackOffRandomRange=0",
        "--set", "RetryBackOffRepeatTimes=0", "--set", "NetworkProfileConnectionAttempts=2")


def _station(tmp_path, ident, version, port, *extra):
    return SimStation("ws://localhost:%d/ocpp" % port, ident, version, tmp_path,
                      extra=("--profile", "1", "--password", PW) + FAST + extra)


def upgrade(link, version, wss_url, profile):
    """Move the station to `profile`: 1.6 ChangeConfiguration SecurityProfile (same URL,
    wss from profile 2 on); 2.0.1 SetNetworkProfile slot 1 (wss_url), priority 1,0 and an
    immediate Reset (TC_A_19 / TC_B_45 steps). Each step must be accepted."""
    if version == "1.6":
        res = link.call("ChangeConfiguration", {"key": "SecurityProfile", "value": str(profile)})
        assert res["status"] == "Accepted", res
        return
    res = link.call("SetNetworkProfile", {"configurationSlot": 1, "connectionData": {
        "ocppVersion": "OCPP20", "ocppTransport": "JSON", "ocppInterface": "Wired0",
        "ocppCsmsUrl": wss_url, "messageTimeout": 30, "securityProfile": profile}})
    assert res["status"] == "Accepted", res
    res = link.call("SetVariables", {"setVariableData": [{"component": {"name": "OCPPCommCtrlr"},
                    "variable": {"name": "NetworkConfigurationPriority"}, "attributeValue": "1,0"}]})
    assert res["setVariableResult"][0]["attributeStatus"] == "RebootRequired"
    assert link.call("Reset", {"type": "Immediate"})["status"] == "Accepted"


def _conf16(link, key):
    res = link.call("GetConfiguration", {"key": [key]})
    return res["configurationKey"][0]["value"]


def _var201(link, comp, var):
    res = link.call("GetVariables", {"getVariableData": [{"component": {"name": comp},
                                                         "variable": {"name": var}}]})
    return res["getVariableResult"][0]["attributeValue"]


def _profile(link, version):
    return int(_conf16(link, "SecurityProfile") if version == "1.6"
               else _var201(link, "SecurityCtrlr", "SecurityProfile"))


def test_TC_084_security_profile_changes_rejected_16(tmp_path):
    """1.6 ChangeConfiguration SecurityProfile: not a downgrade nor the same (TC_A_22
    analogue), not 2 without a CSMS root (TC_A_20), not 3 without a station certificate
    (TC_A_21); the profile in force stays and the link stays up."""
    port = free_port()
    ca, _, _ = certs.make_pki()
    st = _station(tmp_path, "NP16R", "1.6", port)
    try:
        with CsmsThread(host="localhost", port=port, passwords={"NP16R": PW}) as csms:
            st.start()
            link = csms.station("NP16R", timeout=30)
            link.wait_for("BootNotification")
            st.wait(lambda s: s["registration"] == "Accepted", what="accepted")

            def change(v):
                return link.call("ChangeConfiguration", {"key": "SecurityProfile", "value": v})["status"]
            assert [change("0"), change("1"), change("2"), change("x")] == ["Rejected"] * 4
            assert install(link, "1.6", ca.cert_pem)["status"] == "Accepted"
            assert change("3") == "Rejected"                # no station certificate
            assert _profile(link, "1.6") == 1
            roundtrip(link)                                 # the same link still serves
            assert st.status()["connected"] and len(csms.links("NP16R")) == 1
            assert link.violations == []
    finally:
        st.stop()


def test_TC_083_security_profile_upgrade_1_to_2_16(tmp_path):
    """1.6: root installed, SecurityProfile 2 Accepted; the station reconnects over wss
    (same host, port and path) verifying the CSMS with that root, Basic auth kept."""
    port = free_port()
    ca, server, _ = certs.make_pki()
    st = _station(tmp_path, "NP16U", "1.6", port)
    try:
        with CsmsThread(host="localhost", port=port, passwords={"NP16U": PW}) as csms:
            st.start()
            link = csms.station("NP16U", timeout=30)
            link.wait_for("BootNotification")
            assert install(link, "1.6", ca.cert_pem)["status"] == "Accepted"
            assert link.call("ChangeConfiguration", {"key": "SecurityProfile", "value": "2"})["status"] == "Accepted"
            st.wait(lambda s: not s["connected"], what="reconnecting")
        with CsmsThread(host="localhost", port=port, ssl_context=certs.server_ssl_context(server),
                        passwords={"NP16U": PW}) as csms:
            link = csms.station("NP16U", timeout=30)
            st.wait(lambda s: s["connected"], timeout=30, what="connected over wss")
            assert _profile(link, "1.6") == 2
            assert link.call("ChangeConfiguration", {"key": "SecurityProfile", "value": "1"})["status"] == "Rejected"
    finally:
        st.stop()


@pytest.mark.parametrize("version", ("1.6", "2.0.1"))
def test_TC_B_46_upgrade_that_cannot_connect_falls_back(tmp_path, version):
    """The new profile does not connect (the CSMS still speaks ws only): after
    NetworkProfileConnectionAttempts failures the station goes back to the profile that
    worked and connects again (1.6: SecurityProfile; 2.0.1 B10, TC_B_46: slot 1 by
    priority, then slot 0)."""
    port = free_port()
    ident = "NPFB" + version.replace(".", "")
    ca, _, _ = certs.make_pki()
    st = _station(tmp_path, ident, version, port)
    try:
        with CsmsThread(host="localhost", port=port, passwords={ident: PW}) as csms:
            st.start()
            link = csms.station(ident, timeout=30)
            link.wait_for("BootNotification")
            assert install(link, version, ca.cert_pem)["status"] == "Accepted"
            upgrade(link, version, "wss://localhost:%d/ocpp" % port, 2)
            link = csms.station(ident, timeout=40, newer_than=link)     # back on ws
            st.wait(lambda s: s["connected"] and s["registration"] == "Accepted",
                    what="accepted again")
            assert _profile(link, version) == 1
            assert "falling back" in st.log()
    finally:
        st.stop()


def test_TC_A_19_20_21_22_TC_B_43_45_set_network_profile_201(tmp_path):
    """2.0.1 B09: SetNetworkProfile Rejected below the profile in force (TC_A_22/TC_B_43),
    without a CSMS root for profile 2 (TC_A_20), without a station certificate for 3
    (TC_A_21), for the slot in force, for a ws:// URL with profile 2; Accepted otherwise.
    Then TC_A_19 / TC_B_45: priority 1,0 and a reset move the station to slot 1 (wss,
    profile 2, the CSMS verified with the root installed over the wire)."""
    port, port2 = free_port(), free_port()
    ca, server, _ = certs.make_pki()
    st = _station(tmp_path, "NP201", "2.0.1", port)

    def snp(link, slot, url, sp):
        return link.call("SetNetworkProfile", {"configurationSlot": slot, "connectionData": {
            "ocppVersion": "OCPP20", "ocppTransport": "JSON", "ocppInterface": "Wired0",
            "ocppCsmsUrl": url, "messageTimeout": 30, "securityProfile": sp}})["status"]
    try:
        with CsmsThread(host="localhost", port=port, passwords={"NP201": PW}) as csms:
            st.start()
            link = csms.station("NP201", timeout=30)
            link.wait_for("BootNotification")
            wss = "wss://localhost:%d/ocpp" % port2
            assert snp(link, 1, "ws://localhost:%d/ocpp" % port, 0) == "Rejected"   # downgrade
            assert snp(link, 1, wss, 2) == "Rejected"                                # no root
            assert install(link, "2.0.1", ca.cert_pem)["status"] == "Accepted"
            assert snp(link, 1, wss, 3) == "Rejected"                                # no cert
            assert snp(link, 0, wss, 2) == "Rejected"                                # in use
            assert snp(link, 1, "ws://localhost:%d/ocpp" % port2, 2) == "Rejected"   # scheme
            assert snp(link, 1, wss, 2) == "Accepted"
            assert link.violations == []
            res = link.call("SetVariables", {"setVariableData": [{"component": {"name": "OCPPCommCtrlr"},
                            "variable": {"name": "NetworkConfigurationPriority"}, "attributeValue": "1,0"}]})
            assert res["setVariableResult"][0]["attributeStatus"] == "RebootRequired"
            with CsmsThread(host="localhost", port=port2, ssl_context=certs.server_ssl_context(server),
                            passwords={"NP201": PW}) as csms2:
                assert link.call("Reset", {"type": "Immediate"})["status"] == "Accepted"
                link2 = csms2.station("NP201", timeout=40)
                link2.wait_for("BootNotification")
                st.wait(lambda s: s["registration"] == "Accepted", what="accepted on slot 1")
                assert _profile(link2, "2.0.1") == 2
                assert link2.violations == []
    finally:
        st.stop()
