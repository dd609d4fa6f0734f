"""An OCPP charging profile (1.6 csChargingProfiles / 2.0.1 ChargingProfileType) <-> the
station's flat list (firmware.smart.schedule), with the checks a station makes before it
accepts one. Used by the handlers loaded per call and by remote starts."""
from micropython import const
from firmware.clock import parse_iso, iso
from firmware.smart import schedule as sc

_PURPOSES = const(("ChargePointMaxProfile", "TxDefaultProfile", "TxProfile"))   # 1.6 names
_PURPOSES201 = const(("ChargingStationMaxProfile", "TxDefaultProfile", "TxProfile"))
_KINDS = const(("Absolute", "Recurring", "Relative"))


class Refused(Exception):
    """A profile the station cannot hold: args[0] is the 2.0.1 reasonCode."""


def _time(d, key):
    v = d.get(key)
    if v is None:
        return None
    try:
        return parse_iso(v)
    except ValueError:
        raise Refused("InvalidValue")


def from_ocpp(cp, evse, v201, settings, now):
    """The flat profile of OCPP profile cp for EVSE `evse`, or raises Refused. now: Unix
    seconds (an Absolute schedule without startSchedule starts at installation)."""
    names = _PURPOSES201 if v201 else _PURPOSES
    purpose = cp.get("chargingProfilePurpose")
    if purpose not in names:
        raise Refused("UnsupportedPurpose")       # 2.0.1 ChargingStationExternalConstraints
    purpose = names.index(purpose)
    if purpose == sc.MAX and evse != 0:
        raise Refused("InvalidEvse")              # station maximum: EVSE 0 only
    if purpose == sc.TXPROF and evse == 0:
        raise Refused("InvalidEvse")
    kind = _KINDS.index(cp["chargingProfileKind"])
    level = cp["stackLevel"]
    if level < 0 or level > settings.get("ChargeProfileMaxStackLevel"):
        raise Refused("InvalidStackLevel")
    sched = cp["chargingSchedule"]
    if v201:
        if len(sched) != 1:                       # more than one: ISO 15118 only
            raise Refused("TooManySchedules")
        sched = sched[0]
    unit = sched["chargingRateUnit"]
    if unit not in settings.get("ChargingScheduleAllowedChargingRateUnit").split(","):
        raise Refused("UnsupportedRateUnit")
    recur = 0
    if kind == sc.RECURRING:
        rk = cp.get("recurrencyKind")
        if rk is None:
            raise Refused("MissingRecurrency")
        recur = sc.DAY if rk == "Daily" else sc.WEEK
    start = _time(sched, "startSchedule")
    if kind == sc.RECURRING and start is None:
        raise Refused("MissingStart")             # nothing to recur from
    if kind == sc.ABSOLUTE and start is None:
        start = now
    if kind == sc.RELATIVE:
        start = None                              # relative to the transaction's start
    periods = []
    prev = -1
    for per in sched["chargingSchedulePeriod"]:
        s, lim = per["startPeriod"], per["limit"]
        if s <= prev or lim < 0 or (prev < 0 and s != 0):
            raise Refused("InvalidSchedule")
        ph = per.get("numberPhases") or 0
        if ph < 0 or ph > 3:
            raise Refused("InvalidSchedule")
        periods += (s, int(lim * 10 + 0.5), ph)  # tenths: 0.1 A / 0.1 W kept
        prev = s
    if not periods or len(periods) > 3 * settings.get("ChargingScheduleMaxPeriods"):
        raise Refused("TooManyPeriods" if periods else "InvalidSchedule")
    dur = sched.get("duration")
    if dur is not None and dur < 0:
        raise Refused("InvalidSchedule")
    tx = None
    if purpose == sc.TXPROF:
        tx = cp.get("transactionId")
    return [cp["chargingProfileId"] if not v201 else cp["id"], evse, level, purpose, kind,
            recur, _time(cp, "validFrom"), _time(cp, "validTo"), tx, start, dur,
            sc.UNIT_W if unit == "W" else sc.UNIT_A, sched.get("minChargingRate"),
            sc.periods(periods)]


def to_ocpp201(p):
    """The 2.0.1 ChargingProfileType of a flat profile (ReportChargingProfiles)."""
    sched = {"id": 1, "chargingRateUnit": "W" if p[sc.UNIT] == sc.UNIT_W else "A",
             "chargingSchedulePeriod": [_period(p[sc.PERIODS], i)
                                        for i in range(0, len(p[sc.PERIODS]), 3)]}
    if p[sc.START] is not None:
        sched["startSchedule"] = iso(p[sc.START])
    if p[sc.DUR] is not None:
        sched["duration"] = p[sc.DUR]
    if p[sc.MINRATE] is not None:
        sched["minChargingRate"] = p[sc.MINRATE]
    cp = {"id": p[sc.ID], "stackLevel": p[sc.LEVEL],
          "chargingProfilePurpose": _PURPOSES201[p[sc.PURPOSE]],
          "chargingProfileKind": _KINDS[p[sc.KIND]], "chargingSchedule": [sched]}
    if p[sc.KIND] == sc.RECURRING:
        cp["recurrencyKind"] = "Daily" if p[sc.RECUR] == sc.DAY else "Weekly"
    if p[sc.VFROM] is not None:
        cp["validFrom"] = iso(p[sc.VFROM])
    if p[sc.VTO] is not None:
        cp["validTo"] = iso(p[sc.VTO])
    if p[sc.TX]:
        cp["transactionId"] = str(p[sc.TX])
    return cp


def _period(ps, i):
    lim = ps[i + 1]
    d = {"startPeriod": ps[i], "limit": lim // 10 if lim % 10 == 0 else lim / 10}
    if ps[i + 2]:
        d["numberPhases"] = ps[i + 2]
    return d


def purpose_index(name):
    """1.6 or 2.0.1 purpose name -> schedule constant, or None."""
    for names in (_PURPOSES, _PURPOSES201):
        if name in names:
            return names.index(name)
    return None
