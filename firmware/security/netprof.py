"""Connection profiles: the CSMS URL and security profile the station connects with,
their upgrades and the fall-back when an upgrade does not connect (OCPP 1.6 security
whitepaper: SecurityProfile, upgrades only; 2.0.1 A05, B09/B10: SetNetworkProfile
slots, NetworkConfigurationPriority, NetworkProfileConnectionAttempts).

    np = NetProfiles(persist, cfg)
    np.url_base(), np.profile()            # what the next connection uses
    np.connected()                         # that one works: it becomes the fall-back
    np.failed(attempts) -> bool            # True: switched to the fall-back / next slot
    np.set_slot(slot, url, profile, timeout, current)   # 2.0.1 SetNetworkProfile (stored)
    np.use(slot)                           # make a slot the one in force (upgrade, priority)

State in persist["np"]: {"s": {"<slot>": [url, profile(, messageTimeout)]}, "a": slot in force, "ok": the
slot that last connected, "f": failed attempts with the one in force, "prio": [slots]}.
Slot "0" starts as the configuration (cfg csms, profile). The station only ever moves
to a profile it was told to use; after `attempts` failed connections with it, it goes
back to the one that last worked (1.6) or the next slot by priority (2.0.1 B10.FR.*)."""
from firmware import log


def scheme_for(url, profile):
    """1.6 has no URL per profile: the configured one, with wss:// from profile 2 on and
    ws:// below (same host, port and path)."""
    if profile >= 2 and url.startswith("ws://"):
        return "wss://" + url[5:]
    if profile < 2 and url.startswith("wss://"):
        return "ws://" + url[6:]
    return url


def prerequisite(profile, settings, flash):
    """Why the station cannot use `profile` now (None: it can): a password for 1 and 2,
    a CSMS root for 2 and 3, the station's certificate for 3 (A05.FR.02-04)."""
    if profile in (1, 2) and not settings.get("BasicAuthPassword"):
        return "no basic auth password set"
    if profile >= 2:
        from firmware.security import certs
        if not certs.csms_roots(flash):
            return "no CSMS root certificate installed"
    if profile == 3:
        from firmware.security.certs import identity
        if not identity.present(flash):
            return "no station certificate installed"
    return None


class NetProfiles:
    def __init__(self, persist, cfg):
        self.persist = persist
        st = persist.get("np")
        if not isinstance(st, dict) or not isinstance(st.get("s"), dict) or \
                str(st.get("a")) not in st["s"]:
            st = {"s": {"0": [cfg["csms"], cfg["profile"]]}, "a": "0", "ok": "0", "f": 0}
        self.st = st

    def _save(self):
        self.persist["np"] = self.st
        try:
            self.persist.save()
        except OSError as e:
            log.error("net", "network profiles not saved: %r", e)

    def _slot(self):
        return self.st["s"][self.st["a"]]

    def active(self):
        """The slot in force (a str)."""
        return self.st["a"]

    def url_base(self):
        return self._slot()[0]

    def profile(self):
        return self._slot()[1]

    def connected(self):
        st = self.st
        if st["ok"] != st["a"] or st["f"]:
            st["ok"], st["f"] = st["a"], 0
            self._save()

    def failed(self, attempts):
        st = self.st
        st["f"] += 1
        if st["f"] < max(1, attempts):
            return False
        nxt = self._next()
        st["f"] = 0
        if nxt is None or nxt == st["a"]:
            return False
        log.warn("net", "slot %s failed %d times: falling back to slot %s", st["a"], attempts, nxt)
        st["a"] = nxt
        self._save()
        return True

    def _next(self):
        st = self.st
        prio = [str(k) for k in st.get("prio") or () if str(k) in st["s"]]
        if st["a"] in prio and len(prio) > 1:
            return prio[(prio.index(st["a"]) + 1) % len(prio)]
        return st["ok"] if st["ok"] in st["s"] else None

    def set_slot(self, slot, url, profile, timeout=None, current=None):
        """timeout: the profile's messageTimeout (2.0.1), in force with the slot; the slot
        in force keeps `current` (the MessageTimeout now) as its own if it has none."""
        a = self._slot()
        if current is not None and len(a) < 3:
            a.append(current)
        self.st["s"][str(slot)] = [url, profile] if timeout is None else [url, profile, timeout]
        self._save()

    def message_timeout(self):
        """The messageTimeout of the slot in force, or None (2.0.1 B09: MessageTimeout)."""
        a = self._slot()
        return a[2] if len(a) > 2 else None

    def use(self, slot):
        """The slot is in force from the next connection; the one that worked stays the
        fall-back until the new one connects."""
        self.st["a"], self.st["f"] = str(slot), 0
        self._save()

    def set_priority(self, slots):
        prio = [str(k) for k in slots]
        if prio != self.st.get("prio"):     # read at every boot: written only on a change
            self.st["prio"] = prio
            self._save()

    def boot(self):
        """At boot (2.0.1 B10): the first slot by priority that is configured."""
        for k in self.st.get("prio") or ():
            if str(k) in self.st["s"]:
                if str(k) != self.st["a"]:
                    self.use(k)
                return


def slots(text):
    """NetworkConfigurationPriority text -> [slot numbers]."""
    out = []
    for x in (text or "").split(","):
        x = x.strip()
        if x.isdigit():
            out.append(int(x))
    return out
