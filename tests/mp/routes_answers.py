"""What a not-supported action and DataTransfer answer, through the routing alone
(tests/unit/test_routes.py)."""
from out import report
import asyncio, json, ocppj
from firmware.ocpp import base
from firmware.ocpp.v16.core import Adapter16
from firmware.ocpp.v201.core import Adapter201
out = []
for cls in (Adapter16, Adapter201):
    a = object.__new__(cls)           # no station: only the routing is exercised
    a.registration = base.ACCEPTED
    a._booting = False
    unrouted = [act for act, where in cls.ROUTES if where is None][:1]   # [] once all are
    for act, p in [(act, {}) for act in unrouted] + [("DataTransfer", {"vendorId": "x"})]:
        try:
            out.append([cls.VERSION, act, asyncio.run(a._handle(act, p))])
        except ocppj.CallError as e:
            out.append([cls.VERSION, act, e.code])
report(out)
