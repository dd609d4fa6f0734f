"""firmware.smart.schedule (tests/mp/smart_schedule.py under MicroPython): each EVSE's
limit from stacked profiles of every purpose and kind, against hand-computed values
(Max 16 A over TxDefault 10 / 20 A, stack levels with a duration, W on 3 and 1 phases at
230 V, Daily and Weekly recurrence, Relative from the transaction's start, validity,
no wall time, Tx profiles of the running transaction only, minChargingRate, the supply's
voltage and phases) and composite schedules."""
from tests import mp


def test_schedule_rules_and_composite():
    out = mp.run_file("smart_schedule")
    # [amps, source profile id (-1: the station's own 32 A)]
    assert out["max_vs_default"] == [[10, 2], [16, 1], [32, -1]]
    assert out["stack"] == [[20, 4], [10, 2], [32, -1]]      # level 1 until its duration ends
    assert out["evse_over_0"] == [[7, 5], [10, 2]]          # the EVSE's own TxDefault first
    assert out["watts"] == [[16.0, 6], [10.0, 7]]           # 11040 W / (3 x 230); 2300 W / 230
    assert out["recurring"] == [[6, 8], [16, 8], [32, -1]]  # day 5, 08:30, 09:30, 11:00
    assert out["weekly"] == [[8, 9], [32, -1]]
    assert out["relative"] == [[8, 10], [12, 10], [8, 10]]  # tx +30 s, +70 s; no tx: period 0
    assert out["validity"] == [[32, -1], [9, 11], [32, -1]]  # validTo is exclusive
    assert out["no_wall"] == [[32, -1], [12, 10], [32, -1]]  # only Relative without validity
    assert out["tx"] == [[6, 12], [10, 2], [10, 2], [13, 13], [13, 13]]
    assert out["station"] == [[16, 1]]                      # EVSE 0: the station maximum only
    assert out["share"] == [[8, 1], [5.33, 1], [16, 1]]     # 16 A over 2 / 3 EVSEs; EVSE 0
    # hand-computed: Max 20 A; TxDefault 10 / 25 / 12 A at 0 / 600 / 1200 s for 1800 s;
    # a level-1 TxDefault of 8 A valid from 300 to 400 s
    assert out["composite"] == [[0, 10, 21], [300, 8, 22], [400, 10, 21], [600, 20, 20],
                                [1200, 12, 21], [1800, 20, 20]]
    assert out["composite_cut"] == out["composite"][:3]
    # Daily 08:00 + 2 h (6 A, then 16 A after an hour), asked from 07:00 for 4 h
    assert out["composite_rec"] == [[0, 32, -1], [3600, 6, 8], [7200, 16, 8], [10800, 32, -1]]
    # 10 A under a minimum of 12: 0; Max 16 A under a minimum of 18: 0, of 8: 16;
    # 6900 W (10 A on 3 x 230 V) under a minimum of 4600 W (6.67 A): kept
    assert out["min_rate"] == [[0, 23], [0, 1], [16, 1], [10.0, 26]]
    # at 120 V on one phase: 6900 W is 57.5 A, its minimum 4600 W 38.3 A, above the
    # station's own 32 A: 0 (a pause); 2400 W is 20 A
    assert out["supply"] == [[0, -1], [20.0, 27]]
