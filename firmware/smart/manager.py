"""The installed charging profiles and the limit each EVSE gets from them.

Profiles live in RAM as flat lists (firmware.smart.schedule) and on flash in one JSON
table written atomically (store.save_json: temp file + rename, so a power cut leaves the
old table or the new one), at most MaxChargingProfilesInstalled of them. An asyncio task
(run) computes each EVSE's composite limit every half second while profiles are
installed and at once after a change, and hands it to the kernel with Evse.set_limit,
the limit the kernel already takes (it applies its own maximum current and thermal derating; below 6 A it pauses).
Nothing here runs in the safety tick.

The source of each EVSE's limit (limit_source) is a profile id, "station max" (no
profile below the station's maximum current) or "local" (someone else set the kernel's
limit since, e.g. firmware.repl.limit: kept until a profile result changes)."""
from micropython import const
import asyncio
import time
import store
from firmware import log

# firmware.smart.schedule (sc) is imported where a profile is looked at, not at the top:
# a station without profiles never loads it (about 0.75 KB of heap, 32-bit, frozen)

_APPLY_MS = const(500)      # a period boundary reaches the kernel within ~0.5 s
_WALL_MIN = const(1600000000)   # an RTC below 2020-09: never set, no wall time


class Smart:
    def __init__(self, station, clock, settings, cfg, flash="/flash"):
        self.station = station
        self.clock = clock
        self.settings = settings
        self.path = flash + "/smart.json"
        self.max_a = cfg.get("max_current", 32)
        self.volts = cfg.get("voltage", 230)
        self.phases = cfg.get("phases", 3)
        self.profiles = []
        n = station.n
        self.applied = [None] * (n + 1)     # amps handed to the kernel, per EVSE (1..n)
        self.source = [-1] * (n + 1)        # profile id or -1 (station max)
        self._tx0 = [None] * (n + 1)        # (tx key, Unix s) of the transaction's start
        self._armed = bytearray(n + 1)      # a remote start's TxProfile saw its session begin
        self.tx_of = None                   # eid -> (id or "" if not named yet, key) or None
        self._dirty = True                  # a change to apply at the next step
        self._ev = None                     # run's wake-up (changed())
        self.damaged = False

    def load(self):
        data, ok = store.load_json(self.path, [])
        self.damaged = not ok
        self.profiles = []
        if isinstance(data, list) and data:
            from firmware.smart import schedule as sc
            for p in data:
                if isinstance(p, list) and len(p) == 14 and isinstance(p[sc.PERIODS], list) \
                        and not (p[sc.PURPOSE] == sc.TXPROF and p[sc.TX] == ""):
                    # (a remote start's profile waiting for its transaction: the start
                    # does not outlive a reboot, nor does its profile)
                    try:
                        p[sc.PERIODS] = sc.periods(p[sc.PERIODS])
                    except (TypeError, ValueError):
                        continue
                    self.profiles.append(p)
        if not ok:
            log.error("smart", "profile table damaged: none applied")

    def save(self):
        """True when on flash; False (logged) when the flash refused it."""
        from firmware.smart import schedule as sc
        try:
            store.save_json(self.path, [sc.to_json(p) for p in self.profiles])
            return True
        except OSError as e:
            log.error("smart", "profiles not saved: %r", e)
            return False

    def changed(self):
        """Compute the limits again at once (a profile came or went, a kernel event)."""
        self._dirty = True
        if self._ev is not None:
            self._ev.set()

    # ------------------------------------------------------------ the table
    def install(self, p, replace_same_level=True):
        """Install flat profile p: "Accepted", or a 2.0.1 reasonCode when it cannot be
        held. The same id replaces (1.6 3.13.2, 2.0.1 K01); the same purpose, stack
        level and EVSE replaces too in 1.6, is refused in 2.0.1 (K01) unless the
        validity periods do not overlap."""
        from firmware.smart import schedule as sc
        keep = []
        for q in self.profiles:
            if q[sc.ID] == p[sc.ID]:
                continue
            if p[sc.PURPOSE] == sc.TXPROF and p[sc.TX] == "" and q[sc.PURPOSE] == sc.TXPROF \
                    and q[sc.TX] == "" and q[sc.EVSE] == p[sc.EVSE]:
                continue                    # a new remote start's profile replaces the old one
            if q[sc.PURPOSE] == p[sc.PURPOSE] and q[sc.LEVEL] == p[sc.LEVEL] and \
                    q[sc.EVSE] == p[sc.EVSE] and (p[sc.PURPOSE] != sc.TXPROF or q[sc.TX] == p[sc.TX]):
                if replace_same_level:
                    continue
                if _overlap(q, p):
                    return "DuplicateProfile"
            keep.append(q)
        if len(keep) >= self.settings.get("MaxChargingProfilesInstalled"):
            return "TooManyProfiles"
        old = self.profiles
        self.profiles = keep + [p]
        if p[sc.PURPOSE] == sc.TXPROF and p[sc.TX] == "":
            self._armed[p[sc.EVSE]] = 0
        if not self.save():
            self.profiles = old
            return "StorageFailure"
        self.changed()
        return "Accepted"

    def clear(self, pid=None, evse=None, purpose=None, level=None):
        """Remove the profile with id pid, or every one matching the criteria given
        (1.6 5.4, 2.0.1 K10); returns how many went."""
        from firmware.smart import schedule as sc
        keep = []
        for q in self.profiles:
            if pid is not None:
                hit = q[sc.ID] == pid
            else:
                hit = (evse is None or q[sc.EVSE] == evse) and \
                      (purpose is None or q[sc.PURPOSE] == purpose) and \
                      (level is None or q[sc.LEVEL] == level)
            if not hit:
                keep.append(q)
        n = len(self.profiles) - len(keep)
        if n:
            self.profiles = keep
            self.save()
            self.changed()
        return n

    def find(self, evse=None, purpose=None, level=None, ids=None):
        from firmware.smart import schedule as sc
        out = []
        for q in self.profiles:
            if (evse is None or q[sc.EVSE] == evse) and \
                    (purpose is None or q[sc.PURPOSE] == purpose) and \
                    (level is None or q[sc.LEVEL] == level) and \
                    (not ids or q[sc.ID] in ids):
                out.append(q)
        return out

    # ------------------------------------------------------------ time
    def wall(self):
        return self.clock.synced or self.clock.now() >= _WALL_MIN

    def tx_start(self, eid):
        t = self._tx0[eid]
        return None if t is None else t[1]

    def _tx(self, eid, now):
        """The running transaction's id on EVSE eid ("" while unnamed) or None; notes its
        start (RAM: a restart restarts Relative schedules from the boot)."""
        t = self.tx_of(eid) if self.tx_of is not None else None
        if t is None:
            self._tx0[eid] = None
            return None
        tid, key = t
        if self._tx0[eid] is None or self._tx0[eid][0] != key:
            self._tx0[eid] = (key, now)
            log.info("smart", "evse %d transaction %s starts its schedules", eid, key)
        return tid

    def on_event(self, eid, event, data):
        """A kernel event (after the adapter's listener): a transaction that began with it
        is noted now, not at the next pass; the limits are computed again at once."""
        self._tx(eid, int(self.clock.now()))
        self.changed()

    def limit_source(self, eid):
        e = self.station.evse(eid)
        a = self.applied[eid]
        if a is None:
            return None
        if e.limit_a != a:
            return "local"
        s = self.source[eid]
        return "station max" if s < 0 else "profile %d" % s

    def composite(self, eid, duration, max_periods=24):
        from firmware.smart import schedule as sc
        now = int(self.clock.now())
        tx = self._tx(eid, now) if eid else None
        return now, sc.composite(self.profiles, eid, now, duration, tx,
                                 self.tx_start(eid) if eid else None, self.wall(),
                                 self.max_a, self.volts, self.phases, max_periods,
                                 self.share(eid))

    def share(self, eid):
        """How many EVSEs split the station maximum, from EVSE eid's view: those in a
        session, counting eid as one of them (an EVSE that starts a session finds its
        share ready; the others get theirs at the kernel event that started it)."""
        n = 1
        for e in self.station.evses:
            if e.id != eid and e.in_session():
                n += 1
        return n

    # ------------------------------------------------------------ applying
    def _tidy(self, eid, tx):
        """Tx profiles end with their transaction (1.6 3.13.1, 2.0.1 K01); one a remote
        start brought ("") takes the transaction's id once it is known, and goes when the
        session it was for ended without one (once the EVSE was authorized or in a
        session, it is neither any more)."""
        from firmware.smart import schedule as sc
        drop = False
        for q in self.profiles:
            if q[sc.PURPOSE] != sc.TXPROF or q[sc.EVSE] != eid:
                continue
            if q[sc.TX] == "":
                e = self.station.evse(eid)
                if tx:
                    q[sc.TX] = tx
                    self.save()
                elif tx is not None or e.authorized or e.in_session():
                    self._armed[eid] = 1    # authorized (maybe after an Authorize round trip)
                elif self._armed[eid]:
                    drop = True             # that session ended without a transaction
                    q[sc.TX] = None
            elif q[sc.TX] != tx:
                drop = True
                q[sc.TX] = None
        if drop:
            self.profiles = [q for q in self.profiles
                             if not (q[sc.PURPOSE] == sc.TXPROF and q[sc.TX] is None)]
            self.save()

    def apply(self):
        """Every EVSE's limit now; the kernel is told only when it changed."""
        now = int(self.clock.now())
        wall = self.wall()
        for e in self.station.evses:
            eid = e.id
            tx = self._tx(eid, now)
            if self.profiles:
                from firmware.smart import schedule as sc
                self._tidy(eid, tx)
                a, src = sc.limit_at(self.profiles, eid, now, tx, self.tx_start(eid), wall,
                                     self.max_a, self.volts, self.phases, self.share(eid))
            else:
                a, src = self.max_a, -1
            a = int(a)                      # the kernel offers whole amps
            self.source[eid] = src
            if a != self.applied[eid]:
                self.applied[eid] = a
                e.set_limit(a)
                log.info("smart", "evse %d limit %d A (%s)", eid, a, self.limit_source(eid))

    async def run(self):
        """The limits computed at once after a change (changed(): a profile came or went,
        a kernel event) and, while profiles are installed, every _APPLY_MS (a period
        boundary). Without any profile no limit changes with time: it waits for a change
        only. (A wait with a timeout makes a small task a pass: two a second with
        profiles, where a 50 ms sleep loop woke twenty times.)"""
        ev = self._ev = asyncio.Event()
        t = time.ticks_ms()
        failed = False
        try:
            while True:
                now = time.ticks_ms()
                if self._dirty or time.ticks_diff(now, t) >= _APPLY_MS:
                    self._dirty = False
                    t = now
                    failed = False
                    try:
                        self.apply()
                    except Exception as e:      # noqa: BLE001
                        failed = True           # the next pass tries again
                        log.error("smart", "apply failed: %r", e)
                if self._dirty:                 # changed while it applied: again, after
                    await asyncio.sleep_ms(0)   # the other tasks had their turn
                    continue
                ev.clear()
                if not self.profiles and not failed:
                    await ev.wait()
                    continue
                left = _APPLY_MS - time.ticks_diff(time.ticks_ms(), t)
                if left > 0:
                    try:
                        await asyncio.wait_for_ms(ev.wait(), left)
                    except asyncio.TimeoutError:
                        pass
        finally:
            self._ev = None


def _overlap(a, b):
    from firmware.smart import schedule as sc
    lo = max(a[sc.VFROM] or 0, b[sc.VFROM] or 0)
    hi_a, hi_b = a[sc.VTO], b[sc.VTO]
    hi = min(hi_a if hi_a is not None else 1e18, hi_b if hi_b is not None else 1e18)
    return lo < hi
