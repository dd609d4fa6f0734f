"""OCPP 1.6 Reservation profile (5.13 ReserveNow, 5.3 CancelReservation), loaded for
the call: the CSMS's requests mapped onto the kernel's reservations
(firmware.evse.reserve), which answer Accepted / Faulted / Occupied / Rejected /
Unavailable and end them (used, expired, cancelled)."""
from firmware.clock import parse_iso


async def on_ReserveNow(a, p):
    k = p["connectorId"]
    if k == 0 and not a.settings.get("ReserveConnectorZeroSupported"):
        return {"status": "Rejected"}
    if not 0 <= k <= a.station.n:
        return {"status": "Rejected"}
    try:
        expiry = parse_iso(p["expiryDate"])
    except ValueError:
        return {"status": "Rejected"}
    return {"status": a.station.reserve(p["reservationId"], k, p["idTag"],
                                        p.get("parentIdTag"), expiry)}


async def on_CancelReservation(a, p):
    ok = a.station.cancel_reservation(p["reservationId"])
    return {"status": "Accepted" if ok else "Rejected"}
