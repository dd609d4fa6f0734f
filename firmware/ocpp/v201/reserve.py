"""OCPP 2.0.1 H: reservations (H01 ReserveNow, H02 CancelReservation), loaded for the
call: the CSMS's requests mapped onto the kernel's reservations (firmware.evse.reserve).
ReservationStatusUpdate (H04, Expired / Removed) is sent by the adapter (v201.core)."""
from firmware.clock import parse_iso


async def on_ReserveNow(a, p):
    s = a.settings
    k = p.get("evseId")
    if not s.get("ReservationEnabled"):
        return {"status": "Rejected"}
    if k is None:
        k = 0
        if not s.get("ReserveConnectorZeroSupported"):      # ReservationCtrlr.NonEvseSpecific
            return {"status": "Rejected"}
    if not 0 <= k <= a.station.n:
        return {"status": "Rejected"}
    ct = p.get("connectorType")
    # the boards have a type 2 socket with a lock: sType2, as Connector.ConnectorType says
    # (v201/variables.py); any other type is none of this station's connectors
    if ct is not None and ct != "Unknown" and ct != a.cfg.get("connector_type", "sType2"):
        return {"status": "Rejected"}
    try:
        expiry = parse_iso(p["expiryDateTime"])
    except ValueError:
        return {"status": "Rejected"}
    grp = p.get("groupIdToken")
    return {"status": a.station.reserve(p["id"], k, p["idToken"]["idToken"],
                                        grp["idToken"] if grp else None, expiry)}


async def on_CancelReservation(a, p):
    ok = a.station.cancel_reservation(p["reservationId"])
    return {"status": "Accepted" if ok else "Rejected"}
