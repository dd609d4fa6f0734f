"""OCPP 1.6 Smart Charging profile (1.6 3.13, 5.5 ClearChargingProfile, 5.7
GetCompositeSchedule, 5.16 SetChargingProfile) over firmware.smart, and the TxProfile a
RemoteStartTransaction may carry (5.11).

Loaded for a call and unloaded after it (firmware.memory.call): functions of the adapter
`a`, which reach the profiles through its public `smart`, `smart_tx`, `settings`, `clock`
and `station`."""
from firmware.clock import iso
from firmware.smart import schedule as sc
from firmware.smart.profile import from_ocpp, purpose_index, Refused


def _rejected():
    return {"status": "Rejected"}


async def on_SetChargingProfile(a, p):
    k = p["connectorId"]
    if not 0 <= k <= a.station.n:
        return _rejected()
    cp = p["csChargingProfiles"]
    try:
        prof = from_ocpp(cp, k, False, a.settings, a.clock.now())
    except (Refused, ValueError, KeyError):
        return _rejected()
    if prof[sc.PURPOSE] == sc.TXPROF:
        # 3.13.1: a TxProfile only with a transaction running on that connector
        t = a.smart_tx(k)
        if t is None or ("transactionId" in cp and cp["transactionId"] != t[0]):
            return _rejected()
        prof[sc.TX] = t[0]
    return {"status": "Accepted" if a.smart.install(prof) == "Accepted" else "Rejected"}


async def on_ClearChargingProfile(a, p):
    """5.5: by id (the other fields then do not count), else every profile matching all
    the criteria given; Unknown when none matched."""
    pid = p.get("id")
    purpose = p.get("chargingProfilePurpose")
    n = a.smart.clear(pid, p.get("connectorId") if pid is None else None,
                      None if purpose is None or pid is not None else purpose_index(purpose),
                      p.get("stackLevel") if pid is None else None)
    return {"status": "Accepted" if n else "Unknown"}


async def on_GetCompositeSchedule(a, p):
    k = p["connectorId"]
    if not 0 <= k <= a.station.n:
        return _rejected()
    dur = p["duration"]
    unit = p.get("chargingRateUnit") or "A"
    now, periods = a.smart.composite(k, dur, a.settings.get("ChargingScheduleMaxPeriods"))
    f = a.smart.volts * a.smart.phases if unit == "W" else 1
    t = iso(now)
    return {"status": "Accepted", "connectorId": k, "scheduleStart": t,
            "chargingSchedule": {"duration": dur, "startSchedule": t, "chargingRateUnit": unit,
                                 "chargingSchedulePeriod": [
                                     {"startPeriod": s, "limit": _round(lim * f)}
                                     for s, lim, _ in periods]}}


def _round(x):
    return int(x * 10 + 0.5) / 10


async def remote_profile(a, eid, cp):
    """5.11: the chargingProfile of a RemoteStartTransaction, for the transaction it
    starts: True when installed, False (the start Rejected) when it is no TxProfile or
    the station cannot hold it."""
    if cp.get("chargingProfilePurpose") != "TxProfile":
        return False
    try:
        prof = from_ocpp(cp, eid, False, a.settings, a.clock.now())
    except (Refused, ValueError, KeyError):
        return False
    prof[sc.TX] = ""                    # the transaction this start makes (firmware.smart)
    return a.smart.install(prof) == "Accepted"
