"""MicroPython program (tools/fuzz/bench.py runs it): the cost of ocppj's strict check
per frame (lib/ocppj/scan.py scan(), plus the encode() of the text it runs on) beside
json.loads of the same frame, and lib/ws's UTF-8 check of non-ASCII text. Prints one
line per frame: name, bytes, scan us, encode us, json.loads us, utf8 us."""
import json
import time

from ocppj import scan
from ws import client


def per(fn, arg, reps):
    fn(arg)
    t = time.ticks_us()
    for _ in range(reps):
        fn(arg)
    return time.ticks_diff(time.ticks_us(), t) / reps


def main():
    hb = '[2,"00000abc.12","TriggerMessage",{"requestedMessage":"Heartbeat"}]'
    sv = json.dumps([2, "00000abc.13", "SetVariables", {"setVariableData": [
        {"component": {"name": "OCPPCommCtrlr", "evse": {"id": 1}},
         "variable": {"name": "HeartbeatInterval", "instance": "Default"},
         "attributeValue": str(30 + i), "attributeType": "Actual"} for i in range(6)]}])
    sp = json.dumps([2, "x", "SetChargingProfile", {"evseId": 1, "chargingProfile": {
        "id": 1, "stackLevel": 0, "chargingProfilePurpose": "TxDefaultProfile",
        "chargingProfileKind": "Absolute", "chargingSchedule": [{
            "id": 1, "chargingRateUnit": "A", "startSchedule": "2026-12-07T00:00:00Z",
            "chargingSchedulePeriod": [{"startPeriod": 900 * i, "limit": 16.0 + i}
                                       for i in range(40)]}]}}])
    dt = json.dumps([2, "y", "DataTransfer", {"vendorId": "acme", "data": "z" * 8000}])
    deep = '[2,"d","DataTransfer",{"vendorId":"v","data":' + "[" * 4000 + "]" * 4000 + "}]"
    utf = json.dumps([2, "u", "DataTransfer", {"vendorId": "acme", "data": "\u00e9t\u00e9 " * 200}])
    for name, f in (("TriggerMessage", hb), ("SetVariables x6", sv),
                    ("SetChargingProfile 40 periods", sp), ("DataTransfer 8 KB string", dt),
                    ("4,000 levels (refused)", deep), ("DataTransfer 1 KB non-ASCII", utf)):
        b = f.encode()
        reps = 200 if len(b) < 2000 else 50
        s = per(lambda x: scan.scan(x, 20), b, reps)
        e = per(lambda x: x.encode(), f, reps)
        j = per(json.loads, b, reps) if len(b) < 9000 and "4,000" not in name else -1
        # lib/ws's extra check runs only for text that is not ASCII
        u = per(lambda x: client._utf8_rest(x, len(x)), b, reps) if len(f) != len(b) else -1
        print("ROW|%s|%d|%.0f|%.0f|%.0f|%.0f" % (name, len(b), s, e, j, u))


main()
