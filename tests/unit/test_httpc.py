"""lib/httpc (MicroPython) against tools/csms/files.py's FileServer over loopback:
downloads (Content-Length, chunked, Range resume, redirects, limits, failures), uploads
(PUT raw, POST multipart), https with the server checked against a trusted CA.
The MicroPython side is tests/mp/httpc_cases.py; all cases of a server run in one
process."""
import hashlib
import json
import os
import socket

import pytest

from tests import mp
from tests.certs import make_ca, make_server_cert
from tools.csms.files import FileServer

DATA = bytes((i * 7 + (i >> 8)) & 0xFF for i in range(5000))  # not a multiple of 1 KB


def refused_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def run_cases(tmp_path, cases, ca_der=None):
    path = tmp_path / "cases.json"
    path.write_text(json.dumps(cases))
    ca = "-"
    if ca_der is not None:
        ca = str(tmp_path / "ca.der")
        with open(ca, "wb") as f:
            f.write(ca_der)
    return mp.run_file("httpc_cases", str(path), ca, timeout=60)


@pytest.fixture
def files(tmp_path):
    root = tmp_path / "www"
    root.mkdir()
    (root / "fw.bin").write_bytes(DATA)
    with FileServer(root) as srv:
        yield srv


def test_get_streams_the_body_in_bounded_pieces(files, tmp_path):
    got = tmp_path / "got.bin"
    files.redirect("/old.bin", "/fw.bin")
    out = run_cases(tmp_path, [
        {"op": "get", "url": files.url + "/fw.bin", "file": str(got)},
        {"op": "get", "url": files.url + "/old.bin", "file": str(tmp_path / "moved.bin")},
    ])
    assert out[0]["status"] == 200 and out[0]["bytes"] == len(DATA)
    assert 0 < out[0]["largest"] <= 1024
    assert got.read_bytes() == DATA
    assert out[1]["status"] == 200 and (tmp_path / "moved.bin").read_bytes() == DATA


def test_get_chunked_body(files, tmp_path):
    files.chunked = True
    out = run_cases(tmp_path, [{"op": "get", "url": files.url + "/fw.bin",
                                "file": str(tmp_path / "c.bin")}])
    assert out[0]["status"] == 200 and out[0]["largest"] <= 1024
    assert (tmp_path / "c.bin").read_bytes() == DATA


def test_get_resumes_with_a_range(files, tmp_path):
    part = tmp_path / "part.bin"
    part.write_bytes(DATA[:1234])
    out = run_cases(tmp_path, [{"op": "get", "url": files.url + "/fw.bin", "file": str(part),
                                "start": 1234}])
    assert out[0]["status"] == 206 and out[0]["bytes"] == len(DATA) - 1234
    assert part.read_bytes() == DATA
    assert files.requests[-1][2].get("Range") == "bytes=1234-"


def test_get_failures_are_http_errors(files, tmp_path):
    files.fail("/fw.bin", drop=True)
    out = run_cases(tmp_path, [
        {"op": "get", "url": files.url + "/missing.bin", "file": str(tmp_path / "a")},
        {"op": "get", "url": files.url + "/fw.bin", "file": str(tmp_path / "b")},   # dropped
        {"op": "get", "url": files.url + "/fw.bin", "file": str(tmp_path / "c"), "max": 4096},
        {"op": "get", "url": "http://127.0.0.1:%d/fw.bin" % refused_port(),
         "file": str(tmp_path / "d")},
        {"op": "get", "url": "ftp://127.0.0.1/fw.bin", "file": str(tmp_path / "e")},
    ])
    assert [(o.get("error"), o.get("status")) for o in out] == [
        ("HTTPError", 404), ("HTTPError", 0), ("HTTPError", 0), ("HTTPError", 0),
        ("HTTPError", 0)]
    assert "short" in out[1]["msg"] or "lost" in out[1]["msg"]
    assert "limit" in out[2]["msg"]


def test_put_and_post_upload(files, tmp_path):
    log = tmp_path / "diag.log"
    log.write_bytes(b"line one\n" * 300)
    out = run_cases(tmp_path, [
        {"op": "put", "url": files.url + "/up/diag.log", "file": str(log)},
        {"op": "post", "url": files.url + "/up/", "file": str(log)},
    ])
    assert [o["status"] for o in out] == [201, 200]
    (m1, p1, n1, b1), (m2, p2, n2, b2) = files.uploads
    assert (m1, p1, n1, b1) == ("PUT", "/up/diag.log", "diag.log", log.read_bytes())
    assert (m2, n2, b2) == ("POST", "diag.log", log.read_bytes())


def test_upload_refused_by_the_server(files, tmp_path):
    log = tmp_path / "x.log"
    log.write_bytes(b"x" * 10)
    files.fail("/up/x.log", status=403)
    out = run_cases(tmp_path, [{"op": "put", "url": files.url + "/up/x.log", "file": str(log)}])
    assert (out[0]["error"], out[0]["status"]) == ("HTTPError", 403)
    assert files.uploads == []


def test_https_checks_the_server(tmp_path):
    ca = make_ca()
    server = make_server_cert(ca, hosts=("127.0.0.1",))
    paths = server.write(tmp_path, "srv")
    root = tmp_path / "www"
    root.mkdir()
    (root / "fw.bin").write_bytes(DATA)
    log = tmp_path / "l.log"
    log.write_bytes(b"secret-free log\n")
    with FileServer(root, tls=(paths["cert"], paths["key"])) as srv:
        ok = run_cases(tmp_path, [
            {"op": "get", "url": srv.url + "/fw.bin", "file": str(tmp_path / "s.bin")},
            {"op": "put", "url": srv.url + "/up/l.log", "file": str(log)},
        ], ca_der=ca.cert_der)
        other = run_cases(tmp_path, [
            {"op": "get", "url": srv.url + "/fw.bin", "file": str(tmp_path / "t.bin")},
        ], ca_der=make_ca(cn="Someone Else").cert_der)
        plain = run_cases(tmp_path, [
            {"op": "get", "url": srv.url + "/fw.bin", "file": str(tmp_path / "u.bin")}])
    assert ok[0]["status"] == 200
    assert hashlib.sha256((tmp_path / "s.bin").read_bytes()).digest() == hashlib.sha256(DATA).digest()
    assert ok[1]["status"] == 201
    assert (other[0]["error"], other[0]["status"]) == ("HTTPError", 0)
    assert (plain[0]["error"], plain[0]["status"]) == ("HTTPError", 0)
    assert "needs ssl" in plain[0]["msg"]
    assert not os.path.exists(tmp_path / "u.bin") or (tmp_path / "u.bin").stat().st_size == 0
