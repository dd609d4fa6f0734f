"""lib/ocppj: OCPP-J framing, calls in flight, CALLERROR codes for 1.6 and 2.0.1 (exact
wire JSON), and the payload checker against the generated schema tables.

ocppj runs inside micropython against a loopback fake link; pytest drives and compares."""
import json
import os
import subprocess
import sys

import jsonschema
import pytest

from tests import mp as mpy
from tests.mp import ROOT

# The loopback link, the handler, setup() and call(): tests/mp/rpc_harness.py; the
# programs: tests/mp/rpc_cases.py, tests/mp/rpc_check_all.py.


def mp(version, case, heapsize=None, timeout=20, **data):
    """tests/mp/rpc_cases.py CASE for the version (data: its frame or answer, through a
    file); -> the lines it printed."""
    return mpy.run_case("rpc_cases", case, dict(data, version=version), heapsize=heapsize,
                        timeout=timeout, lines=True)


def exchange(version, frame):
    """Feed one frame to a serving Rpc; the frames sent and the lines logged."""
    out = mp(version, "exchange", frame={"hex": frame.hex()} if isinstance(frame, bytes) else frame)
    return ([x[4:] for x in out if x.startswith("OUT ")],
            [x[4:] for x in out if x.startswith("LOG ")])


def E(mid, code, desc, details=None):
    return json.dumps([4, mid, code, desc, details or {}], separators=(",", ":"))


F16, O16, T16, P16 = ("FormationViolation", "OccurenceConstraintViolation",
                      "TypeConstraintViolation", "PropertyConstraintViolation")
F201, O201 = "FormatViolation", "OccurrenceConstraintViolation"
RPC = "RpcFrameworkError"
LONG = "x" * 51

# name, frame, 1.6 reply, 2.0.1 reply (None: no reply); frames valid in both versions
COMMON = [
    ("bad json", '[2,"1","Reset",', E("-1", F16, "malformed message"),
     E("-1", RPC, "malformed message")),
    ("not a list", '{"a":1}', E("-1", F16, "malformed message"),
     E("-1", RPC, "malformed message")),
    ("empty list", "[]", E("-1", F16, "malformed message"), E("-1", RPC, "malformed message")),
    ("type not int", '["2","1","Reset",{}]', E("-1", F16, "malformed message"),
     E("-1", RPC, "malformed message")),
    ("binary not utf-8", b"\xff\xfe[2]", E("-1", F16, "malformed message"),
     E("-1", RPC, "malformed message")),
    ("id not a string", '[2,1,"Reset",{}]', E("-1", F16, "unreadable message id"),
     E("-1", RPC, "unreadable message id")),
    ("id too long", '[2,"%s","Reset",{}]' % ("i" * 37), E("-1", F16, "unreadable message id"),
     E("-1", RPC, "unreadable message id")),
    ("unknown type", '[7,"9",{}]', None,
     E("9", "MessageTypeNotSupported", "message type not supported")),
    ("unknown type no id", "[5]", None,
     E("-1", "MessageTypeNotSupported", "message type not supported")),
    ("unknown action", '[2,"1","Foo",{}]', E("1", "NotImplemented", "unknown action Foo"),
     E("1", "NotImplemented", "unknown action Foo")),
    ("short CALL", '[2,"1","Reset"]', E("1", F16, "bad CALL"), E("1", RPC, "bad CALL")),
    ("action not a string", '[2,"1",5,{}]', E("1", F16, "bad CALL"), E("1", RPC, "bad CALL")),
    ("null payload", '[2,"1","Reset",null]', E("1", F16, "payload is not an object"),
     E("1", F201, "payload is not an object")),
    ("missing field", '[2,"1","Reset",{}]', E("1", O16, "missing type"),
     E("1", O201, "missing type")),
    ("bad enum", '[2,"1","Reset",{"type":"Warm"}]', E("1", P16, "type: not an allowed value"),
     E("1", P16, "type: not an allowed value")),
    ("enum not a string", '[2,"1","Reset",{"type":1}]', E("1", T16, "type: not a string"),
     E("1", T16, "type: not a string")),
    ("handler CallError", '[2,"c","ClearCache",{}]',
     E("c", "NotSupported", "no cache", {"why": "test"}),
     E("c", "NotSupported", "no cache", {"why": "test"})),
    ("handler returns None", '[2,"1","GetLocalListVersion",{}]', None, None),
    ("result to unknown id", '[3,"zz",{}]', None, None),
    ("error to unknown id", '[4,"zz","GenericError","",{}]', None, None),
]

# name, version, frame, reply
BY_VERSION = [
    ("ok", "1.6", '[2,"1","Reset",{"type":"Hard"}]', '[3,"1",{"status":"Accepted"}]'),
    ("ok", "2.0.1", '[2,"1","Reset",{"type":"OnIdle"}]', '[3,"1",{"status":"Accepted"}]'),
    ("wrong type", "1.6", '[2,"1","ChangeConfiguration",{"key":5,"value":"x"}]',
     E("1", T16, "key: not a string")),
    ("wrong type", "2.0.1", '[2,"1","Reset",{"type":"OnIdle","evseId":"1"}]',
     E("1", T16, "evseId: not an integer")),
    ("extra property", "1.6", '[2,"1","Reset",{"type":"Hard","x":1}]',
     E("1", F16, "unknown property x")),
    ("extra property", "2.0.1", '[2,"1","Reset",{"type":"OnIdle","x":1}]',
     E("1", F201, "unknown property x")),
    ("nested extra property", "2.0.1",
     '[2,"1","GetVariables",{"getVariableData":[{"component":{"name":"A","y":0},'
     '"variable":{"name":"B"}}]}]',
     E("1", F201, "getVariableData.0.component: unknown property y")),
    ("too long", "1.6", '[2,"1","ChangeConfiguration",{"key":"%s","value":"x"}]' % LONG,
     E("1", P16, "key: longer than 50")),
    ("too long", "2.0.1", '[2,"1","RequestStopTransaction",{"transactionId":"%s"}]' % ("t" * 37),
     E("1", P16, "transactionId: longer than 36")),
    ("nested missing", "1.6",
     '[2,"1","SendLocalList",{"listVersion":1,"updateType":"Full",'
     '"localAuthorizationList":[{"idTag":"a"},{"idTagInfo":{"status":"Accepted"}}]}]',
     E("1", O16, "localAuthorizationList.1: missing idTag")),
    ("too few items", "2.0.1", '[2,"1","GetVariables",{"getVariableData":[]}]',
     E("1", O201, "getVariableData: fewer than 1 items")),
    ("handler exception", "1.6", '[2,"u","UnlockConnector",{"connectorId":1}]',
     E("u", "InternalError", "handler failed")),
    ("handler exception", "2.0.1", '[2,"u","UnlockConnector",{"evseId":1,"connectorId":1}]',
     E("u", "InternalError", "handler failed")),
    ("description cut to 255", "1.6", '[2,"a","ChangeAvailability",'
     '{"connectorId":0,"type":"Operative"}]', E("a", "GenericError", "d" * 255)),
    ("description cut to 255", "2.0.1", '[2,"a","ChangeAvailability",'
     '{"operationalStatus":"Operative"}]', E("a", "GenericError", "d" * 255)),
]


def _profile(n_schedules=1, price_level=0):
    sched = {"id": 1, "chargingRateUnit": "A",
             "chargingSchedulePeriod": [{"startPeriod": 0, "limit": 16}],
             "salesTariff": {"id": 1, "salesTariffEntry": [
                 {"relativeTimeInterval": {"start": 0}, "ePriceLevel": price_level}]}}
    return {"id": 1, "stackLevel": 0, "chargingProfilePurpose": "TxProfile",
            "chargingProfileKind": "Relative", "chargingSchedule": [sched] * n_schedules}


def _start(**kw):
    p = {"idToken": {"idToken": "T", "type": "Local"}, "remoteStartId": 1,
         "chargingProfile": _profile(**kw)}
    return json.dumps([2, "1", "RequestStartTransaction", p], separators=(",", ":"))


BY_VERSION += [
    ("valid deep payload", "2.0.1", _start(), '[3,"1",{"status":"Accepted"}]'),
    ("too many items", "2.0.1", _start(n_schedules=4),
     E("1", O201, "chargingProfile.chargingSchedule: more than 3 items")),
    ("below minimum", "2.0.1", _start(price_level=-1),
     E("1", P16, "chargingProfile.chargingSchedule.0.salesTariff.salesTariffEntry.0."
                 "ePriceLevel: below 0")),
]


@pytest.mark.parametrize("version", ["1.6", "2.0.1"])
@pytest.mark.parametrize("name,frame,r16,r201", COMMON, ids=[c[0] for c in COMMON])
def test_incoming_frames(version, name, frame, r16, r201):
    sent, logged = exchange(version, frame)
    want = r16 if version == "1.6" else r201
    assert sent == ([want] if want else [])
    if want is None and name != "handler returns None":
        assert logged, "a dropped frame is logged"


@pytest.mark.parametrize("name,version,frame,reply", BY_VERSION,
                         ids=["%s-%s" % (c[0], c[1]) for c in BY_VERSION])
def test_incoming_payload_checks(name, version, frame, reply):
    sent, _ = exchange(version, frame)
    assert sent == [reply]


# -- our own CALLs -----------------------------------------------------------------

ID1, ID2 = "00000abc.1", "00000abc.2"
HB = '{"currentTime":"2024-01-01T00:00:00Z"}'


@pytest.mark.parametrize("version", ["1.6", "2.0.1"])
def test_call_result_and_ids(version):
    out = mp(version, "call_result_and_ids")
    assert out == ['OUT [2,"%s","Heartbeat",{}]' % ID1, "RES " + json.dumps(json.loads(HB)),
                   'OUT [2,"%s","Heartbeat",{}]' % ID2, "RES " + json.dumps(json.loads(HB))]


def test_ids_unique_and_short():
    out = mp("2.0.1", "ids_unique_and_short")
    assert out == ["152 18"]


@pytest.mark.parametrize("version", ["1.6", "2.0.1"])
def test_incoming_call_served_while_our_call_waits(version):
    # The DataTransfer handler sleeps 100 ms; our CALLRESULT must not wait for it.
    out = mp(version, "incoming_call_served_while_our_call_waits")
    assert out == ['OUT [2,"%s","Heartbeat",{}]' % ID1,
                   'OUT ' + E("in2", "NotSupported", "no cache", {"why": "test"}),
                   "RES " + json.dumps(json.loads(HB)),
                   'OUT [3,"in1",{"status":"Accepted"}]']


def test_handler_may_await_call():
    out = mp("1.6", "handler_may_await_call")
    assert out == ['OUT [2,"%s","Heartbeat",{}]' % ID1, 'NESTED {"currentTime": "x"}',
                   'OUT [3,"t",{"status":"Accepted"}]']


def test_reconnect_new_link():
    # A handler still running when its link drops answers on that link only (and fails);
    # calls go out on the new link with fresh ids.
    out = mp("2.0.1", "reconnect_new_link")
    assert out == ["True", "LOG link lost: OSError('closed',)", "False True", "True",
                   'OUT [2,"%s","Heartbeat",{}]' % ID1, "LOG send failed: OSError('closed',)",
                   "RES " + json.dumps(json.loads(HB))]


def test_one_call_at_a_time():
    out = mp("2.0.1", "one_call_at_a_time")
    res = "RES " + json.dumps(json.loads(HB))
    assert out == ['OUT [2,"%s","Heartbeat",{}]' % ID1, "--", res,
                   'OUT [2,"%s","Heartbeat",{}]' % ID2, res]


def test_handlers_bounded():
    out = mp("2.0.1", "handlers_bounded")
    assert out == ["OUT " + E("d2", "GenericError", "busy"),
                   'OUT [3,"d0",{"status":"Accepted"}]', 'OUT [3,"d1",{"status":"Accepted"}]']


@pytest.mark.parametrize("version", ["1.6", "2.0.1"])
def test_call_timeout_then_late_result_dropped(version):
    out = mp(version, "call_timeout_then_late_result_dropped")
    assert out == ['OUT [2,"%s","Heartbeat",{}]' % ID1, "EXC Timeout", "waited True",
                   "LOG answer to unknown id '%s' dropped" % ID1]


@pytest.mark.parametrize("version", ["1.6", "2.0.1"])
def test_call_answered_with_callerror(version):
    out = mp(version, "call_answered_with_callerror")
    assert out[1:] == ['EXC CallError SecurityError not accepted yet {"a": 1}']


@pytest.mark.parametrize("version", ["1.6", "2.0.1"])
def test_link_drop_releases_waiting_call(version):
    out = mp(version, "link_drop_releases_waiting_call")
    assert out == ['OUT [2,"%s","Heartbeat",{}]' % ID1, "LOG link lost: OSError('closed',)",
                   "EXC Disconnected", "released True", "EXC Disconnected"]


@pytest.mark.parametrize("version,answer,want", [
    ("1.6", '{"currentTime":"x","interval":5}', "OccurenceConstraintViolation missing status"),
    ("2.0.1", '{"currentTime":"x","interval":5}', "OccurrenceConstraintViolation missing status"),
    ("1.6", '{"currentTime":"x","interval":"5","status":"Accepted"}',
     "TypeConstraintViolation interval: not an integer"),
    ("2.0.1", '{"currentTime":"x","interval":5,"status":"Maybe"}',
     "PropertyConstraintViolation status: not an allowed value"),
    ("1.6", '{"currentTime":"x","interval":5,"status":"Accepted","x":1}',
     "FormationViolation unknown property x"),
    ("2.0.1", "null", "FormatViolation bad CALLRESULT"),
])
def test_bad_callresult_to_our_call(version, answer, want):
    out = mp(version, "bad_callresult_to_our_call", answer=answer)
    assert out[1:] == ["EXC CallError %s null" % want]


def test_checker_depth_bound_and_kinds():
    out = mp("2.0.1", "checker_depth_bound_and_kinds")
    # the offsets themselves change with every regenerated table: compared with the index
    assert out == ["True", "2 nested too deep 16", "None", "Reset True", "ResetX None",
                   "Rese None", "Availability None", " None", "Reset:1 None", "Reset:AT  None",
                   "True True"]


# -- the generated tables against the JSON schemas they came from -------------------

from tools.build import gen_schemas  # noqa: E402

TYPE, OCCUR, FORMAT, PROP = 0, 1, 2, 3


def _resolve(doc, node):
    while "$ref" in node:
        node = doc["definitions"][node["$ref"].rsplit("/", 1)[1]]
    return node


def _example(doc, node, full):
    """A valid payload: every property (full) or only the required ones."""
    node = _resolve(doc, node)
    t = node.get("type")
    if "enum" in node:
        return node["enum"][-1]
    if t == "string":
        if node.get("format") == "date-time":
            return "2024-01-01T00:00:00Z"
        return "x" * min(node.get("maxLength", 3), 3)
    if t in ("integer", "number"):
        return int(node.get("minimum", 1))
    if t == "boolean":
        return True
    if t == "array":
        return [_example(doc, node["items"], full)
                for _ in range(max(node.get("minItems", 0), 1))]
    if t == "object":
        req = node.get("required", ())
        return {k: _example(doc, v, full) for k, v in node.get("properties", {}).items()
                if full or k in req}
    return {"anything": [1, None]}


def _mutations(doc, node, value, path):
    """(path, new value or DEL, expected kind, expected error path) for one fault each."""
    node = _resolve(doc, node)
    t = node.get("type")
    where = ".".join(str(p) for p in path)
    if "enum" in node:
        yield path, 5, TYPE, where
        yield path, "NoSuchValue", PROP, where
    elif t == "string":
        yield path, 5, TYPE, where
        if "maxLength" in node:
            yield path, "x" * (node["maxLength"] + 1), PROP, where
    elif t in ("integer", "number"):
        yield path, "1", TYPE, where
        if t == "integer":
            yield path, 1.5, TYPE, where
        if "minimum" in node:
            yield path, int(node["minimum"]) - 1, PROP, where
        if "maximum" in node:
            yield path, int(node["maximum"]) + 1, PROP, where
    elif t == "boolean":
        yield path, 1, TYPE, where
    elif t == "array":
        yield path, {}, TYPE, where
        if node.get("minItems", 0) >= 1:
            yield path, [], OCCUR, where
        if "maxItems" in node:
            yield path, value[:1] * (node["maxItems"] + 1), OCCUR, where
        yield from _mutations(doc, node["items"], value[0], path + [0])
    elif t == "object":
        yield path, [], TYPE, where
        for k in node.get("required", ()):
            yield path + [k], DEL, OCCUR, where
        if node.get("additionalProperties", True) is False:
            yield path + ["zzExtra"], 1, FORMAT, where
        for k, sub in node.get("properties", {}).items():
            yield from _mutations(doc, sub, value[k], path + [k])


DEL = object()


def _apply(value, path, new):
    value = json.loads(json.dumps(value))
    if not path:
        return new
    parent = value
    for p in path[:-1]:
        parent = parent[p]
    if new is DEL:
        del parent[path[-1]]
    else:
        parent[path[-1]] = new
    return value


def _cases():
    for version, (sub, sfx, _, requests, responses) in gen_schemas.VERSIONS.items():
        validator = (jsonschema.Draft4Validator if version == "1.6"
                     else jsonschema.Draft6Validator)
        for table, names, suffix in (("REQUESTS", requests, sfx),
                                     ("RESPONSES", responses, "Response")):
            for action in names:
                doc = gen_schemas.load(sub, action + suffix)
                v = validator(doc)
                full = _example(doc, doc, True)
                for ok in (full, _example(doc, doc, False)):
                    assert v.is_valid(ok), (action, ok)
                    yield [version, table, action, ok, None, ""]
                for path, new, kind, where in _mutations(doc, doc, full, []):
                    bad = _apply(full, path, new)
                    assert not v.is_valid(bad), (action, path, new)
                    yield [version, table, action, bad, kind, where]


def test_tables_against_json_schemas(tmp_path):
    cases = list(_cases())
    path = tmp_path / "cases.jsonl"
    path.write_text("".join(json.dumps(c) + "\n" for c in cases))
    p = mpy.run_program("rpc_check_all", path, timeout=60, heapsize="64m")
    assert p.returncode == 0, p.stderr
    out = p.stdout.splitlines()
    assert len(out) == len(cases)
    wrong = [(c[0], c[2], c[4], c[5], got) for c, got in zip(cases, out)
             if json.loads(got) != [c[4], c[5]]]
    assert not wrong, wrong[:10]
    actions = {(c[0], c[1], c[2]) for c in cases}
    assert len(actions) == sum(len(v[3]) + len(v[4]) for v in gen_schemas.VERSIONS.values())
    assert len(cases) > 500


def test_generated_tables_up_to_date():
    p = subprocess.run([sys.executable, os.path.join(ROOT, "tools", "build", "gen_schemas.py"),
                        "--check"], capture_output=True, text=True)
    assert p.returncode == 0, p.stdout + p.stderr


def test_small_heap_many_frames():
    # 600 frames through a 2.0.1 Rpc in a 128 KB heap (64-bit, the schema tables compiled from
    # source at import: they grew with smart charging past what 96 KB compiles): nothing
    # accumulates.
    out = mp("2.0.1", "many_frames", heapsize="128k", frame=_start())
    out = " ".join(out).split()
    assert out == ["500", "True"]
