"""OCPP 1.6 configuration keys (Core profile 5.8 GetConfiguration, 5.3
ChangeConfiguration) over firmware.persist.settings; SecurityProfile goes to
firmware/ocpp/v16/network.py (upgrades only).

Loaded for a call and unloaded after it (firmware.memory.call): functions of the adapter `a`."""
import ocppj
from firmware import memory
from firmware.persist import settings


async def on_GetConfiguration(a, p):
    keys = p.get("key")
    limit = a.settings.get("GetConfigurationMaxKeys")
    out, unknown = [], []
    if keys:
        if len(keys) > limit:
            raise ocppj.CallError("OccurenceConstraintViolation", "too many keys")
        for key in keys:
            item = _item(a, key)
            if item is None:
                unknown.append(key)
            else:
                out.append(item)
    else:
        for row in settings.rows():
            if row.key16 and not row.flags & settings.WO:
                out.append(_item(a, row.key16))
        for name, key, _ in settings.DYNAMIC:
            if key:
                out.append(_item(a, key))
    res = {"configurationKey": out}
    if unknown:
        res["unknownKey"] = unknown
    return res


def _item(a, key):
    if key == "NumberOfConnectors":
        return {"key": key, "readonly": True, "value": str(a.station.n)}
    row = settings.find16(key)
    if row is None or row.flags & settings.WO:
        return None                         # write-only keys are never read back
    v = settings.render(row.type, a.settings.get(row.name))
    if key == "ChargingScheduleAllowedChargingRateUnit":    # 1.6 spells the units out
        v = v.replace("A", "Current").replace("W", "Power")
    return {"key": key, "readonly": bool(row.flags & settings.RO), "value": v}


async def on_ChangeConfiguration(a, p):
    key = p["key"]
    if key == "NumberOfConnectors":
        return {"status": "Rejected"}
    if key == "SecurityProfile":            # upgrades only, then reconnect (SW16 §2.1)
        return {"status": await memory.call("firmware.ocpp.v16.network", "upgrade", a, p["value"])}
    row = settings.find16(key)
    if row is None:
        return {"status": "NotSupported"}
    st = a.settings.set_text(row, p["value"])
    if st == "Accepted" and row.name == "BasicAuthPassword" and \
            (a.np.profile() in (1, 2) or a.cfg.get("password")):
        a.reconnect_soon()                  # the next connection uses the new key, now
    return {"status": st}
