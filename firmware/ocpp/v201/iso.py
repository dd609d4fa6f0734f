"""The OCPP 2.0.1 side of firmware.iso15118: Get15118EVCertificate and
GetCertificateStatus sent for an ISO 15118 stack, answered with the CSMS's response,
or status Failed with a reason (offline, no answer within MessageTimeout, a
CALLERROR). Not journalled: the EV waits for the answer now, a late one is useless."""
import ocppj
from firmware import log


class Iso201:
    async def iso_call(self, action, payload):
        if not self._online():
            return {"status": "Failed", "reason": "offline"}
        try:
            res = await self.call(action, payload)
        except ocppj.CallError as e:
            return {"status": "Failed", "reason": "%s %s" % (e.code, e.description)}
        except (ocppj.Timeout, ocppj.Disconnected) as e:
            return {"status": "Failed", "reason": repr(e)}
        log.info("iso", "%s: %s", action, res.get("status"))
        return res
