"""DataTransfer both ways (OCPP 1.6 4.3 / 5.6, 2.0.1 P01 / P02) over the vendor
registry (firmware/vendor.py). Loaded for a call and unloaded after it
(firmware.memory.call): functions of the adapter `a`."""
import json
import ocppj
from firmware import log, vendor


def _data16(d):
    return d if isinstance(d, str) else json.dumps(d)


async def on_DataTransfer(a, p):
    """The registered handler's answer; UnknownVendorId / UnknownMessageId when there is
    none (1.6 5.6, 2.0.1 P01.FR.01/02). A handler that raises answers InternalError."""
    mid = p.get("messageId")
    h = vendor.find(p["vendorId"], mid)
    if isinstance(h, str):
        return {"status": h}
    res = h(mid, p.get("data"))
    if hasattr(res, "send"):                # an async handler
        res = await res
    data = None
    if isinstance(res, tuple):
        res, data = res
    out = {"status": res}
    if data is not None:
        out["data"] = _data16(data) if a.VERSION == "1.6" else data
    return out


async def send(a, vendor_id, message_id=None, data=None):
    """-> the CSMS's answer ({"status", "data"?}); {"status": "Offline"} when the station
    is not connected and registered; a CALLERROR answer as {"status": "CallError", "error":
    code}. Not queued: a vendor's message may mean nothing later."""
    if not (a.connected and a.registration == "Accepted"):
        return {"status": "Offline"}
    p = {"vendorId": vendor_id}
    if message_id is not None:
        p["messageId"] = message_id
    if data is not None:
        p["data"] = _data16(data) if a.VERSION == "1.6" else data
    try:
        res = await a.call("DataTransfer", p)
    except ocppj.CallError as e:
        return {"status": "CallError", "error": e.code}
    except (ocppj.Timeout, ocppj.Disconnected) as e:
        return {"status": "Offline", "error": repr(e)}
    log.info("ocpp", "DataTransfer %s %s: %s", vendor_id, message_id or "", res.get("status"))
    return res
