"""OCPP 2.0.1 SetNetworkProfile (B09) into the slots of firmware.security.netprof; the slot order
is OCPPCommCtrlr.NetworkConfigurationPriority (RebootRequired: applied at the next boot,
B10), with NetworkProfileConnectionAttempts failures per slot before the next.

Rejected (with a reason in statusInfo): a transport other than JSON, a version other
than OCPP 2.0 (this adapter), a securityProfile below the one in force (B09.FR.04,
A05.FR.01), a missing prerequisite for it (password, CSMS root, station certificate:
A05.FR.02-04), and the slot in force (the live connection is never rewritten).

Loaded for a call and unloaded after it (firmware.memory.call): a function of the adapter `a`."""
from firmware import log


async def on_SetNetworkProfile(a, p):
    slot, cd = p["configurationSlot"], p["connectionData"]
    sp = cd["securityProfile"]
    why = None
    if cd["ocppTransport"] != "JSON":
        why = "transport %s" % cd["ocppTransport"]
    elif cd["ocppVersion"] != "OCPP20":
        why = "OCPP version %s" % cd["ocppVersion"]
    elif slot < 0 or str(slot) == a.np.active():
        why = "slot %d is in use" % slot
    elif not cd["ocppCsmsUrl"].startswith("wss://" if sp >= 2 else "ws"):
        why = "URL scheme does not fit security profile %d" % sp
    elif not 1 <= cd["messageTimeout"] <= 600:          # OCPPCommCtrlr.MessageTimeout's bounds
        why = "messageTimeout %d out of 1-600 s" % cd["messageTimeout"]
    else:
        why = a.profile_check(sp)
    if why:
        log.warn("net", "SetNetworkProfile slot %d rejected: %s", slot, why)
        return {"status": "Rejected", "statusInfo": {"reasonCode": "InvalidNetworkConf",
                                                     "additionalInfo": why[:512]}}
    # the profile's messageTimeout is OCPPCommCtrlr.MessageTimeout (read-only, TC_B_39)
    # while the slot is in force (Adapter.profile_sync)
    a.np.set_slot(slot, cd["ocppCsmsUrl"], sp, cd["messageTimeout"], a.settings.get("MessageTimeout"))
    log.info("net", "network profile slot %d: %s, security profile %d", slot,
             cd["ocppCsmsUrl"], sp)
    return {"status": "Accepted"}
