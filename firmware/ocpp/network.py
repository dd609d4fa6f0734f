"""Connection profiles in the adapters (firmware.netprof): which URL and security
profile the next connection uses, the 1.6 SecurityProfile upgrade and the 2.0.1
SetNetworkProfile / NetworkConfigurationPriority, each with the fall-back of
firmware.netprof when the new profile does not connect. The changes themselves are
handled on demand: firmware/ocpp/v16/network.py, firmware/ocpp/v201/network.py."""
from micropython import const
import asyncio
import ws
from firmware import log
from firmware import netprof as N

_RECONNECT_MS = const(500)          # after the answer to the change is out


class NetMixin:
    def _np_init(self):
        self.np = N.NetProfiles(self.persist, self.cfg)
        if self.VERSION == "2.0.1":
            prio = _slots(self.settings.get("NetworkConfigurationPriority"))
            if prio:
                self.np.set_priority(prio)
            self.np.boot()                  # B10: the first slot by priority
        self._np_sync()

    def _np_sync(self):
        p = self.np.profile()
        if self.settings.get("SecurityProfile") != p:
            self.settings.set("SecurityProfile", p)

    def _np_failed(self):
        if self.np.failed(self.settings.get("NetworkProfileConnectionAttempts")):
            self._np_sync()
            self.security_event("ReconfigurationOfSecurityParameters",
                                "fell back to security profile %d" % self.np.profile())

    def reconnect_soon(self):
        asyncio.create_task(self._reconnect_later())

    async def _reconnect_later(self):
        await asyncio.sleep_ms(_RECONNECT_MS)
        cli = self._cli
        if cli is not None:
            try:
                await cli.close(1000)
            except (OSError, ws.WSError):
                pass

    def _np_check(self, new):
        """None when the station may move to profile `new`, else why not: upgrades
        only (A05.FR.01, B09.FR.04), with their prerequisites (A05.FR.02-04)."""
        cur = self.np.profile()
        if new < cur:
            return "security profile %d is below the one in force (%d)" % (new, cur)
        return N.prerequisite(new, self.settings, self.flash)


def _slots(text):
    out = []
    for x in (text or "").split(","):
        x = x.strip()
        if x.isdigit():
            out.append(int(x))
    return out
