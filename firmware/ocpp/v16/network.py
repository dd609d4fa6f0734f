"""OCPP 1.6 ChangeConfiguration SecurityProfile (security whitepaper ed.2, section 2.1):
upgrades only, with their prerequisites, then a reconnect with the new profile and the
fall-back of firmware.security.netprof when it does not connect.

Loaded for a call and unloaded after it (firmware.memory.call): a function of the adapter `a`."""
from firmware import log
from firmware.security import netprof


async def upgrade(a, text):
    """1.6 ChangeConfiguration SecurityProfile: Accepted (reconnect with it, fall
    back if it does not connect) or Rejected."""
    try:
        new = int(text)
    except ValueError:
        return "Rejected"
    cur = a.np.profile()
    why = "not above the one in force (%d)" % cur if not cur < new <= 3 else a.profile_check(new)
    if why:
        log.warn("net", "SecurityProfile %s rejected: %s", text, why)
        return "Rejected"
    slot = "p%d" % new
    a.np.set_slot(slot, netprof.scheme_for(a.np.url_base(), new), new)
    a.np.use(slot)
    a.profile_sync()
    log.info("net", "security profile %d -> %d: reconnecting", cur, new)
    a.security_event("ReconfigurationOfSecurityParameters", "security profile %d" % new)
    a.reconnect_soon()
    return "Accepted"
