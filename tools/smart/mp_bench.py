"""MicroPython program run by tools/smart/bench.py: the profile table at its bounds
(MaxChargingProfilesInstalled profiles of ChargingScheduleMaxPeriods periods) on a
littlefs image through firmware.smart, then the time and heap of the composite limit
(what the manager computes every second per EVSE) and of a day's composite schedule
(GetCompositeSchedule). Prints one line: BENCH <json>."""
import gc
import json
import os
import sys
import time
from boards.sim.flash import FlashDevice
from firmware.clock import Clock, iso
from firmware.persist.settings import Settings
from firmware.smart.manager import Smart
from firmware.smart.profile import from_ocpp
from firmware.smart import schedule as sc


class Evse:
    def __init__(self, eid):
        self.id = eid
        self.limit_a = 80
        self.authorized = False

    def set_limit(self, a):
        self.limit_a = a


class Station:
    def __init__(self, n):
        self.n = n
        self.evses = [Evse(i + 1) for i in range(n)]

    def evse(self, k):
        return self.evses[k - 1]


def used():
    s = os.statvfs("/flash")
    return (s[2] - s[3]) * s[0]


def timed(fn, n):
    gc.collect()
    t0 = time.ticks_us()
    for _ in range(n):
        fn()
    return time.ticks_diff(time.ticks_us(), t0) / n


def allocated(fn):
    """Bytes fn allocates (the collector off meanwhile)."""
    gc.collect()
    gc.disable()
    a0 = gc.mem_alloc()
    fn()
    a = gc.mem_alloc() - a0
    gc.enable()
    return a


img = sys.argv[1]
try:
    os.remove(img)
except OSError:
    pass
FlashDevice(img, 256).mount("/flash")
settings = Settings("/flash/settings.json")
n_max = settings.get("MaxChargingProfilesInstalled")
n_per = settings.get("ChargingScheduleMaxPeriods")
clock = Clock()
clock.set(1780000000)
now = int(clock.now())
st = Station(1)
sm = Smart(st, clock, settings, {"max_current": 32}, "/flash")
sm.tx_of = lambda eid: ("T1", 1)
u0 = used()
for i in range(n_max):
    # one station maximum, the rest TxDefault on EVSE 0 and 1, stack levels rising in
    # the order kept (each one is looked at), Absolute and Daily, full schedules
    cp = {"chargingProfileId": 100 + i, "stackLevel": i if i < 8 else 8,
          "chargingProfilePurpose": "ChargePointMaxProfile" if i == 0 else "TxDefaultProfile",
          "chargingProfileKind": "Recurring" if i % 2 else "Absolute",
          "validFrom": iso(now - 86400), "validTo": iso(now + 30 * 86400),
          "chargingSchedule": {"startSchedule": iso(now - 3600), "chargingRateUnit": "W" if i % 3 else "A",
                               "duration": 86400, "minChargingRate": 6.0,
                               "chargingSchedulePeriod": [
                                   {"startPeriod": j * 3600, "limit": 11000.5 - j * 100 if i % 3 else 32.5 - j,
                                    "numberPhases": 3} for j in range(n_per)]}}
    if i % 2:
        cp["recurrencyKind"] = "Daily"
    p = from_ocpp(cp, 0 if i == 0 or i % 2 else 1, False, settings, now)
    r = sm.install(p)
    if r != "Accepted":
        raise SystemExit("install %d: %s" % (i, r))
u1 = used()
size = os.stat("/flash/smart.json")[6]
# the table in RAM, as a boot loads it
sm.profiles = []
gc.collect()
h0 = gc.mem_alloc()
sm.load()
gc.collect()
held = gc.mem_alloc() - h0
ps = sm.profiles
lim = lambda: sc.limit_at(ps, 1, now, "T1", now - 600, True, 32)
day = lambda: sc.composite(ps, 1, now, 86400, "T1", now - 600, True, 32, max_periods=n_per)
out = {
    "profiles": n_max, "periods": n_per,
    "flash_used": u1 - u0, "file_bytes": size,
    "ram_table": held,
    "limit_us": timed(lim, 50), "limit_alloc": allocated(lim),
    "apply_us": timed(sm.apply, 20), "apply_alloc": allocated(sm.apply),
    "day_us": timed(day, 3), "day_alloc": allocated(day), "day_periods": len(day()),
    "install_us": timed(lambda: sm.install(ps[-1]), 5),
}
print("BENCH", json.dumps(out))
