"""OCPP 2.0.1 functional block K for an AC station: SetChargingProfile (K01),
ClearChargingProfile (K10), GetChargingProfiles with ReportChargingProfiles (K09),
GetCompositeSchedule (K08), and the chargingProfile of RequestStartTransaction (K05),
over firmware.smart.

Loaded for a call and unloaded after it (firmware.memory.call): functions of the adapter
`a`, which reach the profiles through its public `smart`, `smart_tx`, `settings`, `clock`,
`station` and `send`."""
from micropython import const
import asyncio
from firmware.clock import iso
from firmware.smart import schedule as sc
from firmware.smart.profile import from_ocpp, to_ocpp201, purpose_index, Refused

_REPORT_DELAY_MS = const(50)    # ReportChargingProfiles after the answer has left


def _rejected(reason, status="Rejected"):
    return {"status": status, "statusInfo": {"reasonCode": reason}}


async def on_SetChargingProfile(a, p):
    k = p["evseId"]
    if not 0 <= k <= a.station.n:
        return _rejected("UnknownEvse")
    cp = p["chargingProfile"]
    try:
        prof = from_ocpp(cp, k, True, a.settings, a.clock.now())
    except Refused as e:
        return _rejected(e.args[0])
    except (ValueError, KeyError):
        return _rejected("InvalidValue")
    if prof[sc.PURPOSE] == sc.TXPROF:
        # K01: a TxProfile names the transaction running on that EVSE
        t = a.smart_tx(k)
        if t is None or cp.get("transactionId") != t[0]:
            return _rejected("TxNotFound")
    st = a.smart.install(prof, replace_same_level=False)
    return {"status": "Accepted"} if st == "Accepted" else _rejected(st)


async def on_ClearChargingProfile(a, p):
    pid = p.get("chargingProfileId")
    c = p.get("chargingProfileCriteria") or {}
    if pid is not None:
        n = a.smart.clear(pid)
    else:
        purpose = c.get("chargingProfilePurpose")
        n = a.smart.clear(None, c.get("evseId"),
                          None if purpose is None else purpose_index(purpose), c.get("stackLevel"))
    return {"status": "Accepted" if n else "Unknown"}


async def on_GetChargingProfiles(a, p):
    """K09: NoProfiles, or Accepted and then one ReportChargingProfiles per EVSE with
    matching profiles (every profile here is set by the CSMS: chargingLimitSource CSO)."""
    c = p["chargingProfile"]
    src = c.get("chargingLimitSource")
    purpose = c.get("chargingProfilePurpose")
    found = []
    if not src or "CSO" in src:
        found = a.smart.find(p.get("evseId"),
                             None if purpose is None else purpose_index(purpose),
                             c.get("stackLevel"), c.get("chargingProfileId"))
    if not found:
        return {"status": "NoProfiles"}
    asyncio.create_task(_report(a, p["requestId"], found))
    return {"status": "Accepted"}


async def _report(a, req, found):
    await asyncio.sleep_ms(_REPORT_DELAY_MS)
    evses = sorted(set(q[sc.EVSE] for q in found))
    for i, k in enumerate(evses):
        await a.send("ReportChargingProfiles", {
            "requestId": req, "chargingLimitSource": "CSO", "evseId": k,
            "tbc": i < len(evses) - 1,
            "chargingProfile": [to_ocpp201(q) for q in found if q[sc.EVSE] == k]})


async def on_GetCompositeSchedule(a, p):
    k = p["evseId"]
    if not 0 <= k <= a.station.n:
        return _rejected("UnknownEvse")
    dur = p["duration"]
    unit = p.get("chargingRateUnit") or "A"
    now, periods = a.smart.composite(k, dur, a.settings.get("ChargingScheduleMaxPeriods"))
    f = a.smart.volts * a.smart.phases if unit == "W" else 1
    return {"status": "Accepted", "schedule": {
        "evseId": k, "duration": dur, "scheduleStart": iso(now), "chargingRateUnit": unit,
        "chargingSchedulePeriod": [{"startPeriod": s, "limit": int(lim * f * 10 + 0.5) / 10}
                                   for s, lim, _ in periods]}}


async def remote_profile(a, eid, cp):
    """K05 / F01: the chargingProfile of a RequestStartTransaction, a TxProfile
    for the transaction this start makes (none named yet): True when installed."""
    if cp.get("chargingProfilePurpose") != "TxProfile" or cp.get("transactionId"):
        return False
    try:
        prof = from_ocpp(cp, eid, True, a.settings, a.clock.now())
    except (Refused, ValueError, KeyError):
        return False
    prof[sc.TX] = ""
    return a.smart.install(prof, replace_same_level=False) == "Accepted"
