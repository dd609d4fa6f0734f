"""Smart charging end to end (issue 16): the dev CSMS (schema validation on) sets charging
profiles, and the offer on the pilot, measured by the simulated world from the PWM duty
(offered_a), follows them. One station per OCPP version serves the module's tests, each
of which clears the profiles it finds first.

Names: after the OCTT cases each test covers, checked against docs/octt/ (1.6: the
SmartCharging chapter, TC_056-TC_060, TC_066, TC_067, TC_072, TC_082; 2.0.1: block K, whose
ids there are unconfirmed, see that file's header). Time-based schedules drive the
station's clock through the CSMS (a Heartbeat answered with the chosen currentTime), never
wait for it."""
import calendar
import itertools
import time

import pytest

from tests.integration.conftest import accepted
from tools.csms import CsmsThread
from tools.harness.simctl import SimStation

VERSIONS = ("1.6", "2.0.1")
S = calendar.timegm((2030, 1, 7, 0, 0, 0))      # a Monday midnight (UTC), the tests' epoch
_ids = itertools.count(100)


def iso(t):
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t))


class Rig:
    def __init__(self, version, csms, st):
        self.v, self.csms, self.st = version, csms, st
        self.link = accepted(csms, st)

    # --- the CSMS side
    def set_profile(self, evse, purpose, periods, kind="Absolute", start=None, level=0, unit="A",
                    duration=None, pid=None, timeout=30, min_rate=None, **extra):
        """SetChargingProfile; -> (the answer, the profile id). An Absolute one without a
        start starts when the station installs it."""
        pid = pid or next(_ids)
        sched = {"chargingRateUnit": unit, "chargingSchedulePeriod": [
            dict(startPeriod=p[0], limit=p[1], **({"numberPhases": p[2]} if len(p) > 2 else {}))
            for p in periods]}
        if start is not None and kind != "Relative":
            sched["startSchedule"] = iso(start)
        if duration is not None:
            sched["duration"] = duration
        if min_rate is not None:
            sched["minChargingRate"] = min_rate
        cp = dict(stackLevel=level, chargingProfileKind=kind, **extra)
        if self.v == "1.6":
            cp.update(chargingProfileId=pid, chargingSchedule=sched, chargingProfilePurpose={
                "Max": "ChargePointMaxProfile"}.get(purpose, purpose))
            res = self.link.call("SetChargingProfile", {"connectorId": evse, "csChargingProfiles": cp},
                                 timeout=timeout)
        else:
            sched["id"] = 1
            cp.update(id=pid, chargingSchedule=[sched], chargingProfilePurpose={
                "Max": "ChargingStationMaxProfile"}.get(purpose, purpose))
            res = self.link.call("SetChargingProfile", {"evseId": evse, "chargingProfile": cp},
                                 timeout=timeout)
        return res, pid

    def ok(self, *a, **kw):
        res, pid = self.set_profile(*a, **kw)
        assert res["status"] == "Accepted", res
        return pid

    def clear(self, **kw):
        return self.link.call("ClearChargingProfile", kw)["status"]

    def clear_all(self):
        self.clear()

    def set_clock(self, t):
        """The station's clock to t: a Heartbeat it is made to send, answered with t."""
        self.link.set_reply("Heartbeat", {"currentTime": iso(t)})
        assert self.link.call("TriggerMessage", {"requestedMessage": "Heartbeat"})["status"] == "Accepted"

    def composite(self, evse, duration, after):
        """GetCompositeSchedule, asked again until the station's clock is past `after`
        (the Heartbeat that set it may still be on its way)."""
        deadline = time.monotonic() + 20
        while True:
            if self.v == "1.6":
                r = self.link.call("GetCompositeSchedule", {"connectorId": evse, "duration": duration})
                start, sched = r.get("scheduleStart"), r.get("chargingSchedule")
            else:
                r = self.link.call("GetCompositeSchedule", {"evseId": evse, "duration": duration})
                start, sched = r["schedule"]["scheduleStart"], r["schedule"]
            assert r["status"] == "Accepted", r
            t0 = calendar.timegm(time.strptime(start, "%Y-%m-%dT%H:%M:%SZ"))
            if t0 >= after or time.monotonic() > deadline:
                assert t0 >= after, (start, after)
                return t0, [(p["startPeriod"], p["limit"]) for p in sched["chargingSchedulePeriod"]]

    # --- the station side
    def offer(self, amps, what=None, src=None):
        """Wait until the world sees `amps` offered on EVSE 1 (and the limit's source)."""
        return self.st.wait(lambda s: abs(s["evses"][0]["offered_a"] - amps) < 0.5 and
                            (src is None or s["evses"][0].get("limit_src") == src),
                            what=what or "offer %s A (%s)" % (amps, src))

    def session(self):
        """A charging session on EVSE 1: plugged in, a card, the relay closed."""
        self.st.cmd("plug 1")
        self.st.cmd("tag 1 CARD1")
        self.st.wait(lambda s: s["evses"][0]["relay"] and s["evses"][0]["tx_id"] not in (None, "None"),
                     what="charging with a transaction")

    def end_session(self):
        self.st.cmd("unplug 1")
        self.st.wait(lambda s: s["evses"][0]["tx_id"] in (None, "None"), what="session over")


@pytest.fixture(scope="module", params=VERSIONS)
def rig(request, tmp_path_factory):
    v = request.param
    with CsmsThread(host="127.0.0.1", port=0, boot_interval=300) as csms:
        st = SimStation(csms.url + "ocpp", "SMART%s" % v.replace(".", ""), v,
                        tmp_path_factory.mktemp("smart"), evses=2, extra=("--auth", "ocpp"))
        st.start()
        try:
            r = Rig(v, csms, st)
            yield r
        finally:
            st.stop()
        for link in csms.links(st.ident):
            assert link.violations == [], link.violations


def _tid(r):
    return r.st.evse(1)["tx_id"]


def _authorize_remote(r, on):
    if r.v == "1.6":
        res = r.link.call("ChangeConfiguration", {"key": "AuthorizeRemoteTxRequests",
                                                  "value": "true" if on else "false"})["status"]
    else:
        res = r.link.call("SetVariables", {"setVariableData": [{
            "component": {"name": "AuthCtrlr"}, "variable": {"name": "AuthorizeRemoteStart"},
            "attributeValue": "true" if on else "false"}]})["setVariableResult"][0]["attributeStatus"]
    assert res == "Accepted"


def test_TC_059_TC_060_TC_K_37_remote_start_with_tx_profile(rig):
    """1.6 TC_059 / 2.0.1 TC_K_37 (K05, F01): the TxProfile a remote start carries limits
    the transaction it starts, and goes with it; TC_060: a profile that is no TxProfile
    refuses the start."""
    r = rig
    r.clear_all()
    prof = {"stackLevel": 0, "chargingProfilePurpose": "TxProfile", "chargingProfileKind": "Relative"}
    sched = {"chargingRateUnit": "A", "chargingSchedulePeriod": [{"startPeriod": 0, "limit": 12}]}
    bad = dict(prof, chargingProfilePurpose="TxDefaultProfile")
    if r.v == "1.6":
        prof.update(chargingProfileId=7, chargingSchedule=sched)
        bad.update(chargingProfileId=8, chargingSchedule=sched)
        start = lambda cp: r.link.call("RemoteStartTransaction",
                                       {"connectorId": 1, "idTag": "REMOTE1", "chargingProfile": cp})
    else:
        prof.update(id=7, chargingSchedule=[dict(sched, id=1)])
        bad.update(id=8, chargingSchedule=[dict(sched, id=1)])
        start = lambda cp: r.link.call("RequestStartTransaction", {
            "evseId": 1, "remoteStartId": 5, "idToken": {"idToken": "REMOTE1", "type": "Central"},
            "chargingProfile": cp})
    _authorize_remote(r, True)             # an Authorize round trip before the EVSE is ready
    assert start(bad)["status"] == "Rejected"
    assert start(prof)["status"] == "Accepted"
    r.st.cmd("plug 1")
    r.st.wait(lambda s: s["evses"][0]["relay"], what="charging after the remote start")
    r.offer(12, src="profile 7")
    r.end_session()
    _authorize_remote(r, False)
    r.st.wait(lambda s: s["evses"][0]["limit_src"] == "station max", what="TxProfile gone with its tx")
    if r.v == "2.0.1":
        assert r.link.call("GetChargingProfiles", {"requestId": 1, "chargingProfile": {}})["status"] \
            == "NoProfiles"


def test_TC_082_TC_072_TC_K_01_03_04_05_09_10_28_tx_default_and_station_max(rig):
    """During a transaction (TC_082, TC_K_28) a TxDefault on EVSE 0 (TC_K_10) sets the
    offer; a station maximum (TC_K_03) below it wins, above it not (the minimum of the
    two, TC_072); the same id replaces a profile (TC_K_04); a higher stack level on the
    EVSE itself (TC_K_01) replaces a lower one; watts on three phases at 230 V become amps;
    below 6 A the EVSE pauses (SuspendedEVSE) and resumes when that profile is cleared by
    id (TC_K_05); clearing the TxDefault leaves the transaction at the station maximum
    profile (TC_K_09); the station maximum is split between the EVSEs charging."""
    r = rig
    r.clear_all()
    r.session()
    r.offer(32, src="station max")
    d = r.ok(0, "TxDefaultProfile", [(0, 10)])
    r.offer(10, src="profile %d" % d)
    m = r.ok(0, "Max", [(0, 8)])
    r.offer(8, src="profile %d" % m)
    r.ok(0, "Max", [(0, 20)], pid=m)                     # the same id replaces it
    r.offer(10, src="profile %d" % d)
    hi = r.ok(1, "TxDefaultProfile", [(0, 9660, 3)], level=1, unit="W")   # 9660 / (3 x 230) = 14 A
    r.offer(14, src="profile %d" % hi)
    low = r.ok(1, "TxDefaultProfile", [(0, 4)], level=2)
    r.offer(0, what="paused below 6 A")
    r.st.wait(lambda s: s["evses"][0]["state"] == "ChargingPausedEVSE" and not s["evses"][0]["relay"] and
              (r.v != "1.6" or s["evses"][0]["ocpp_status"] == "SuspendedEVSE"), what="SuspendedEVSE")
    assert r.clear(**({"id": low} if r.v == "1.6" else {"chargingProfileId": low})) == "Accepted"
    r.offer(14, src="profile %d" % hi)
    r.st.wait(lambda s: s["evses"][0]["state"] == "Charging" and s["evses"][0]["relay"],
              what="charging again")
    # clear by criteria: the TxDefaults of stack level 1 on EVSE 1
    crit = {"connectorId": 1, "chargingProfilePurpose": "TxDefaultProfile", "stackLevel": 1}
    if r.v == "2.0.1":
        crit = {"chargingProfileCriteria": {"evseId": 1, "chargingProfilePurpose": "TxDefaultProfile",
                                            "stackLevel": 1}}
    assert r.clear(**crit) == "Accepted"
    assert r.clear(**crit) == "Unknown"
    r.offer(10, src="profile %d" % d)
    assert r.clear(**({"id": d} if r.v == "1.6" else {"chargingProfileId": d})) == "Accepted"
    r.offer(20, src="profile %d" % m)                       # TC_K_09: the transaction goes on
    assert r.st.evse(1)["relay"]
    r.clear_all()
    # the station maximum is the station's: split between the EVSEs in a session
    m = r.ok(0, "Max", [(0, 24)])
    r.offer(24, src="profile %d" % m)
    r.st.cmd("plug 2")
    r.st.cmd("tag 2 CARD2")
    r.st.wait(lambda s: all(abs(e["offered_a"] - 12) < 0.5 and e["relay"] for e in s["evses"]),
              what="12 A each on two EVSEs")
    r.st.cmd("unplug 2")
    r.offer(24, src="profile %d" % m)
    r.clear_all()
    r.end_session()


def test_TC_057_TC_058_1_TC_058_2_TC_K_02_16_60_refused_profiles_and_tx_profile(rig):
    """What the station cannot hold is Rejected, never dropped: a stack level above
    ChargeProfileMaxStackLevel, more periods than ChargingScheduleMaxPeriods, a station
    maximum on an EVSE, a TxProfile without a transaction (TC_058_1, TC_K_02) or with
    another one (TC_058_2, TC_K_16: TxNotFound); a TxProfile of the transaction running on
    that EVSE (TC_057, TC_K_60) replaces the TxDefault result."""
    r = rig
    r.clear_all()
    assert r.set_profile(0, "TxDefaultProfile", [(0, 10)], level=9)[0]["status"] == "Rejected"
    assert r.set_profile(0, "TxDefaultProfile", [(i * 60, 10) for i in range(25)])[0]["status"] == "Rejected"
    assert r.set_profile(1, "Max", [(0, 10)])[0]["status"] == "Rejected"
    res = r.set_profile(1, "TxProfile", [(0, 10)], transactionId=1 if r.v == "1.6" else "x")[0]
    assert res["status"] == "Rejected"
    if r.v == "2.0.1":
        assert res["statusInfo"]["reasonCode"] == "TxNotFound"
    if r.v == "2.0.1":
        res = r.set_profile(0, "ChargingStationExternalConstraints", [(0, 10)])[0]
        assert res["status"] == "Rejected" and res["statusInfo"]["reasonCode"] == "UnsupportedPurpose"
    # the table's bound (MaxChargingProfilesInstalled = 8): the 9th is refused, kept none
    full = [r.ok(0, "TxDefaultProfile", [(0, 20 - k)], level=k) for k in range(8)]
    res = r.set_profile(0, "TxDefaultProfile", [(0, 6)], level=8)[0]
    assert res["status"] == "Rejected"
    if r.v == "2.0.1":
        assert res["statusInfo"]["reasonCode"] == "TooManyProfiles"
    assert r.set_profile(0, "TxDefaultProfile", [(0, 6)], level=7, pid=full[-1])[0]["status"] \
        == "Accepted"                                        # replacing one still fits
    r.clear_all()
    r.session()
    d = r.ok(0, "TxDefaultProfile", [(0, 10)])
    r.offer(10, src="profile %d" % d)
    other = 999999 if r.v == "1.6" else "no-such-tx"
    res = r.set_profile(1, "TxProfile", [(0, 7)], transactionId=other)[0]
    assert res["status"] == "Rejected"
    if r.v == "2.0.1":
        assert res["statusInfo"]["reasonCode"] == "TxNotFound"
    # 1.6: transactionId may be left out (the running one); 2.0.1 names it (K01)
    t = r.ok(1, "TxProfile", [(0, 16)], **({} if r.v == "1.6" else {"transactionId": _tid(r)}))
    r.offer(16, src="profile %d" % t)
    r.end_session()
    r.offer(0, src="profile %d" % d)                         # the TxProfile went with its tx


def test_TC_056_TC_K_19_recurring_and_relative_across_a_boundary(rig):
    """TC_K_19: a Daily profile changes the offer at its period boundary by the station's clock,
    on any day; TC_056: a TxDefault set before the transaction, Relative, counts from the
transaction's start."""
    r = rig
    r.clear_all()
    r.session()
    rec = r.ok(0, "TxDefaultProfile", [(0, 8), (3600, 12)], kind="Recurring", recurrencyKind="Daily",
               start=S + 8 * 3600, duration=7200)
    r.set_clock(S + 3 * 86400 + 8 * 3600 + 1800)             # Thursday 08:30
    r.offer(8, src="profile %d" % rec)
    r.set_clock(S + 3 * 86400 + 9 * 3600 + 10)               # 09:00:10
    r.offer(12, src="profile %d" % rec)
    r.set_clock(S + 3 * 86400 + 10 * 3600 + 10)              # past the duration
    r.offer(32, src="station max")
    r.end_session()
    r.clear_all()
    rel = r.ok(0, "TxDefaultProfile", [(0, 9), (3600, 15)], kind="Relative", start=None)
    n = r.st.log_count("starts its schedules")
    r.session()                                              # the transaction starts now
    r.st.wait_log("starts its schedules", count=n + 1)      # ... by the station's clock
    r.offer(9, src="profile %d" % rel)
    r.set_clock(S + 20 * 86400)                              # much later than an hour on
    r.offer(15, src="profile %d" % rel)
    r.end_session()
    r.clear_all()


def test_TC_066_TC_K_40_41_composite_schedule_of_stacked_profiles(rig):
    """GetCompositeSchedule (TC_066) against a hand-computed schedule, stack levels
    (TC_K_40) and purposes (TC_K_41) combined: a station maximum of 20 A;
    TxDefault (EVSE 0) 10 A, 25 A after 600 s, 12 A after 1200 s, for 1800 s; a stack
    level 1 TxDefault on EVSE 1 of 8 A valid from 300 to 400 s. EVSE 0 shows the station
    maximum alone."""
    r = rig
    r.clear_all()
    t0 = S + 40 * 86400
    mx = r.ok(0, "Max", [(0, 20)], start=t0)
    r.ok(0, "TxDefaultProfile", [(0, 10), (600, 25), (1200, 12)], start=t0, duration=1800)
    r.ok(1, "TxDefaultProfile", [(0, 8)], start=t0, level=1, validFrom=iso(t0 + 300),
         validTo=iso(t0 + 400))
    r.set_clock(t0)
    at, got = r.composite(1, 2400, after=t0)
    want = [(0, 10), (300, 8), (400, 10), (600, 20), (1200, 12), (1800, 20)]
    exp = []
    for s, a in want:                       # the same, seen from the answer's start
        if t0 + s <= at:
            exp = [(0, a)]
        elif t0 + s < at + 2400:
            exp.append((t0 + s - at, a))
    assert [(s, float(a)) for s, a in got] == [(s, float(a)) for s, a in exp]
    at0, got0 = r.composite(0, 600, after=t0)
    assert got0 == [(0, 20)]
    if r.v == "2.0.1":
        assert r.link.call("GetChargingProfiles", {"requestId": 11, "chargingProfile": {
            "chargingProfilePurpose": "ChargingStationMaxProfile"}})["status"] == "Accepted"
        rep = r.link.wait_for("ReportChargingProfiles", lambda p: p["requestId"] == 11)
        assert rep["evseId"] == 0 and rep["chargingLimitSource"] == "CSO" and not rep["tbc"]
        assert [p["id"] for p in rep["chargingProfile"]] == [mx]
        assert rep["chargingProfile"][0]["chargingSchedule"][0]["chargingSchedulePeriod"] == \
            [{"startPeriod": 0, "limit": 20}]
    r.clear_all()


def test_TC_067_TC_K_13_profiles_survive_a_restart_and_clear(rig):
    """Profiles are on flash: after a Reset the station applies them again (TC_K_13), and a
    ClearChargingProfile of everything leaves none (TC_067). The 1.6 configuration keys
    and SupportedFeatureProfiles name smart charging; 2.0.1 SmartChargingCtrlr.Entries
    counts the profiles installed."""
    r = rig
    r.clear_all()
    d = r.ok(0, "TxDefaultProfile", [(0, 11)], kind="Relative")     # needs no wall time
    old = r.link
    if r.v == "1.6":
        assert r.link.call("Reset", {"type": "Hard"})["status"] == "Accepted"
    else:
        assert r.link.call("Reset", {"type": "Immediate"})["status"] == "Accepted"
    r.link = r.csms.station(r.st.ident, newer_than=old, timeout=30)
    r.link.wait_for("StatusNotification", timeout=30)
    r.session()
    r.offer(11, src="profile %d" % d)
    if r.v == "1.6":
        keys = {k["key"]: k["value"] for k in r.link.call("GetConfiguration", {"key": [
            "ChargeProfileMaxStackLevel", "ChargingScheduleAllowedChargingRateUnit",
            "ChargingScheduleMaxPeriods", "MaxChargingProfilesInstalled",
            "SupportedFeatureProfiles"]})["configurationKey"]}
        assert keys["ChargingScheduleAllowedChargingRateUnit"] == "Current,Power"
        assert keys["ChargeProfileMaxStackLevel"] == "8" and keys["ChargingScheduleMaxPeriods"] == "24"
        assert "SmartCharging" in keys["SupportedFeatureProfiles"].split(",")
    else:
        res = r.link.call("GetVariables", {"getVariableData": [
            {"component": {"name": "SmartChargingCtrlr"}, "variable": {"name": n}}
            for n in ("Enabled", "ProfileStackLevel", "RateUnit", "PeriodsPerSchedule")] + [
            {"component": {"name": "SmartChargingCtrlr"},
             "variable": {"name": "Entries", "instance": "ChargingProfiles"}}]})
        assert [x["attributeValue"] for x in res["getVariableResult"]] == ["true", "8", "A,W", "24", "1"]
    assert r.clear() == "Accepted"
    r.offer(32, src="station max")
    r.end_session()


def test_TC_K_08_11_14_39_47_unknowns_and_empty(rig):
    """Requests about nothing: a clear with no profile installed is Unknown (TC_K_08); a
    TxProfile on EVSE 0 (all EVSEs at once, TC_K_11) and any profile on an EVSE the
    station lacks (TC_K_14) are Rejected; the composite schedule with no profile is the
    station's own maximum (TC_K_39), and of an EVSE it lacks Rejected (TC_K_47)."""
    r = rig
    r.clear_all()
    assert r.clear() == "Unknown"
    res = r.set_profile(0, "TxProfile", [(0, 10)], transactionId=1 if r.v == "1.6" else "x")[0]
    assert res["status"] == "Rejected"
    res = r.set_profile(3, "TxDefaultProfile", [(0, 10)])[0]
    assert res["status"] == "Rejected"
    if r.v == "2.0.1":
        assert res["statusInfo"]["reasonCode"] == "UnknownEvse"
    _, got = r.composite(1, 600, after=0)
    assert got == [(0, 32)]
    if r.v == "1.6":
        assert r.link.call("GetCompositeSchedule", {"connectorId": 3, "duration": 600})["status"] == "Rejected"
    else:
        assert r.link.call("GetCompositeSchedule", {"evseId": 3, "duration": 600})["status"] == "Rejected"
    assert r.clear() == "Unknown"                           # nothing was installed


def test_TC_K_06_07_24_clear_by_stack_level_and_purpose(rig):
    """ClearChargingProfile by purpose and stack level, no EVSE named: every profile
    matching both goes, on EVSE 0 and on an EVSE alike (TC_K_06, TC_K_24), the others stay;
    a combination nothing matches is Unknown (TC_K_07)."""
    r = rig
    r.clear_all()
    a = r.ok(0, "TxDefaultProfile", [(0, 10)], level=1)
    b = r.ok(1, "TxDefaultProfile", [(0, 11)], level=1)
    keep = [r.ok(0, "TxDefaultProfile", [(0, 12)], level=2), r.ok(0, "Max", [(0, 20)], level=1)]
    if r.v == "1.6":
        crit = lambda purpose, level: r.clear(chargingProfilePurpose=purpose, stackLevel=level)
        by_id = lambda pid: r.clear(id=pid)
    else:
        crit = lambda purpose, level: r.clear(chargingProfileCriteria={
            "chargingProfilePurpose": purpose, "stackLevel": level})
        by_id = lambda pid: r.clear(chargingProfileId=pid)
    assert crit("TxDefaultProfile", 5) == "Unknown"
    assert crit("TxDefaultProfile", 1) == "Accepted"
    assert crit("TxDefaultProfile", 1) == "Unknown"
    assert [by_id(pid) for pid in (a, b) + tuple(keep)] == ["Unknown", "Unknown", "Accepted", "Accepted"]


def test_TC_K_21_22_23_valid_from_valid_to_and_start_schedule(rig):
    """By the station's clock: an Absolute profile does nothing before its startSchedule
    (TC_K_23); one with validFrom / validTo applies only inside that window (TC_K_21,
    TC_K_22), over the lower stack level outside it; a limit below the schedule's
    minChargingRate pauses."""
    r = rig
    r.clear_all()
    t0 = S + 60 * 86400
    r.set_clock(t0)
    r.composite(1, 60, after=t0)                            # the clock is set
    r.session()
    late = r.ok(1, "TxDefaultProfile", [(0, 10)], start=t0 + 3600)
    win = r.ok(1, "TxDefaultProfile", [(0, 8)], start=t0, level=1,
               validFrom=iso(t0 + 7200), validTo=iso(t0 + 10800))
    r.offer(32, src="station max")                          # neither in force yet
    r.set_clock(t0 + 3600 + 60)
    r.offer(10, src="profile %d" % late)
    r.set_clock(t0 + 7200 + 60)
    r.offer(8, src="profile %d" % win)
    r.set_clock(t0 + 10800 + 60)                            # validTo passed
    r.offer(10, src="profile %d" % late)
    # a limit below the schedule's minChargingRate is 0: a pause, not a trickle
    low = r.ok(1, "TxDefaultProfile", [(0, 9)], start=t0, level=2, min_rate=10.0)
    r.offer(0, src="profile %d" % low)
    r.clear(**({"id": low} if r.v == "1.6" else {"chargingProfileId": low}))
    r.offer(10, src="profile %d" % late)
    r.end_session()
    r.clear_all()


def test_TC_K_29_30_31_32_33_34_35_36_get_charging_profiles(rig):
    """GetChargingProfiles (2.0.1 K09) by EVSE 0 (TC_K_29), EVSE > 0 (TC_K_30), no EVSE
    (TC_K_31: one report per EVSE, tbc on all but the last), id (TC_K_32), EVSE > 0 with
    stack level (TC_K_33), limit source (TC_K_34: CSO, the source of every profile here),
    purpose (TC_K_35), purpose and stack level (TC_K_36); NoProfiles when nothing matches."""
    r = rig
    if r.v != "2.0.1":
        pytest.skip("2.0.1 only")
    r.clear_all()
    mx = r.ok(0, "Max", [(0, 20)])
    d0 = r.ok(0, "TxDefaultProfile", [(0, 10)], level=1)
    d1 = r.ok(1, "TxDefaultProfile", [(0, 11)])
    d2 = r.ok(1, "TxDefaultProfile", [(0, 12)], level=2)
    req = itertools.count(200)

    def get(**crit):
        """-> [(evseId, tbc, [profile ids])] of the reports, or "NoProfiles"."""
        evse = crit.pop("evseId", None)
        n = next(req)
        p = {"requestId": n, "chargingProfile": crit}
        if evse is not None:
            p["evseId"] = evse
        st = r.link.call("GetChargingProfiles", p)["status"]
        if st != "Accepted":
            return st
        r.link.wait_for("ReportChargingProfiles", lambda x: x["requestId"] == n and not x["tbc"])
        return [(x["evseId"], x["tbc"], sorted(c["id"] for c in x["chargingProfile"]))
                for a, x in r.link.received if a == "ReportChargingProfiles" and x["requestId"] == n]

    assert get(evseId=0) == [(0, False, sorted([mx, d0]))]
    assert get(evseId=1) == [(1, False, [d1, d2])]
    assert get() == [(0, True, sorted([mx, d0])), (1, False, [d1, d2])]
    assert get(chargingProfileId=[d1]) == [(1, False, [d1])]
    assert get(evseId=1, stackLevel=2) == [(1, False, [d2])]
    assert get(evseId=1, chargingLimitSource=["CSO"]) == [(1, False, [d1, d2])]
    assert get(evseId=1, chargingLimitSource=["EMS"]) == "NoProfiles"
    assert get(evseId=1, chargingProfilePurpose="TxDefaultProfile") == [(1, False, [d1, d2])]
    assert get(evseId=1, chargingProfilePurpose="TxProfile") == "NoProfiles"
    assert get(evseId=1, chargingProfilePurpose="TxDefaultProfile", stackLevel=0) == [(1, False, [d1])]
    assert get(evseId=2) == "NoProfiles"
    r.clear_all()


@pytest.mark.slow
def test_K01_profile_table_survives_power_cuts(rig):
    """The table on flash is written atomically: a power cut at the 1st or the 3rd flash
    program/erase of a SetChargingProfile (its table write takes more) leaves the old table
    or the new one, and the station applies it after the reboot (never nothing, never a
    damaged table). The cut answers nothing: the CSMS gives up on the call after 3 s."""
    r = rig
    r.clear_all()
    a = r.ok(0, "TxDefaultProfile", [(0, 11)], kind="Relative")
    for n in (1, 3):
        pc0 = r.st.status()["power_cuts"]
        old = r.link
        r.st.cmd("cut %d" % n)
        b = 500 + n
        try:
            r.set_profile(0, "TxDefaultProfile", [(0, 13)], kind="Relative", level=1, pid=b,
                          timeout=3)
        except (ConnectionError, TimeoutError):
            pass                                             # cut before the answer left
        r.st.wait(lambda s: s["power_cuts"] > pc0, timeout=30, what="the cut")
        r.link = r.csms.station(r.st.ident, newer_than=old, timeout=30)
        r.link.wait_for("StatusNotification", timeout=30)
        s = r.st.wait(lambda s: s["evses"][0]["limit_src"] in ("profile %d" % a, "profile %d" % b),
                      what="a profile applied after the cut")
        assert s["evses"][0]["limit_a"] == (11 if s["evses"][0]["limit_src"] == "profile %d" % a else 13)
        assert r.st.log_count("profile table damaged") == 0
        r.clear(**({"id": b} if r.v == "1.6" else {"chargingProfileId": b}))
    r.st.cmd("cut 0")
    r.clear_all()
