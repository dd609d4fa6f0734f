"""Vendor extensions: the DataTransfer registry (OCPP 1.6 4.3 / 5.6, 2.0.1 P01 / P02).

A vendor extension registers a handler for its vendorId, for one messageId or for all:

    from firmware import vendor
    vendor.register("com.example", handler, "Ping")     # or message_id None: every message
    # handler(message_id, data) -> status | (status, data); may be async
    #   status: "Accepted" | "Rejected" | "UnknownMessageId"; data: the answer's data
    #   (a 1.6 answer carries a string: anything else is sent as its JSON)
    res = await vendor.send("com.example", "Hello", data)   # the station's own DataTransfer
    #   -> the CSMS's answer {"status", "data"?}, or {"status": "Offline"} when not registered

An incoming DataTransfer for a vendorId nobody registered is answered UnknownVendorId,
one for a registered vendorId but a messageId without a handler UnknownMessageId
(firmware/ocpp/datatransfer.py). The registry holds at most _MAX handlers (ValueError
past that) and outlives a reboot in-process (the simulator); on a board, extensions
register at boot, before the firmware starts."""
from micropython import const

_MAX = const(8)
_handlers = []          # (vendorId, messageId or None, handler)


def register(vendor_id, handler, message_id=None):
    """Registers (or replaces) the handler of (vendor_id, message_id)."""
    unregister(vendor_id, message_id)
    if len(_handlers) >= _MAX:
        raise ValueError("at most %d DataTransfer handlers" % _MAX)
    _handlers.append((vendor_id, message_id, handler))


def unregister(vendor_id, message_id=None):
    for i in range(len(_handlers)):
        if _handlers[i][0] == vendor_id and _handlers[i][1] == message_id:
            _handlers.pop(i)
            return True
    return False


def find(vendor_id, message_id):
    """The handler for an incoming DataTransfer, or the status to answer when there is
    none: "UnknownVendorId" or "UnknownMessageId"."""
    known = False
    wide = None
    for v, m, h in _handlers:
        if v == vendor_id:
            known = True
            if m is None:
                wide = h
            elif m == message_id:
                return h
    if wide is not None:
        return wide
    return "UnknownMessageId" if known else "UnknownVendorId"


async def send(vendor_id, message_id=None, data=None):
    """A DataTransfer from the station to the CSMS (P02), through the running firmware's
    adapter."""
    from firmware import main, memory
    f = main.current
    if f is None:
        raise RuntimeError("no firmware has started in this process")
    return await memory.call("firmware.ocpp.datatransfer", "send", f.adapter, vendor_id,
                             message_id, data)
