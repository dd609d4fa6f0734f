"""Reservations: which EVSE is held for which token until when (EVerest EvseManager's
reserve / cancel_reservation commands, the ReservationStart / ReservationEnd session
events; OCPP 1.6 5.13 ReserveNow, 2.0.1 H01-H04 map onto them).

A reservation is [id, evse, token, parent, expiry]: evse 0 = any EVSE of the station
(1.6 connector 0, 2.0.1 ReserveNow without evseId); parent = the parent / group id whose
tokens may use it too; expiry in Unix seconds of the station clock. The list is bounded
(one per EVSE at most, each needs a free EVSE) and kept in state.json (lib/store's atomic
write), so reservations survive a restart.

An EVSE is held (Reserved) by its own reservation, or by the station-wide ones when no
more free EVSEs are left than station-wide reservations (2.0.1 H01.FR.11: the last
available EVSEs become Reserved). Only the reserving token, or a token with the same
parent / group id, starts on a held EVSE; that start ends the reservation ("Used")."""
from firmware import log
from firmware.evse.pilot import CP_A
from firmware.evse.evse import IDLE, DISABLED

# ReservationEnd reasons (event data: (id, reason))
USED = "Used"
EXPIRED = "Expired"
CANCELLED = "Cancelled"
REMOVED = "Removed"         # the EVSE was made Inoperative


def _same(a, b):
    # 1.6 idTag / 2.0.1 idToken compare case-insensitively (1.6 CiString, 2.0.1 C01)
    return a is not None and b is not None and a.upper() == b.upper()


class Reservations:
    def __init__(self, station, persist):
        self._st = station
        self._persist = persist
        self.clock = None           # firmware.clock.Clock (Station.clock): expiry
        self.items = []             # [id, evse, token, parent, expiry]
        self.t_poll = 0

    def load(self):
        x = self._persist.get("resv")
        self.items = [r for r in x if isinstance(r, list) and len(r) == 5
                      and isinstance(r[0], int) and isinstance(r[1], int)
                      and 0 <= r[1] <= self._st.n and isinstance(r[2], str)] \
            if isinstance(x, list) else []
        del self.items[self._st.n:]

    def _save(self):
        self._persist["resv"] = self.items
        try:
            self._persist.save()
            return True
        except OSError as e:
            log.error("resv", "reservations not saved: %s", e)
            return False

    # ------------------------------------------------------------ queries
    def get(self, rid):
        for r in self.items:
            if r[0] == rid:
                return r
        return None

    def of(self, eid):
        """The reservation made for EVSE eid itself (not a station-wide one), or None."""
        for r in self.items:
            if r[1] == eid:
                return r
        return None

    def _free(self, e):
        """Could start a session for anyone now: enabled, idle, unplugged, no fault, no
        reservation of its own."""
        return e.state == IDLE and e.enabled and not e.authorized and e.cp == CP_A \
            and not e.fault() and self.of(e.id) is None

    def _wide(self):
        return sum(1 for r in self.items if r[1] == 0)

    def held(self, e):
        """The reservation holding EVSE e (its own, or a station-wide one when the free
        EVSEs are no more than the station-wide reservations), or None."""
        r = self.of(e.id)
        if r is not None or not self._free(e):
            return r
        w = self._wide()
        if w and sum(1 for x in self._st.evses if self._free(x)) <= w:
            for r in self.items:
                if r[1] == 0:
                    return r
        return None

    def match(self, e, token, parent):
        """May `token` (with parent / group id `parent`) start on EVSE e? -> (ok, the
        reservation it uses or None)."""
        for r in self.items:                       # its own reservation wins
            if (r[1] == e.id or r[1] == 0) and (_same(r[2], token) or _same(r[3], parent)):
                return True, r
        return self.held(e) is None, None

    # ------------------------------------------------------------ commands
    def reserve(self, rid, eid, token, parent, expiry):
        """-> "Accepted", "Faulted", "Unavailable", "Occupied" or "Rejected" (1.6 7.38
        ReservationStatus, 2.0.1 ReserveNowStatusEnumType). The same id again replaces the
        old reservation (1.6 5.13, 2.0.1 H01.FR.02)."""
        st = self._st
        if not 0 <= eid <= st.n:
            return "Rejected"
        old = self.get(rid)
        if old is not None:
            self.items.remove(old)          # replaced: judged as if it were gone
        res = self._judge(eid)
        if res != "Accepted":
            if old is not None:
                self.items.append(old)
            return res
        self.items.append([rid, eid, token, parent, expiry])
        if not self._save():                # one that would not survive a restart: none
            self.items.pop()
            if old is not None:
                self.items.append(old)
            self._save()
            return "Rejected"
        if old is None or old[1] != eid:
            if old is not None:
                st.emit(old[1], "ReservationEnd", (rid, CANCELLED))
            st.emit(eid, "ReservationStart", rid)
        return "Accepted"

    def _judge(self, eid):
        st = self._st
        if len(self.items) >= st.n:
            return "Occupied"
        if eid:
            e = st.evse(eid)
            if e.fault():
                return "Faulted"
            if not e.enabled or e.state == DISABLED:
                return "Unavailable"
            return "Accepted" if self._free(e) and self.held(e) is None else "Occupied"
        free = sum(1 for x in st.evses if self._free(x))
        if free > self._wide():
            return "Accepted"
        if all(x.fault() for x in st.evses):
            return "Faulted"
        if not any(x.enabled for x in st.evses):
            return "Unavailable"
        return "Occupied"

    def cancel(self, rid, reason=CANCELLED):
        """Ends reservation rid; False when there is none (1.6 CancelReservation
        Rejected, 2.0.1 H02.FR.02)."""
        r = self.get(rid)
        if r is None:
            return False
        self.items.remove(r)
        self._save()
        self._st.emit(r[1], "ReservationEnd", (rid, reason))
        return True

    def poll(self):
        """About once a second: reservations past their expiry end (Expired); one whose
        EVSE was made Inoperative ends (Removed). Expiry needs a set clock (from the CSMS:
        Clock.synced): a board's RTC after a power cut may be years off."""
        c = self.clock
        now = c.now() if c is not None and getattr(c, "synced", True) else None
        for r in list(self.items):
            if now is not None and r[4] is not None and now >= r[4]:
                log.info("resv", "reservation %d expired", r[0])
                self.cancel(r[0], EXPIRED)
            elif r[1] and not self._st.evse(r[1]).enabled:
                self.cancel(r[0], REMOVED)
