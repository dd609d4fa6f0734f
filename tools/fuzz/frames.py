"""Seeded hostile OCPP-J frames and the judge of the station's answers (issue 18).

frames(version, n, seed) -> [(kind, bytes)], kind "t" (text frame) or "b" (binary):
valid CALLs of the version mutated the ways the fuzzing of issue 18 found harmful and
more: JSON escapes of surrogate pairs and lone surrogates in ids, keys, actions and
values; deep nesting (up to ~4,000 levels in 8 KB); non-UTF-8 and raw-surrogate binary
and text frames; non-string keys; what MicroPython's json accepts but JSON is not
(missing commas and colons, trailing commas, leading zeros, unknown escapes, NaN);
truncation, byte flips, insertions; answers to unknown ids; unknown message types.

judge(version, kind, frame, answers) -> None if the answers are right, else a reason:
a frame that must be answered (a CALL, anything malformed, a 2.0.1 unknown message
type) gets exactly one answer, any other none; every answer is valid UTF-8 and strict
JSON, a CALLRESULT or CALLERROR, with the CALL's id (lone surrogates as U+FFFD) or "-1".
CPython's json with strict=False is the reference parser (RFC 8259 with control
characters allowed in strings, which the station does not check)."""
import json
import random
import re

_CALLS = {
    "1.6": [
        ("Reset", {"type": "Soft"}),
        ("ChangeAvailability", {"connectorId": 1, "type": "Operative"}),
        ("GetConfiguration", {"key": ["HeartbeatInterval"]}),
        ("ChangeConfiguration", {"key": "MeterValueSampleInterval", "value": "30"}),
        ("RemoteStartTransaction", {"connectorId": 1, "idTag": "TAG1"}),
        ("DataTransfer", {"vendorId": "acme", "messageId": "m", "data": "x"}),
        ("TriggerMessage", {"requestedMessage": "Heartbeat"}),
        ("ClearCache", {}),
        ("UnlockConnector", {"connectorId": 1}),
    ],
    "2.0.1": [
        ("Reset", {"type": "OnIdle"}),
        ("ChangeAvailability", {"operationalStatus": "Operative", "evse": {"id": 1}}),
        ("GetVariables", {"getVariableData": [{"component": {"name": "OCPPCommCtrlr"},
                                               "variable": {"name": "HeartbeatInterval"}}]}),
        ("SetVariables", {"setVariableData": [{"component": {"name": "OCPPCommCtrlr"},
                                               "variable": {"name": "HeartbeatInterval"},
                                               "attributeValue": "30"}]}),
        ("RequestStartTransaction", {"remoteStartId": 7, "idToken": {"idToken": "T",
                                                                    "type": "Central"}}),
        ("DataTransfer", {"vendorId": "acme", "messageId": "m", "data": {"a": [1, 2]}}),
        ("TriggerMessage", {"requestedMessage": "Heartbeat"}),
        ("ClearCache", {}),
        ("UnlockConnector", {"evseId": 1, "connectorId": 1}),
    ],
}

_SURR = ("\\ud83d\\ude00", "\\ud83d", "\\ude00", "\\uDBFF\\uDFFF", "\\udfff\\ud800",
         "a\\ud800b", "\\u00e9\\ud834\\udd1e")
_RAW_BAD = (b"\xff", b"\xc0\x80", b"\xed\xa0\xbd\xed\xb8\x80", b"\xed\xa0\x80",
            b"\xf4\x90\x80\x80", b"\xe0\x80\x80", b"\xc3", b"\xfe\xfe")


def _dump(obj):
    return json.dumps(obj, separators=(",", ":"))


def _valid(r, version, i, skip):
    action, payload = r.choice([c for c in _CALLS[version] if c[0] not in skip])
    return "[2,%s,%s,%s]" % (_dump("id%d" % i), _dump(action), _dump(payload))


def _mutate(r, text):
    """One of the known-bad shapes applied to a valid frame's text."""
    k = r.randrange(16)
    if k == 0:      # surrogate escape in the id
        return text.replace('"id', '"' + r.choice(_SURR), 1)
    if k == 1:      # ... in the action name
        i = text.find(',"', text.find(",") + 1) + 2
        if i < 2:
            return text
        return text[:i] + r.choice(_SURR) + text[i:]
    if k == 2:      # ... in a key or a value
        i = text.rfind('"', 0, len(text) - 2)
        if i < 0:
            return text
        return text[:i] + r.choice(_SURR) + text[i:]
    if k == 3:      # a comma dropped
        idx = [i for i, c in enumerate(text) if c == ","]
        if not idx:
            return text + ","
        i = r.choice(idx)
        return text[:i] + r.choice(("", " ")) + text[i + 1:]
    if k == 4:      # a colon dropped
        idx = [i for i, c in enumerate(text) if c == ":"]
        if not idx:
            return text[:-1] + ',}]'
        i = r.choice(idx)
        return text[:i] + " " + text[i + 1:]
    if k == 5:      # trailing comma
        i = text.rfind("}") if r.random() < 0.5 else len(text) - 1
        return text[:i] + "," + text[i:]
    if k == 6:      # leading zeros
        return text.replace("[2,", r.choice(("[02,", "[2,", "[-0,")), 1).replace(
            ":1", ":0" + str(r.randrange(10)), 1)
    if k == 7:      # a non-string key
        i = text.rfind("{")
        if i < 0:
            return text
        return text[:i + 1] + r.choice(('9"b":2,', '9:"b",', 'null:1,', '{}:1,')) + text[i + 1:]
    if k == 8:      # deep nesting in the payload, up to ~4,000 levels in 8 KB
        d = r.choice((18, 19, 20, 21, 50, 400, 4000))
        o, c = ("[", "]") if r.random() < 0.5 else ('{"a":', "}")
        if len(o) > 1:
            d = min(d, 1500)        # frames stay within ~8 KB
        i = text.rfind("}")
        if i < 1:
            return text
        inner = o * d + "1" + c * d if r.random() < 0.8 else o * d
        return text[:i] + (',"deep":' if text[i - 1] != "{" else '"deep":') + inner + text[i:]
    if k == 9:      # truncated
        return text[:r.randrange(len(text))] if text else text
    if k == 10:     # unknown escapes, NaN, bare words
        return text.replace('"', '"\\' + r.choice("xq0'a"), 1) if r.random() < 0.5 else \
            text.replace("}]", ',"n":' + r.choice(("NaN", "Infinity", "-Infinity", "tru",
                                                   "nul", "1.", ".5", "1e", "+1")) + "}]")
    if k == 11:     # a random byte replaced
        if not text:
            return "["
        i = r.randrange(len(text))
        return text[:i] + chr(r.randrange(32, 127)) + text[i + 1:]
    if k == 12:     # garbage appended
        return text + r.choice(("]", "}", ",", " x", "[]", "\n"))
    if k == 13:     # answers and other message types
        return r.choice(('[3,"nobody",{}]', '[4,"nobody","GenericError","",{}]',
                         '[5,"x"]', '[6]', '[3,"\\ud83d",{}]', '[true,"x","Reset",{}]',
                         '[2.0,"x","Reset",{}]', '[2,"%s","Reset",{}]' % ("i" * 40),
                         '[2,"\\ud83d\\ude00","Foo\\udfff",{}]', '"just a string"', '[]',
                         '{"a":1}', '[2,5,"Reset",{}]', '[3,"x",{"a":' + "[" * 60 + "]" * 60 + "}]"))
    if k == 14:     # whitespace everywhere (valid)
        return text.replace(",", " ,\n ").replace(":", "\t: ")
    return text     # left valid


def frames(version, n, seed, skip=()):
    """skip: actions never used as the base (a station under test is not Reset)."""
    r = random.Random("%s/%d" % (version, seed))
    out = []
    for i in range(n):
        text = _valid(r, version, i, skip)
        for _ in range(1 + (r.random() < 0.3)):
            text = _mutate(r, text)
        b = text.encode("utf-8", "surrogatepass")
        k = r.randrange(20)
        if k == 0:      # raw invalid UTF-8 inside a string, as a binary frame
            i = b.find(b'"', 3) + 1
            b = b[:i] + r.choice(_RAW_BAD) + b[i:]
            out.append(("b", b))
        elif k == 1:    # ... as a text frame (lib/ws closes it with 1007)
            i = b.find(b'"', 3) + 1
            out.append(("t", b[:i] + r.choice(_RAW_BAD) + b[i:]))
        elif k == 2:    # a valid frame sent binary
            out.append(("b", b))
        else:
            out.append(("t", b))
    return out


def _no_const(s):
    raise ValueError(s)


def _fffd(s):
    return "".join("\ufffd" if 0xD800 <= ord(c) <= 0xDFFF else c for c in s)


MAX_NEST = 20      # lib/ocppj/rpc.py _MAX_NEST
_HEAD = re.compile(rb'\s*\[\s*(\d{1,2})\s*,\s*("(?:[^"\\]|\\.)*")')


def _nest(b):
    """The deepest nesting of b's brackets outside strings (to the first error)."""
    d = top = 0
    instr = esc = False
    for c in b:
        if instr:
            if esc:
                esc = False
            elif c == 92:
                esc = True
            elif c == 34:
                instr = False
        elif c == 34:
            instr = True
        elif c in (91, 123):
            d += 1
            top = max(top, d)
        elif c in (93, 125):
            d -= 1
    return top


def expect(version, kind, frame):
    """(must answer, the id its answer carries or None) for a frame given to ocppj.
    A frame nested past MAX_NEST is judged by its head (the station reads no further
    than the bound): a CALL is answered with its id, an answer is not, the rest with
    "-1"; judge() also takes "-1" for it (malformed before the bound)."""
    if _nest(frame) > MAX_NEST:
        h = _HEAD.match(frame)
        mid = None
        if h:
            try:
                mid = json.loads(h.group(2).decode("utf-8"))
            except (UnicodeError, ValueError):
                mid = None
        if type(mid) is str and len(mid) <= 36:
            if h.group(1) == b"2":
                return True, _fffd(mid)
            if h.group(1) in (b"3", b"4"):
                return False, None
        return True, "-1"
    return _expect(version, frame)


def _expect(version, frame):
    try:
        m = json.loads(frame.decode("utf-8"), strict=False, parse_constant=_no_const)
    except (ValueError, RecursionError):
        return True, None
    if type(m) is not list or not m or type(m[0]) is not int:
        return True, "-1"
    mid = m[1] if len(m) > 1 else None
    mid = _fffd(mid) if type(mid) is str and len(mid) <= 36 else None
    if m[0] == 2:
        return True, mid or "-1"
    if m[0] in (3, 4):
        return False, None
    return version == "2.0.1", mid or "-1"


def judge(version, kind, frame, answers):
    if answers is None:         # a text frame lib/ws refuses (1007): never reaches ocppj
        try:
            frame.decode("utf-8")
        except UnicodeError:
            return None
        return "valid UTF-8 refused"
    must, mid = expect(version, kind, frame)
    if _nest(frame) > MAX_NEST and len(answers) == 1:
        try:
            if json.loads(answers[0].decode("utf-8"))[1] == "-1":
                must, mid = True, "-1"
        except (UnicodeError, ValueError, IndexError, KeyError, TypeError):
            pass
    if len(answers) != (1 if must else 0):
        return "%d answers" % len(answers)
    for a in answers:
        try:
            m = json.loads(a.decode("utf-8"), parse_constant=_no_const)
        except (UnicodeError, ValueError) as e:
            return "answer not UTF-8/JSON: %s" % e
        if not (type(m) is list and m and m[0] in (3, 4) and type(m[1]) is str
                and (len(m) == 3 and type(m[2]) is dict
                     or len(m) == 5 and all(type(x) is str for x in m[2:4])
                     and type(m[4]) is dict)):
            return "answer of the wrong form"
        if mid is not None and m[1] != mid:
            return "answer id %r, want %r" % (m[1], mid)
    return None


def write(path, fr):
    with open(path, "w") as f:
        for kind, b in fr:
            f.write(kind + b.hex() + "\n")


def read_results(path):
    """RESULTS of tests/mp/hostile.py -> [answers (list of bytes) or None]."""
    res = []
    with open(path) as f:
        for line in f:
            line = line.rstrip("\n")
            if line == "-":
                res.append(None)
            else:
                res.append([bytes.fromhex(x) for x in line.split(",") if x])
    return res
