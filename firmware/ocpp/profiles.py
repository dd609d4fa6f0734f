"""Connection profiles in the adapters (NetMixin of firmware.ocpp.base): which URL and
security profile the next connection uses (firmware.security.netprof), the 1.6
SecurityProfile upgrade and the 2.0.1 SetNetworkProfile / NetworkConfigurationPriority,
each with the fall-back when the new profile does not connect. The changes themselves
are handled by modules loaded for the call: firmware/ocpp/v16/network.py,
firmware/ocpp/v201/network.py."""
from micropython import const
import asyncio
import ws
from firmware.security.netprof import prerequisite, slots

_RECONNECT_MS = const(500)          # after the answer to the change is out


class NetMixin:
    def _profiles_boot(self):
        if self.VERSION == "2.0.1":
            prio = slots(self.settings.get("NetworkConfigurationPriority"))
            if prio:
                self.np.set_priority(prio)
            self.np.boot()                  # B10: the first slot by priority
        self.profile_sync()

    def profile_sync(self):
        p = self.np.profile()
        if self.settings.get("SecurityProfile") != p:
            self.settings.set("SecurityProfile", p)
        t = self.np.message_timeout()       # 2.0.1: the slot's messageTimeout (B09)
        if t is not None and self.settings.get("MessageTimeout") != t:
            self.settings.set("MessageTimeout", t)

    def _profile_failed(self):
        if self.np.failed(self.settings.get("NetworkProfileConnectionAttempts")):
            self.profile_sync()
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

    def profile_check(self, new):
        """None when the station may move to profile `new`, else why not: upgrades
        only (A05.FR.01, B09.FR.04), with their prerequisites (A05.FR.02-04)."""
        cur = self.np.profile()
        if new < cur:
            return "security profile %d is below the one in force (%d)" % (new, cur)
        return prerequisite(new, self.settings, self.flash)
