"""lib/httpc against the dev CSMS's file server (tests/unit/test_httpc.py).

argv: CASES (a JSON file: a list of cases), CA (a DER file trusted for https, or "-").
Each case: {"op": "get"|"put"|"post", "url": ..., "file": a local path (GET: written,
PUT/POST: read), "start": n, "max": n}. Reports, per case, the status and byte count or
the error (HTTPError with its status), and for GET the largest piece the sink received."""
import asyncio
import json
import os
import sys

import httpc

from out import error_name, report


class Sink:
    """An open file that also notes the largest piece written at once."""

    def __init__(self, f):
        self.f = f
        self.largest = 0

    def write(self, mv):
        if len(mv) > self.largest:
            self.largest = len(mv)
        return self.f.write(mv)


def context(ca_path):
    if ca_path == "-":
        return None
    import tls
    with open(ca_path, "rb") as f:
        der = f.read()
    ctx = tls.SSLContext(tls.PROTOCOL_TLS_CLIENT)
    ctx.verify_mode = tls.CERT_REQUIRED
    ctx.load_verify_locations(der)
    return ctx


async def one(case, ctx):
    op = case["op"]
    try:
        if op == "get":
            with open(case["file"], "ab" if case.get("start") else "wb") as f:
                sink = Sink(f)
                st, n = await httpc.get(case["url"], sink, ssl=ctx, timeout_ms=5000,
                                        max_bytes=case.get("max", 0),
                                        start=case.get("start", 0))
            return {"status": st, "bytes": n, "largest": sink.largest}
        size = os.stat(case["file"])[6]
        with open(case["file"], "rb") as f:
            st = await httpc.send(case["url"], f, size, method=op.upper(), ssl=ctx,
                                  timeout_ms=5000, filename="diag.log")
        return {"status": st, "bytes": size}
    except httpc.HTTPError as e:
        return {"error": "HTTPError", "status": e.status, "msg": str(e)}
    except Exception as e:  # noqa: BLE001 - the test names whatever escaped
        return {"error": error_name(e), "msg": repr(e)}


async def main():
    with open(sys.argv[1]) as f:
        cases = json.load(f)
    ctx = context(sys.argv[2])
    out = []
    for c in cases:
        out.append(await one(c, ctx))
    report(out)


asyncio.run(main())
