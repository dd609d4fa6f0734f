"""Hostile frames (issue 18): each defect the fuzzing found, as a regression test, and
the seeded fuzz run itself. Frames go through tests/mp/hostile.py: a serving ocppj.Rpc
with the version's schemas and the firmware's redaction, inside micropython.
(lib/ws's 1007 for invalid UTF-8 in a text frame: tests/unit/test_ws.py.)"""
import json

import pytest

from tests.mp import run_file
from tools.fuzz import frames as F

VERSIONS = ("1.6", "2.0.1")
MALFORMED = {"1.6": "FormationViolation", "2.0.1": "RpcFrameworkError"}
FORMAT = {"1.6": "FormationViolation", "2.0.1": "FormatViolation"}


def feed(tmp_path, version, fr):
    """Frames [(kind, bytes)] -> (the answers to each, the program's report)."""
    src, dst = tmp_path / "frames", tmp_path / "results"
    F.write(str(src), fr)
    out = run_file("hostile", version, src, dst, heapsize="512k", timeout=120)
    return F.read_results(str(dst)), out


def one(tmp_path, version, frame, kind="t"):
    """The one answer to a frame, as JSON (text checked as strict UTF-8 first)."""
    res, out = feed(tmp_path, version, [(kind, frame)])
    assert out["alive"] and not out["failed"]
    assert len(res[0]) == 1, res
    return json.loads(res[0][0].decode("utf-8"))


@pytest.mark.parametrize("version", VERSIONS)
def test_surrogate_pair_escapes_answered_as_valid_utf8(tmp_path, version):
    # id, action and key with a JSON escape of a surrogate pair: one character, sent
    # back as its 4-byte UTF-8 form, never as two 3-byte halves
    m = one(tmp_path, version, b'[2,"\\ud83d\\ude00","Foo\\ud83d\\ude00",{}]')
    assert m == [4, "\U0001F600", "NotImplemented", "unknown action Foo\U0001F600", {}]
    act = "ClearCache"
    m = one(tmp_path, version, b'[2,"a\\uD83D\\uDE00","%s",{"k\\ud83d\\ude00":1}]' % act.encode())
    assert m[:3] == [4, "a\U0001F600", FORMAT[version]]
    assert m[3] == "unknown property k\U0001F600"
    # a value echoed by a handler
    m = one(tmp_path, version, b'[2,"e","DataTransfer",{"vendorId":"\\ud834\\udd1e"}]')
    assert m == [3, "e", {"status": "Accepted", "echo": "\U0001D11E"}]


@pytest.mark.parametrize("version", VERSIONS)
def test_lone_surrogate_escapes_never_echoed_raw(tmp_path, version):
    m = one(tmp_path, version, b'[2,"x\\ud83d","Foo\\udfff",{}]')
    assert m == [4, "x\ufffd", "NotImplemented", "unknown action Foo\ufffd", {}]
    # an escaped backslash before "ud83d" is no escape: left as it is
    m = one(tmp_path, version, b'[2,"\\\\ud83d","Foo",{}]')
    assert m[1] == "\\ud83d"


@pytest.mark.parametrize("version", VERSIONS)
def test_deep_nesting_refused_before_parsing(tmp_path, version):
    deep = b"[" * 4000 + b"]" * 4000                 # ~4,000 levels in 8 KB
    fr = [("t", b'[2,"d1","DataTransfer",{"vendorId":"v","data":%s}]' % deep),
          ("t", b"[" * 8000),                         # no id to read
          ("t", b'[2,"ok","ClearCache",{}]'),         # the next frame is served
          ("t", b'[3,"nobody",%s]' % deep)]           # an answer: never answered
    res, out = feed(tmp_path, version, fr)
    assert out["alive"] and not out["failed"]
    got = [[json.loads(a) for a in r] for r in res]
    assert got[0] == [[4, "d1", FORMAT[version], "nested too deep", {}]]
    assert got[1] == [[4, "-1", MALFORMED[version], "nested too deep", {}]]
    assert got[2] == [[3, "ok", {"status": "Accepted"}]]
    assert got[3] == []


@pytest.mark.parametrize("version", VERSIONS)
def test_binary_frame_not_utf8_answered(tmp_path, version):
    # the redaction step logs it first: it must not stop the frame's answer
    for frame in (b'\xff\xfe[2,"1","Reset",{}]', b'[2,"1","DataTransfer",{"vendorId":"\xed\xa0\x80"}]',
                  b'[2,"1","Reset",{"BasicAuthPassword":"\xc0\x80"}]'):
        assert one(tmp_path, version, frame, "b") == [4, "-1", MALFORMED[version],
                                                      "malformed message", {}]
    # a valid binary frame is served as text is
    assert one(tmp_path, version, b'[2,"b","ClearCache",{}]', "b") == \
        [3, "b", {"status": "Accepted"}]


@pytest.mark.parametrize("version", VERSIONS)
def test_non_string_keys_refused(tmp_path, version):
    for frame in (b'[2,"1","ClearCache",{"a":1,9"b":2}]', b'[2,"1","ClearCache",{9:"b"}]',
                  b'[2,"1","ClearCache",{null:1}]'):
        assert one(tmp_path, version, frame) == [4, "-1", MALFORMED[version],
                                                 "malformed message", {}]


INVALID_JSON = [
    b'[2,"1","ClearCache" {}]',                 # missing comma
    b'[2 "1","ClearCache",{}]',
    b'[2,"1","UnlockConnector",{"connectorId" 1}]',   # missing colon
    b'[2,"1","ClearCache",{},]',                # trailing commas
    b'[2,"1","ClearCache",{"a":1,}]',
    b'[2,,"1","ClearCache",{}]',
    b'[02,"1","ClearCache",{}]',                # leading zeros
    b'[2,"1","UnlockConnector",{"connectorId":01}]',
    b'[2,"1\\x","ClearCache",{}]',              # unknown escape
    b'[2,"1","ClearCache",{}]]',                # something after the value
    b'[2,"1","ClearCache",{"n":NaN}]',
    b'[2,"1","ClearCache",{"n":1.}]',
]


@pytest.mark.parametrize("version", VERSIONS)
def test_invalid_json_refused_as_malformed(tmp_path, version):
    res, out = feed(tmp_path, version, [("t", f) for f in INVALID_JSON])
    assert out["alive"] and not out["failed"]
    want = [4, "-1", MALFORMED[version], "malformed message", {}]
    assert [[json.loads(a) for a in r] for r in res] == [[want]] * len(INVALID_JSON)


@pytest.mark.parametrize("version", VERSIONS)
def test_fuzz_hostile_frames(tmp_path, version):
    """Seeded fuzz run (3,000 frames a version, ~2 s): every frame that must be answered
    is, once, with valid UTF-8 and JSON and the right id; nothing else is; the reader
    stays alive and no frame fails. The 100k run is tools/bench/bench.py --only fuzz."""
    fr = F.frames(version, 3000, seed=18)
    res, out = feed(tmp_path, version, fr)
    assert out["alive"] and not out["failed"] and out["frames"] == len(fr)
    bad = [(why, k, b[:120]) for (k, b), a in zip(fr, res)
           for why in [F.judge(version, k, b, a)] if why]
    assert not bad, bad[:5]
