"""tools/fleet: a 20-station mixed fleet (OCPP 1.6 and 2.0.1, one and two EVSEs, security
profiles 0 and 1) against the dev CSMS through the tap, two minutes of seeded sessions
with remote starts, RCD and meter faults and a CSMS outage (tools/fleet/scenarios/
mixed20.json). Outcomes only: every station registered, every session's transaction
delivered, no schema violation either way, the report and its plot written.

Security profiles 2 and 3 in a fleet (tools/fleet/scenarios/tls4.json): the tap ends TLS
with the run's CA, verifies each profile 3 station's client certificate, and keeps
counting; and it refuses what does not fit a station's profile."""
import asyncio
import json
import os
import ssl

import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus

from tools.fleet import report
from tools.fleet.pki import FleetPki
from tools.fleet.run import Fleet
from tools.fleet.scenario import load
from tools.fleet.tap import TapThread

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


@pytest.mark.slow
@pytest.mark.xdist_group("fleet")
def test_fleet_20_mixed_stations_two_minutes(tmp_path):
    sc = load(os.path.join(ROOT, "tools", "fleet", "scenarios", "mixed20.json"))
    rep = Fleet(sc, str(tmp_path)).run(drain_s=300)
    js, sv = str(tmp_path / "fleet-report.json"), str(tmp_path / "fleet-report.svg")
    report.write(rep, js, sv)
    print("fleet report: %s" % json.dumps({k: rep[k] for k in ("registered", "transactions",
          "reconnects", "response_ms", "resources")}))
    assert rep["stations"] == 20
    assert rep["registered"] == 20, rep["per_station"]
    assert all(p["error"] is None for p in rep["per_station"]), rep["per_station"]
    s = rep["sessions"]
    assert s["count"] > 0 and s["remote"] > 0
    assert s["ended"] == s["count"], [x for x in s["list"] if not x["ended"]]
    assert s["with_transaction"] == s["count"], [x for x in s["list"] if not x["tx"]]
    tx = rep["transactions"]
    assert tx["started"] >= s["count"] and tx["open"] == [] and tx["delivered"] == tx["started"]
    assert all(p["tx_queue"] == 0 for p in rep["per_station"]), rep["per_station"]
    assert rep["schema_violations"] == 0, rep["violations"]
    assert rep["reconnects"] >= 20                    # the outage dropped every link
    with open(js) as f:
        assert json.load(f)["transactions"] == tx
    with open(sv) as f:
        assert f.read().startswith("<svg")


@pytest.mark.slow
@pytest.mark.xdist_group("fleet")
def test_fleet_security_profiles_2_and_3(tmp_path):
    """Four stations, 1.6 and 2.0.1, profiles 2 and 3, each provisioned with the run's CA
    (and for profile 3 a certificate of its own): all registered over TLS, the profile 3
    ones with a verified client certificate, every session delivered, no violation."""
    sc = load(os.path.join(ROOT, "tools", "fleet", "scenarios", "tls4.json"))
    rep = Fleet(sc, str(tmp_path)).run(drain_s=120)
    assert rep["registered"] == 4, rep["per_station"]
    assert all(p["error"] is None for p in rep["per_station"]), rep["per_station"]
    links = {p["id"]: p["links"] for p in rep["per_station"]}
    p3 = sum(links[p["id"]] for p in rep["per_station"] if p["profile"] == 3)
    assert rep["tls"]["links"] == sum(links.values()) and rep["tls"]["denied"] == {}
    assert rep["tls"]["client_certificates"] == p3 >= 2
    s, tx = rep["sessions"], rep["transactions"]
    assert s["count"] > 0 and s["ended"] == s["with_transaction"] == s["count"], s["list"]
    assert tx["open"] == [] and tx["delivered"] == tx["started"] >= s["count"]
    assert rep["schema_violations"] == 0, rep["violations"]


def test_fleet_tap_refuses_links_that_do_not_fit_the_profile(tmp_path):
    """The tap's own checks, with a CPython client: a profile 2 station over plain ws://,
    a profile 3 station without a client certificate or with another station's, are each
    answered 403 before the CSMS is dialled; the right certificate gets through to it."""
    pki = FleetPki(tmp_path)
    versions = {"P2": "2.0.1", "P3": "2.0.1", "OTHER": "2.0.1"}
    tap = TapThread("ws://127.0.0.1:9/ocpp/", versions, server_ssl=pki.server_context(),
                    profiles={"P2": 2, "P3": 3, "OTHER": 3})

    def ctx(ident=None):
        c = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        c.load_verify_locations(pki.ca_path)
        if ident:
            c.load_cert_chain(*pki.client(ident))
        return c

    async def status(url, ident, ssl_ctx=None):
        try:
            async with connect(url + ident, ssl=ssl_ctx, subprotocols=["ocpp2.0.1"],
                               open_timeout=30):
                return 101
        except InvalidStatus as e:
            return e.response.status_code

    try:
        assert asyncio.run(status(tap.url, "P2")) == 403
        assert asyncio.run(status(tap.tls_url, "P3", ctx())) == 403
        assert asyncio.run(status(tap.tls_url, "P3", ctx("OTHER"))) == 403
        assert asyncio.run(status(tap.tls_url, "P3", ctx("P3"))) == 502   # past the tap: no CSMS
        assert tap.stats.denied == {"profile 2 needs TLS": 1,
                                    "profile 3 without a client certificate": 1,
                                    "client certificate of another station": 1}
    finally:
        tap.stop()
