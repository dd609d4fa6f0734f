"""Device-management status notifications (Firmware, SignedFirmware, Log, Diagnostics)
that must not be lost to a reconnect: sent when the station is registered and nothing
older waits, else kept on the adapter (a.dm_out, created with the first one: nothing on
the heap until then) and sent in order once it is registered again (base.Adapter's
worker triggers "DMOut" after a reconnect or the next boot). At most _MAX are kept, the
oldest dropped first; one lost with the link (no answer) is kept too: at least once.
Imported by firmware.update.job and firmware.ocpp.diag (loaded for their calls)."""
from micropython import const
import ocppj
from firmware import log

_MAX = const(8)


async def notify(a, action, payload):
    q = getattr(a, "dm_out", None)
    if a.connected and a.registration == "Accepted" and not q:
        try:
            await a.send(action, payload)
            return
        except (ocppj.Timeout, ocppj.Disconnected) as e:
            log.warn("ocpp", "%s not sent: %r", action, e)
    if q is None:
        q = a.dm_out = []
    elif len(q) >= _MAX:
        log.warn("ocpp", "%s %s dropped (offline queue full)", *q.pop(0))
    q.append((action, payload))
    if a.connected and a.registration == "Accepted":
        a.trigger("DMOut")


async def flush(a):
    q = getattr(a, "dm_out", None)
    while q:
        action, payload = q[0]
        await a.send(action, payload)       # a lost link: kept for the next one
        q.pop(0)
