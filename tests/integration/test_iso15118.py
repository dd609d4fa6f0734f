"""ISO 15118 certificate messages of OCPP 2.0.1 sent for an ISO 15118 stack through the
kernel-level API (firmware.evse.iso15118; the simulator's control `iso` stands in for the
stack): Get15118EVCertificate (Install / Update, OCTT TC_M_* ISO 15118 family) and
GetCertificateStatus with the hash data of a real certificate (equal to
`cryptography`'s), answered by the dev CSMS with schema validation on; CSMS refusal,
offline, bad input and a 1.6 station each give status Failed with a reason."""
import hashlib
import json

from cryptography.hazmat.primitives import serialization

from tests import certs
from tests.integration.conftest import accepted
from tools.csms import CsmsThread
from tools.harness.simctl import SimStation, free_port


def _result(st, after):
    st.wait(lambda s: s.get("iso_result") not in (None, after), what="iso result")
    return json.loads(st.status()["iso_result"])


def _ocsp_args(cert, issuer):
    name_hash = hashlib.sha256(cert.issuer.public_bytes()).hexdigest()
    key = issuer.public_key().public_bytes(serialization.Encoding.X962,
                                           serialization.PublicFormat.UncompressedPoint)
    return name_hash, hashlib.sha256(key).hexdigest(), format(cert.serial_number, "x")


def test_ev_certificate_and_ocsp_status(csms, station):
    st = station("2.0.1")
    link = accepted(csms, st)
    link.set_reply("Get15118EVCertificate", {"status": "Accepted", "exiResponse": "RVhJLVJFU1A="})
    link.set_reply("GetCertificateStatus", {"status": "Accepted", "ocspResult": "T0NTUC1ERVI="})
    assert st.cmd("iso 1 evcert Install RVhJLVJFUQ==")["ok"]
    res = _result(st, None)
    assert res == {"status": "Accepted", "exiResponse": "RVhJLVJFU1A="}
    p = link.wait_for("Get15118EVCertificate")
    assert p == {"iso15118SchemaVersion": "urn:iso:15118:2:2013:MsgDef", "action": "Install",
                 "exiRequest": "RVhJLVJFUQ=="}
    ca = certs.make_ca(cn="V2G Root")
    sub = certs.make_ca(cn="V2G Sub", issuer=ca)
    nh, kh, ser = _ocsp_args(sub.cert, ca.cert)
    before = st.status()["iso_result"]
    assert st.cmd("iso 1 ocsp %s %s %s http://ocsp.example/v2g" % (nh, kh, ser))["ok"]
    res = _result(st, before)
    assert res["status"] == "Accepted" and res["ocspResult"] == "T0NTUC1ERVI="
    q = link.wait_for("GetCertificateStatus")["ocspRequestData"]
    assert q == {"hashAlgorithm": "SHA256", "issuerNameHash": nh, "issuerKeyHash": kh,
                 "serialNumber": ser, "responderURL": "http://ocsp.example/v2g"}
    # the CSMS refuses: Failed is passed on; an update
    link.set_reply("Get15118EVCertificate", {"status": "Failed", "exiResponse": ""})
    before = st.status()["iso_result"]
    assert st.cmd("iso 1 evcert Update RVhJ")["ok"]
    assert _result(st, before)["status"] == "Failed"
    # bad input never reaches the CSMS
    n = len([1 for a, _ in link.received if a == "Get15118EVCertificate"])
    before = st.status()["iso_result"]
    assert st.cmd("iso 1 evcert Delete RVhJ")["ok"]
    res = _result(st, before)
    assert res == {"status": "Failed", "reason": "bad request"}
    assert not st.cmd("iso 1 evcert Install")["ok"]              # the control channel says why
    assert len([1 for a, _ in link.received if a == "Get15118EVCertificate"]) == n


def test_offline_and_16_answer_failed(tmp_path):
    port = free_port()
    st = SimStation("ws://127.0.0.1:%d/ocpp" % port, "ISOOFF", "2.0.1", tmp_path)
    st16 = SimStation("ws://127.0.0.1:%d/ocpp" % port, "ISO16", "1.6", tmp_path / "b"
                      if (tmp_path / "b").mkdir() is None else tmp_path)
    try:
        st.start()
        st16.start()
        for s in (st, st16):                       # the firmware runs (it publishes)
            s.wait(lambda x: x["loop_beat"], what="the firmware's loop")
        assert st.cmd("iso 1 evcert Install RVhJ")["ok"]
        assert _result(st, None) == {"status": "Failed", "reason": "offline"}
        assert st16.cmd("iso 1 ocsp aa bb 01 http://x")["ok"]
        assert _result(st16, None) == {"status": "Failed", "reason": "no OCPP 2.0.1 adapter"}
    finally:
        st.stop()
        st16.stop()
