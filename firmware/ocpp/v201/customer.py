"""OCPP 2.0.1 N09/N10 CustomerInformation (loaded for the call): what the station holds
about one customer, reported with NotifyCustomerInformation, and cleared.

The customer is named by exactly one of idToken, customerIdentifier, customerCertificate
(else Invalid; Invalid too when neither report nor clear is asked). What is held about an
idToken: its local list entry, its authorization cache entry (firmware.auth.store) and
the reservations made for it (firmware.evse.reserve). Nothing is kept by a
customerIdentifier or a customer certificate (the station stores no contract
certificates): those report "no data". Clear removes the cache entry only: the local
list is the CSMS's to change (SendLocalList), a reservation its to cancel. The report is
made before the clearing, sent after the answer, in one message (its text is bounded)."""
from micropython import const
import asyncio
import ocppj
from firmware import log
from firmware.clock import iso
from firmware.auth import records
from firmware.auth.store import _out

_MAX = const(512)                  # NotifyCustomerInformation.data maxLength
_NONE = const("no data")


def _about(auth, tok, now):
    """[(source, info)]: the id's local list and cache entries (the AuthStore's own
    lookups, kept out of its class: its dictionary is on the heap of every boot)."""
    out = []
    if records.tok_ok(tok):
        k = records.key(tok, auth.ci)
        for src, r in (("list", auth._list_get(k)), ("cache", auth._cache_get(k))):
            if r is not None:
                out.append((src, _out(r, now)))
    return out


def _held(a, tok):
    now = a.clock.now()
    parts = []
    for src, info in _about(a.auth, tok, now):
        t = "%s %s" % ("local list" if src == "list" else "authorization cache", info["status"])
        if info["expiry"] is not None:
            t += " until " + iso(info["expiry"])
        if info["parent"] is not None:
            t += ", group " + info["parent"]
        parts.append(t)
    resv = getattr(a.station, "resv", None)
    for r in (resv.items if resv is not None else ()):
        if isinstance(r[2], str) and r[2].upper() == tok.upper():
            parts.append("reservation %s on %s" % (r[0], "EVSE %d" % r[1] if r[1] else
                                                   "any EVSE"))
    return parts


async def _notify(a, rid, text):
    try:
        await a.send("NotifyCustomerInformation", {"data": text[:_MAX], "seqNo": 0,
                                                   "generatedAt": a.clock.iso(), "tbc": False,
                                                   "requestId": rid})
    except (ocppj.Timeout, ocppj.Disconnected) as e:
        log.warn("ocpp", "NotifyCustomerInformation not sent: %r", e)


async def on_CustomerInformation(a, p):
    tok = p.get("idToken")
    named = [k for k in ("idToken", "customerIdentifier", "customerCertificate") if k in p]
    report, clear = p["report"], p["clear"]
    if len(named) != 1 or not (report or clear):
        return {"status": "Invalid"}
    parts, cached = [], False
    if tok is not None:
        parts = _held(a, tok["idToken"])
        cached = any(t.startswith("authorization cache") for t in parts)
        if clear and cached and not \
                a.auth._cache_drop((records.key(tok["idToken"], a.auth.ci),)):
            log.error("auth", "customer information: the cache could not be written")
    log.info("ocpp", "customer information %d: %d item(s)%s", p["requestId"], len(parts),
             ", cleared" if clear else "")
    if report:
        who = tok["idToken"] if tok is not None else p.get("customerIdentifier", "")
        text = "%s %s: %s" % (named[0], who, "; ".join(parts) if parts else _NONE)
        if clear and cached:
            text += " (the authorization cache entry cleared)"
        asyncio.create_task(_notify(a, p["requestId"], text))
    return {"status": "Accepted"}
