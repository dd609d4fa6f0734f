#!/usr/bin/env python3
"""Generate firmware/ocpp/v16/schema.py and firmware/ocpp/v201/schema.py: compact payload
schema tables for lib/ocppj/payload.py, from the JSON schemas shipped in the `ocpp` package.

    .venv/bin/python tools/build/gen_schemas.py            # write both files
    .venv/bin/python tools/build/gen_schemas.py --check    # exit 1 if they are out of date

The requests (CALLs the CSMS may send) are the supported entries of each version's
routing table (ROUTES in firmware/ocpp/v16/core.py, v201/core.py); the responses (to the
station's own CALLs) are listed below.

The encoding is described in lib/ocppj/payload.py. Kept: type, required, properties,
additionalProperties false, enum, maxLength, minimum/maximum, minItems/maxItems, items,
$ref (inlined, identical nodes shared). Dropped: format (date-time, uri), multipleOf,
default, descriptions.
"""
import ast
import json
import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
MAX_DEPTH = 16                 # lib/ocppj/payload.py _MAX_DEPTH

V16_RESPONSES = (
    "BootNotification", "Heartbeat", "StatusNotification", "MeterValues", "Authorize",
    "StartTransaction", "StopTransaction", "DataTransfer", "SecurityEventNotification",
    "SignCertificate", "FirmwareStatusNotification", "SignedFirmwareStatusNotification",
    "DiagnosticsStatusNotification", "LogStatusNotification",
)
V201_RESPONSES = (
    "BootNotification", "Heartbeat", "StatusNotification", "MeterValues", "NotifyReport",
    "NotifyEvent", "TransactionEvent", "Authorize", "SecurityEventNotification",
    "SignCertificate", "Get15118EVCertificate", "GetCertificateStatus", "DataTransfer",
    "ReservationStatusUpdate", "FirmwareStatusNotification", "LogStatusNotification",
    "ReportChargingProfiles",
)



def routed(sub):
    """The CSMS requests the adapter handles, in the order of its routing table: the
    entries of ROUTES in firmware/ocpp/<sub>/core.py that name a handler (not None).
    The table is the one list of supported requests (docs/ocpp.md); the schemas follow
    it. Read with ast: the firmware is MicroPython, not imported here."""
    path = os.path.join(ROOT, "firmware", "ocpp", sub, "core.py")
    with open(path, encoding="utf-8") as f:
        tree = ast.parse(f.read(), path)
    for cls in tree.body:
        if not isinstance(cls, ast.ClassDef):
            continue
        for st in cls.body:
            if isinstance(st, ast.Assign) and any(getattr(t, "id", None) == "ROUTES"
                                                  for t in st.targets):
                return tuple(e.elts[0].value for e in st.value.elts
                             if not (isinstance(e.elts[1], ast.Constant)
                                     and e.elts[1].value is None))
    raise ValueError("%s: no ROUTES table" % path)


# version -> (package dir, request file suffix, output module, requests, responses)
VERSIONS = {
    "1.6": ("v16", "", "firmware/ocpp/v16/schema.py", routed("v16"), V16_RESPONSES),
    "2.0.1": ("v201", "Request", "firmware/ocpp/v201/schema.py", routed("v201"),
              V201_RESPONSES),
}


def schema_dir(sub):
    import ocpp
    return os.path.join(os.path.dirname(ocpp.__file__), sub, "schemas")


def load(sub, name):
    with open(os.path.join(schema_dir(sub), name + ".json"), encoding="utf-8") as f:
        return json.load(f)


def _num(x):
    # 0.0 -> "0", 0.5 -> "0.5": integral bounds print as integers.
    return str(int(x)) if float(x) == int(x) else repr(float(x))


class Encoder:
    """Collects node lines for one module; identical lines are stored once."""

    def __init__(self):
        self.lines = []            # in order of appearance in S
        self.offset = {}           # line -> offset in S
        self.size = 0

    def _line(self, text):
        if "\n" in text or not text.isascii():
            raise ValueError("node line not encodable: %r" % text)
        if text not in self.offset:
            self.offset[text] = self.size
            self.lines.append(text)
            self.size += len(text) + 1
        return self.offset[text]

    def encode(self, doc, node, depth=0):
        """The code (see check.py) for a schema node; children before parents."""
        if depth > MAX_DEPTH:
            raise ValueError("schema nested deeper than MAX_DEPTH (recursive $ref?)")
        while "$ref" in node:
            ref = node["$ref"]
            if not ref.startswith("#/definitions/"):
                raise ValueError("unsupported $ref " + ref)
            node = doc["definitions"][ref[len("#/definitions/"):]]
        for key in ("anyOf", "oneOf", "allOf", "not", "patternProperties"):
            if key in node:
                raise ValueError("unsupported keyword " + key)
        t = node.get("type")
        if isinstance(t, list):
            raise ValueError("type lists are not supported")
        if "enum" in node:
            vals = node["enum"]
            for v in vals:
                if not isinstance(v, str) or "|" in v or "\n" in v or not v:
                    raise ValueError("enum value not encodable: %r" % (v,))
            return "#%d" % self._line("E|" + "|".join(vals) + "|")
        if t == "string":
            return "s%d" % node["maxLength"] if "maxLength" in node else "s"
        if t in ("integer", "number"):
            lo, hi = node.get("minimum"), node.get("maximum")
            code = "i" if t == "integer" else "n"
            if lo is None and hi is None:
                return code
            return "%s%s:%s" % (code, "" if lo is None else _num(lo),
                                "" if hi is None else _num(hi))
        if t == "boolean":
            return "b"
        if t == "array":
            item = self.encode(doc, node.get("items", {}), depth + 1)
            lo, hi = node.get("minItems"), node.get("maxItems")
            return "#%d" % self._line("A%s:%s %s" % ("" if lo is None else lo,
                                                     "" if hi is None else hi, item))
        if t == "object":
            req = node.get("required", ())
            props = node.get("properties", {})
            for r in req:
                if r not in props:
                    raise ValueError("required %s has no property" % r)
            parts = []
            for name, sub in props.items():
                if not name or any(c in name for c in " !=\n"):
                    raise ValueError("property name not encodable: %r" % name)
                parts.append(" %s%s%s" % (name, "!" if name in req else "=",
                                          self.encode(doc, sub, depth + 1)))
            closed = node.get("additionalProperties", True) is False
            return "#%d" % self._line(("O" if closed else "o") + "".join(parts))
        if t is None:
            return "*"
        raise ValueError("unsupported type %r" % (t,))

    def root(self, doc):
        code = self.encode(doc, doc)
        if not code.startswith("#"):
            raise ValueError("root is not an object")
        return int(code[1:])


def render(version):
    import ocpp
    sub, suffix, out, requests, responses = VERSIONS[version]
    enc = Encoder()
    tables = {}
    missing = []
    for table, names, sfx in (("REQUESTS", requests, suffix), ("RESPONSES", responses,
                                                               "Response")):
        rows = []
        for name in names:
            if not os.path.exists(os.path.join(schema_dir(sub), name + sfx + ".json")):
                missing.append(name + sfx)
                continue
            rows.append((name, enc.root(load(sub, name + sfx))))
        tables[table] = rows
    if missing:
        raise SystemExit("%s: schemas not shipped: %s" % (version, ", ".join(missing)))
    w = []
    w.append('"""OCPP %s payload schemas for ocppj.check() (encoding: lib/ocppj/payload.py).\n'
             % version)
    w.append("GENERATED by `.venv/bin/python tools/build/gen_schemas.py` from the JSON schemas "
             "of the\n`ocpp` package %s (ocpp/%s/schemas). Do not edit by hand.\n\n"
             % (ocpp.__version__ if hasattr(ocpp, "__version__") else _dist_version(),
                sub))
    w.append("REQUESTS: CALLs the CSMS may send us; RESPONSES: CALLRESULTs to our CALLs.\n"
             "Each is a table (S, index) of bytes; ocppj.lookup(table, action) -> schema or None.\n")
    w.append('"""\n\n')
    w.append("_S = (\n")
    off = 0
    for line in enc.lines:
        w.append("    b%s  # %d\n" % (json.dumps(line + "\n"), off))
        off += len(line) + 1
    w.append(")\n")
    for table in ("REQUESTS", "RESPONSES"):
        w.append("\n%s = (_S,\n" % table)
        for name, root in tables[table]:
            w.append('    b" %s:%d"\n' % (name, root))
        w.append(")\n")
    return out, "".join(w)


def _dist_version():
    from importlib.metadata import version
    return version("ocpp")


def main(argv):
    stale = False
    for version in VERSIONS:
        out, text = render(version)
        path = os.path.join(ROOT, out)
        old = None
        if os.path.exists(path):
            with open(path, encoding="utf-8") as f:
                old = f.read()
        if "--check" in argv:
            if old != text:
                print("out of date: " + out)
                stale = True
            continue
        if old != text:
            with open(path, "w", encoding="utf-8") as f:
                f.write(text)
        print("%s: %d bytes" % (out, len(text.encode())))
    return 1 if stale else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
