"""OCPP 2.0.1 device model access: GetVariables (B06), SetVariables (B05) and
GetBaseReport with NotifyReport (B07), over the settings table.

Loaded for a call and unloaded after it (firmware.memory.call): functions of the adapter `a`; a
report waiting to be sent is a.report, sent by send_report from the adapter's worker."""
from micropython import const
import gc
import ocppj
from firmware.persist import settings

_PAGE = const(2048)                  # NotifyReport page budget, bytes (estimated)
_DTYPES = const(("integer", "boolean", "string", "MemberList", "MemberList", "SequenceList"))
_DYNAMIC = const(("ChargingStation", "EVSE", "Connector"))
# SecurityCtrlr.CertificateEntries: certificates installed, maxLimit
# CertificateStoreMaxLength (Part 2 Appendix; OCTT Part 6 table of required variables)
_ENTRIES = const("CertificateEntries")
_COMPUTED = const(1)                 # a report item computed when read (_computed)
_BYTES_FOR = const(("GetReport", "GetVariables", "SetVariables"))   # BytesPerMessage instances
_STATION_VARS = const(("AvailabilityState", "Available", "SupplyPhases", "Power"))


def _avail_state(a, k):
    if k == 0:
        return "Available" if a.station.avail[0] else "Unavailable"
    return a.status(k)


def _computed(a, cname, vname, inst, k):
    """A read-only variable computed when read (not a settings row): (value text,
    dataType, maxLimit or None), or None when (cname, vname, inst) is none of them.
    k: the EVSE of an EVSE / Connector component, 0 for the station."""
    if vname == "BytesPerMessage" and (cname == "DeviceDataCtrlr" and inst in _BYTES_FOR or
                                       cname == "LocalAuthListCtrlr" and inst is None):
        return str(a.cfg.get("max_message", 8192)), "integer", None     # a frame's bound
    if cname == "SmartChargingCtrlr" and vname == "Entries" and inst == "ChargingProfiles":
        # K01: the charging profiles installed now; maxLimit MaxChargingProfilesInstalled
        return str(len(a.smart.profiles)), "integer", a.settings.get("MaxChargingProfilesInstalled")
    if inst is not None:
        return None
    if cname in _DYNAMIC:
        return _station_var(a, cname, vname, k)
    if cname == "SecurityCtrlr" and vname == "Identity":
        return a.cfg["id"], "string", None
    if cname == "ClockCtrlr" and vname == "DateTime":
        return a.clock.iso(), "dateTime", None
    if cname == "SecurityCtrlr" and vname == _ENTRIES:
        return str(_cert_entries(a)), "integer", a.settings.get("CertificateStoreMaxLength")
    if cname == "LocalAuthListCtrlr" and vname == "Entries":
        # D01/D02: the ids in the list now; maxLimit its capacity
        return str(a.auth.list_count), "integer", a.settings.get("LocalAuthListMaxLength")
    return None


def _station_var(a, cname, vname, k):
    """The required variables of ChargingStation, EVSE and Connector (Part 2
    Appendix, OCTT Part 6): AvailabilityState, Available, SupplyPhases, Power (W, not
    Connector; maxLimit what the EVSEs may draw), ConnectorType (Connector)."""
    if vname == "AvailabilityState":
        return _avail_state(a, k), "string", None
    if vname == "Available":
        return "true", "boolean", None
    phases = a.cfg.get("phases", 3)           # validated config keys (firmware.persist.config)
    if vname == "SupplyPhases":
        return str(phases), "integer", None
    evses = a.station.evses if k == 0 else (a.station.evse(k),)
    if vname == "Power" and cname != "Connector":
        w = sum(int(e.power_w) for e in evses)
        return str(w), "decimal", sum(e.max_a for e in evses) * a.cfg.get("voltage", 230) * phases
    if vname == "ConnectorType" and cname == "Connector":
        # a socket with a lock (IEC 62196 type 2); ReserveNow's connectorType (v201/reserve.py)
        return a.cfg.get("connector_type", "sType2"), "string", None
    return None


def _find(a, comp, var):
    """-> (status, row, computed value or None). row is a settings row or None."""
    cname, evse = comp.get("name"), comp.get("evse")
    vname, vinst = var.get("name"), var.get("instance")
    k = 0
    if cname in ("EVSE", "Connector"):
        if not evse or not 1 <= evse.get("id", 0) <= a.station.n or \
                evse.get("connectorId", 1) != 1 or comp.get("instance") is not None:
            return ("UnknownComponent", None, None)
        k = evse["id"]
    elif evse or comp.get("instance") is not None:
        return ("UnknownComponent", None, None)
    c = _computed(a, cname, vname, vinst, k)
    if c is not None:
        return ("Accepted", None, c[0])
    row = settings.find201(cname, vname, vinst) if k == 0 else None
    if row is not None:
        return ("Accepted", row, None)      # ChargingStation's settings rows too
    if cname in _DYNAMIC or cname in settings.COMPONENTS:
        return ("UnknownVariable", None, None)
    return ("UnknownComponent", None, None)


def _items(a, items, limit):
    """Each requested item with its attribute type and lookup: (item, attributeType,
    status, settings row or None, dynamic value); only Actual attributes exist here."""
    if len(items) > a.settings.get(limit):
        raise ocppj.CallError("OccurrenceConstraintViolation", "too many items (ItemsPerMessage)")
    for it in items:
        at = it.get("attributeType", "Actual")
        st, row, dyn = _find(a, it["component"], it["variable"])
        if st == "Accepted" and at != "Actual":
            st = "NotSupportedAttributeType"
        yield it, at, st, row, dyn


async def on_GetVariables(a, p):
    out = []
    for it, at, st, row, dyn in _items(a, p["getVariableData"], "ItemsPerMessageGetVariables"):
        res = {"attributeType": at, "component": it["component"], "variable": it["variable"]}
        if st == "Accepted":
            if row is None:
                res["attributeValue"] = dyn
            elif row.flags & settings.WO:
                st = "Rejected"             # write-only: never read back
            else:
                res["attributeValue"] = settings.render(row.type, a.settings.get(row.name))
        res["attributeStatus"] = st
        out.append(res)
    return {"getVariableResult": out}


async def on_SetVariables(a, p):
    out = []
    for it, at, st, row, dyn in _items(a, p["setVariableData"], "ItemsPerMessageSetVariables"):
        if st == "Accepted":
            st = "Rejected" if row is None else a.settings.set_text(row, it["attributeValue"])
            if st == "Accepted" and row.name == "BasicAuthPassword" and \
                    (a.np.profile() in (1, 2) or a.cfg.get("password")):
                a.reconnect_soon()          # A01, TC_A_09: the next connection uses it, now
        out.append({"attributeType": at, "attributeStatus": st,
                    "component": it["component"], "variable": it["variable"]})
    return {"setVariableResult": out}


async def on_GetBaseReport(a, p):
    rb = p["reportBase"]
    if rb == "SummaryInventory":
        return {"status": "NotSupported"}
    if a.report is not None:
        return {"status": "Rejected"}       # one report at a time
    a.report = (p["requestId"], rb)
    a.wake()
    return {"status": "Accepted"}


def _report_items(a, full):
    for r in settings.rows():
        v = r.var201
        if v and (full or not r.flags & settings.RO):
            yield r, {"name": v.component}, v.variable, v.instance
    if full:
        for comp, vname in (("ClockCtrlr", "DateTime"), ("SecurityCtrlr", _ENTRIES),
                            ("LocalAuthListCtrlr", "Entries"), ("LocalAuthListCtrlr", "BytesPerMessage"),
                            ("SecurityCtrlr", "Identity")):
            yield _COMPUTED, {"name": comp}, vname, 0
        for inst in _BYTES_FOR:
            yield _COMPUTED, {"name": "DeviceDataCtrlr"}, "BytesPerMessage", inst
        yield _COMPUTED, {"name": "SmartChargingCtrlr"}, "Entries", "ChargingProfiles"
        for vname in _STATION_VARS:
            yield _COMPUTED, {"name": "ChargingStation"}, vname, 0
        for k in range(1, a.station.n + 1):
            for vname in _STATION_VARS:
                yield _COMPUTED, {"name": "EVSE", "evse": {"id": k}}, vname, k
            for vname in _STATION_VARS[:3] + ("ConnectorType",):
                yield _COMPUTED, {"name": "Connector", "evse": {"id": k, "connectorId": 1}}, vname, k


def _cert_entries(a):
    from firmware.security import certs      # unloaded with this module after the call
    return certs.count(certs.flash_of(a))


def _report_entry(a, r, comp, vname, x):
    var = {"name": vname}
    if r == _COMPUTED:
        inst = x if isinstance(x, str) else None
        val, dt, top = _computed(a, comp["name"], vname, inst, 0 if inst else x)
        if inst:
            var["instance"] = inst
        ch = {"dataType": dt, "supportsMonitoring": False}
        if top is not None:
            ch["maxLimit"] = top
        return {"component": comp, "variable": var,
                "variableAttribute": [{"type": "Actual", "value": val, "mutability": "ReadOnly",
                                       "persistent": False, "constant": False}],
                "variableCharacteristics": ch}
    if x is not None:
        var["instance"] = x
    mut = "ReadOnly" if r.flags & settings.RO else "WriteOnly" if r.flags & settings.WO \
        else "ReadWrite"
    attr = {"type": "Actual", "mutability": mut, "persistent": True, "constant": False}
    if not r.flags & settings.WO:
        attr["value"] = settings.render(r.type, a.settings.get(r.name))
    ch = {"dataType": _DTYPES[r.type], "supportsMonitoring": False}
    if r.type == settings.CSL:
        ch["valuesList"] = ",".join(settings.MEASURANDS)
    elif r.type == settings.TXP:
        ch["valuesList"] = ",".join(settings.TX_POINTS)
    elif r.type == settings.SRC:
        ch["valuesList"] = ",".join(settings.TIME_SOURCES)
    return {"component": comp, "variable": var, "variableAttribute": [attr],
            "variableCharacteristics": ch}


async def send_report(a):
    req, rb = a.report
    per = a.settings.get("ItemsPerMessageGetReport")
    chunk, seq, size = [], 0, 0
    items = list(_report_items(a, rb == "FullInventory"))
    for i, (r, comp, vname, x) in enumerate(items):
        e = _report_entry(a, r, comp, vname, x)
        chunk.append(e)
        size += _entry_size(e)
        last = i == len(items) - 1
        # pages of at most `per` entries and about _PAGE bytes: one frame is one
        # contiguous block of heap (x3 on the way out), which a fragmented heap of a
        # small board may not have at 5 KB
        if len(chunk) >= per or size >= _PAGE or last:
            gc.collect()
            await a.send("NotifyReport", {"requestId": req, "generatedAt": a.clock.iso(),
                                          "tbc": not last, "seqNo": seq, "reportData": chunk})
            chunk, seq, size = [], seq + 1, 0
    a.report = None


def _entry_size(e):
    """About the JSON size of one reportData entry: the fixed part plus its strings."""
    a = e["variableAttribute"][0]
    return 200 + len(a.get("value", "")) + len(e["variableCharacteristics"].get("valuesList", ""))
