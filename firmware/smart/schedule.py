"""Charging profiles as the station keeps them, and the composite limit of an EVSE at a
time t (OCPP 1.6 3.13 / 2.0.1 K01, K08). Pure functions: no clock, no flash, no kernel.

A profile is a flat list (JSON on flash, version-neutral), indexed by the constants below:
  [id, evse, stack level, purpose, kind, recurrence (s: 0, 86400, 604800),
   validFrom, validTo (Unix s or None), transaction (id, "" = the next one, None),
   startSchedule (Unix s or None), duration (s or None), unit (A / W), minChargingRate,
   periods: array("i") of startPeriod s, limit in tenths (0.1 A / 0.1 W), numberPhases
   or 0, one triple per period, ascending (4 bytes a number, and reading one allocates
   nothing: a full table of 8 x 24 periods holds about 4 KB where lists of boxed numbers
   took 22 KB on the 64-bit port); the same list on flash]

Rules (1.6 3.13.2-3.13.4, 2.0.1 K01 / "Charging profile stacking"):
- per purpose, the profile with the highest stack level that is valid and has a period
  at t wins; a TxDefault on the EVSE itself wins over one on EVSE 0;
- a Tx profile (of the running transaction) replaces the TxDefault result;
- the EVSE's limit is the minimum of its share of the station maximum profile (the
  station's limit split evenly between the EVSEs in a session: `share`), the
  Tx/TxDefault result and the station's own maximum current (the kernel also derates
  for heat);
- minChargingRate (of the Tx / TxDefault schedule in force: the EV's least useful rate,
  1.6 7.13 / 2.0.1 ChargingScheduleType): a composite limit below it becomes 0, a pause
  (the kernel pauses below 6 A anyway);
- W -> A: limit / (phases x nominal voltage), phases from the period (default: the
  station's); Absolute and Recurring schedules and validity windows need wall time:
  without a set clock only Relative profiles without validFrom/validTo apply."""
from micropython import const
import array

ID = const(0)
EVSE = const(1)
LEVEL = const(2)
PURPOSE = const(3)
KIND = const(4)
RECUR = const(5)
VFROM = const(6)
VTO = const(7)
TX = const(8)
START = const(9)
DUR = const(10)
UNIT = const(11)
MINRATE = const(12)
PERIODS = const(13)

MAX = const(0)          # ChargePointMaxProfile / ChargingStationMaxProfile
TXDEFAULT = const(1)
TXPROF = const(2)
ABSOLUTE = const(0)
RECURRING = const(1)
RELATIVE = const(2)
UNIT_A = const(0)
UNIT_W = const(1)
DAY = const(86400)
WEEK = const(604800)

_NONE = const(10000)    # "no limit" in amps, above any offer


def instance_start(p, t, tx_start, wall):
    """The start of the schedule instance in force at t, or None (needs wall time and
    has none; a Recurring one without startSchedule)."""
    kind = p[KIND]
    if kind == RELATIVE:
        return t if tx_start is None else tx_start
    if not wall:
        return None
    s = p[START]
    if kind == RECURRING:
        if s is None:
            return None
        r = p[RECUR] or DAY
        return s + (t - s) // r * r      # floor: also right before the first start
    return s


def period_at(p, t, tx_start, wall):
    """(limit in the profile's unit, phases, instance start) of the period of p in force
    at t, or None when p has none then (outside validity, before the first period, past
    the duration, no wall time)."""
    if p[VFROM] is not None or p[VTO] is not None:
        if not wall:
            return None
        if p[VFROM] is not None and t < p[VFROM]:
            return None
        if p[VTO] is not None and t >= p[VTO]:
            return None
    s = instance_start(p, t, tx_start, wall)
    if s is None:
        return None
    d = t - s
    if d < 0 or (p[DUR] is not None and d >= p[DUR]):
        return None
    ps = p[PERIODS]
    best = -1
    for i in range(0, len(ps), 3):
        if ps[i] <= d:
            best = i
        else:
            break
    if best < 0:
        return None
    return ps[best + 1] / 10, ps[best + 2], s


def amps(limit, unit, phases, volts, station_phases):
    if unit == UNIT_W:
        return limit / ((phases or station_phases) * volts)
    return limit


def _winner(profiles, purpose, eid, t, tx_start, wall, tx):
    """(profile, period) of the highest stack level of `purpose` for EVSE eid at t: the
    EVSE's own first, then EVSE 0 (TxDefault, Max)."""
    best = bestper = None
    for p in profiles:
        if p[PURPOSE] != purpose or p[EVSE] != eid:
            continue
        if purpose == TXPROF and (tx is None or (p[TX] != "" and p[TX] != tx)):
            continue
        if best is not None and p[LEVEL] <= best[LEVEL]:
            continue
        per = period_at(p, t, tx_start, wall)
        if per is not None:
            best, bestper = p, per
    return best, bestper


def limit_at(profiles, eid, t, tx, tx_start, wall, max_a, volts=230, phases=3, share=1):
    """The composite limit of EVSE eid (1..n; 0: the station maximum alone) at t in A,
    and its source: a profile id, or -1 for the station's own maximum current.
    tx: the running transaction's id ("" while the CSMS has not named it), None: none.
    share: how many EVSEs split the station maximum (1..n; EVSE 0 takes it whole)."""
    lim, src = max_a, -1
    low = 0                             # the minChargingRate of the Tx / TxDefault winner, A
    for purpose in (MAX, TXPROF, TXDEFAULT):
        if eid == 0 and purpose != MAX:
            break
        p, per = _winner(profiles, purpose, eid, t, tx_start, wall, tx)
        if p is None and eid != 0 and purpose != TXPROF:
            p, per = _winner(profiles, purpose, 0, t, tx_start, wall, tx)
        if p is None:
            continue
        a = amps(per[0], p[UNIT], per[1], volts, phases)
        if purpose == MAX and eid != 0:
            a /= share
        elif p[MINRATE]:
            low = amps(p[MINRATE], p[UNIT], per[1], volts, phases)
        if a < lim:
            lim, src = a, p[ID]
        if purpose == TXPROF:
            break                       # a Tx profile replaces TxDefault
    if lim < low:
        lim = 0                         # less than the EV can take: pause, not a trickle
    return lim, src


def _edges(p, t0, t1, tx_start, wall, out, cap):
    """Times in (t0, t1) where p may change what it gives, appended to out (bounded)."""
    for v in (p[VFROM], p[VTO]):
        if v is not None and t0 < v < t1:
            out.append(v)
    s = instance_start(p, t0, tx_start, wall)
    if s is None:
        return
    r = p[RECUR] if p[KIND] == RECURRING else 0
    while s < t1 and len(out) < cap:
        ps = p[PERIODS]
        for i in range(0, len(ps), 3):
            x = s + ps[i]
            if t0 < x < t1:
                out.append(x)
        if p[DUR] is not None and t0 < s + p[DUR] < t1:
            out.append(s + p[DUR])
        if not r:
            break
        s += r
        if t0 < s < t1:
            out.append(s)


def composite(profiles, eid, t0, duration, tx, tx_start, wall, max_a, volts=230, phases=3,
              max_periods=24, share=1):
    """The composite schedule of EVSE eid from t0 for duration s: [[start offset, amps,
    source], ...], equal neighbours merged, at most max_periods (the rest cut off); the
    station maximum split as now (share)."""
    t1 = t0 + duration
    if tx_start is None:
        tx_start = t0                   # Relative without a transaction: from now
    edges = [t0]
    cap = max_periods * 8
    for p in profiles:
        if p[EVSE] == eid or p[EVSE] == 0:
            _edges(p, t0, t1, tx_start, wall, edges, cap)
    edges.sort()
    out = []
    last = None
    for x in edges:
        if x == last:
            continue
        last = x
        a, src = limit_at(profiles, eid, x, tx, tx_start, wall, max_a, volts, phases, share)
        if out and out[-1][1] == a:
            continue
        if len(out) >= max_periods:
            break
        out.append([x - t0, a, src])
    return out


def periods(flat):
    """A profile's periods as kept in RAM, from the flat (startPeriod, limit in tenths,
    numberPhases) triples stored on flash."""
    return array.array("i", flat)


def to_json(p):
    """A profile as stored on flash (periods as a list)."""
    return p[:PERIODS] + [list(p[PERIODS])]
