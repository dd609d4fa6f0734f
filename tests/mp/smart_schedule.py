"""firmware.smart.schedule on hand-made profiles: stacking, purposes, Absolute /
Recurring / Relative, validity, W -> A, no wall time, and composite schedules; reports
the limits and sources tests/unit/test_smart.py compares with hand-computed values."""
from firmware.smart import schedule as S
from out import report

T0 = 1780000000 - 1780000000 % 86400      # a midnight (UTC)


def prof(pid, evse, level, purpose, periods, kind=S.ABSOLUTE, start=T0, dur=None, unit=S.UNIT_A,
         recur=0, vfrom=None, vto=None, tx=None, minrate=None):
    return [pid, evse, level, purpose, kind, recur, vfrom, vto, tx, start, dur, unit, minrate,
            S.periods([x for p in periods for x in (p[0], p[1] * 10, p[2] if len(p) > 2 else 0)])]


def lim(ps, t, eid=1, tx=None, tx_start=None, wall=True, max_a=32):
    a, src = S.limit_at(ps, eid, t, tx, tx_start, wall, max_a)
    return [round(a, 2), src]


out = {}
mx = prof(1, 0, 0, S.MAX, [(0, 16)])
d10 = prof(2, 0, 0, S.TXDEFAULT, [(0, 10)])
d20 = prof(3, 0, 0, S.TXDEFAULT, [(0, 20)])
out["max_vs_default"] = [lim([mx, d10], T0 + 5), lim([mx, d20], T0 + 5), lim([], T0)]
hi = prof(4, 0, 1, S.TXDEFAULT, [(0, 20)], dur=3600)
out["stack"] = [lim([d10, hi], T0 + 10), lim([d10, hi], T0 + 3600), lim([d10, hi], T0 - 1)]
own = prof(5, 1, 0, S.TXDEFAULT, [(0, 7)])
out["evse_over_0"] = [lim([d10, own], T0 + 1), lim([d10, own], T0 + 1, eid=2)]
w3 = prof(6, 0, 0, S.TXDEFAULT, [(0, 11040)], unit=S.UNIT_W)
w1 = prof(7, 0, 0, S.TXDEFAULT, [(0, 2300, 1)], unit=S.UNIT_W)
out["watts"] = [lim([w3], T0), lim([w1], T0)]
rec = prof(8, 0, 0, S.TXDEFAULT, [(0, 6), (3600, 16)], kind=S.RECURRING, recur=S.DAY,
           start=T0 + 8 * 3600, dur=7200)
day5 = T0 + 5 * 86400
out["recurring"] = [lim([rec], day5 + 8 * 3600 + 1800), lim([rec], day5 + 9 * 3600 + 1800),
                    lim([rec], day5 + 11 * 3600)]
wk = prof(9, 0, 0, S.TXDEFAULT, [(0, 8)], kind=S.RECURRING, recur=S.WEEK, start=T0, dur=86400)
out["weekly"] = [lim([wk], T0 + 7 * 86400 + 5), lim([wk], T0 + 8 * 86400 + 5)]
rel = prof(10, 0, 0, S.TXDEFAULT, [(0, 8), (60, 12)], kind=S.RELATIVE, start=None)
out["relative"] = [lim([rel], 1030, tx="T", tx_start=1000), lim([rel], 1070, tx="T", tx_start=1000),
                   lim([rel], 5000)]
vf = prof(11, 0, 0, S.TXDEFAULT, [(0, 9)], vfrom=T0 + 100, vto=T0 + 200)
out["validity"] = [lim([vf], T0 + 50), lim([vf], T0 + 150), lim([vf], T0 + 200)]
out["no_wall"] = [lim([d10], T0, wall=False), lim([rel], 1070, tx="T", tx_start=1000, wall=False),
                  lim([vf], T0 + 150, wall=False)]
txp = prof(12, 1, 0, S.TXPROF, [(0, 6)], tx="T1")
pend = prof(13, 1, 0, S.TXPROF, [(0, 13)], tx="")
out["tx"] = [lim([d10, txp], T0, tx="T1"), lim([d10, txp], T0, tx="T2"), lim([d10, txp], T0),
             lim([d10, pend], T0, tx="T9"), lim([mx, pend], T0, tx="T9")]
out["station"] = [lim([mx, d10], T0, eid=0)]
# the station maximum (16 A) split between 2 and 3 EVSEs in a session; EVSE 0 whole
out["share"] = [list(S.limit_at([mx, d20], 1, T0, None, None, True, 32, share=2)),
                [round(x, 2) for x in S.limit_at([mx, d20], 1, T0, None, None, True, 32, share=3)],
                list(S.limit_at([mx, d20], 0, T0, None, None, True, 32, share=2))]
# composite: Max 20 A from T0; TxDefault [0: 10, 600: 25, 1200: 12] for 1800 s; above it
# a level-1 TxDefault of 8 A between T0+300 and T0+400 (validity)
cm = prof(20, 0, 0, S.MAX, [(0, 20)])
cd = prof(21, 0, 0, S.TXDEFAULT, [(0, 10), (600, 25), (1200, 12)], dur=1800)
cv = prof(22, 1, 1, S.TXDEFAULT, [(0, 8)], vfrom=T0 + 300, vto=T0 + 400)
out["composite"] = S.composite([cm, cd, cv], 1, T0, 2400, None, None, True, 32)
out["composite_cut"] = S.composite([cm, cd, cv], 1, T0, 2400, None, None, True, 32, max_periods=3)
out["composite_rec"] = S.composite([rec], 1, day5 + 7 * 3600, 4 * 3600, None, None, True, 32)
# minChargingRate of the Tx / TxDefault schedule: a composite limit below it is 0 (a pause)
m12 = prof(23, 0, 0, S.TXDEFAULT, [(0, 10)], minrate=12)
m18 = prof(24, 0, 0, S.TXDEFAULT, [(0, 20)], minrate=18)
m8 = prof(25, 0, 0, S.TXDEFAULT, [(0, 20)], minrate=8)
mw = prof(26, 0, 0, S.TXDEFAULT, [(0, 6900)], unit=S.UNIT_W, minrate=4600)
out["min_rate"] = [lim([m12], T0), lim([mx, m18], T0), lim([mx, m8], T0), lim([mw], T0)]
# the supply's nominal voltage and phases (config keys voltage, phases): 6900 W at 120 V on
# one phase is 57.5 A (above the station's 32 A); 2400 W at 120 V, 1 phase: 20 A
w24 = prof(27, 0, 0, S.TXDEFAULT, [(0, 2400)], unit=S.UNIT_W)
out["supply"] = [list(S.limit_at([mw], 1, T0, None, None, True, 32, 120, 1)),
                 list(S.limit_at([w24], 1, T0, None, None, True, 32, 120, 1))]
report(out)
