"""lib/ws against the test's scripted server on 127.0.0.1 (tests/unit/test_ws.py): each
case prints what it saw, line by line (messages, error names with their codes), and the
test compares those lines and the bytes the server got.

argv: CASE DATA — DATA a JSON file: {"port": the server's port, and the case's inputs
(sizes, n, ca, other_ca)}; CASE one of the functions in CASES."""
import asyncio
import json
import sys
import time

import ws

with open(sys.argv[2]) as f:
    ARGS = json.load(f)
PORT = ARGS.get("port", 0)


def rand(n):
    return bytes([(0x11 * (i + 1)) & 0xFF for i in range(n)])


def url(path="/ocpp/CP1"):
    return "ws://127.0.0.1:%d%s" % (PORT, path)


async def conn(path="/ocpp/CP1", **kw):
    kw.setdefault("rand", rand)
    kw.setdefault("timeout_ms", 2000)
    return await ws.connect(url(path), **kw)


def err(e):
    if isinstance(e, ws.WSClosed):
        return "WSClosed %d %s" % (e.code, e.reason)
    if isinstance(e, ws.WSError):
        return "WSError %d %s" % (e.code, e.args[0])
    return "OTHER %s %r" % (type(e).__name__, e)


async def recv_all(cli):
    try:
        while True:
            m = await cli.recv()
            print("MSG", repr(m))
    except Exception as e:      # printed for the test: how the link ended
        print(err(e))


async def quote_and_bad_urls():
    print(ws.quote("RDAM 123"))
    print(ws.quote("a/b?c#d%e"))
    print(ws.quote("Az09-._~"))
    print(ws.quote("\u00e9"))
    for u in ("http://x/", "ws://", "ws://h:99999/", "ws://h:x/", "ws://u@h/", "ws://h/a b"):
        try:
            await ws.connect(u)
        except ws.WSError as e:
            print("WSError", e.code)
    for s in (None, True):
        try:
            await ws.connect("wss://127.0.0.1:1/", ssl=s)
        except ws.WSError as e:
            print("WSError", e.code, e.args[0])
    import tls
    ctx = tls.SSLContext(tls.PROTOCOL_TLS_CLIENT)
    ctx.verify_mode = tls.CERT_NONE
    try:
        await ws.connect("wss://127.0.0.1:1/", ssl=ctx)
    except ws.WSError as e:
        print("WSError", e.code, e.args[0])


def sha1_fallback():
    import binascii
    from ws import sha1
    out = []
    for n in (0, 1, 55, 56, 63, 64, 65, 119, 120, 200):
        d = bytes((i * 7 + n) & 255 for i in range(n))
        out.append(binascii.hexlify(sha1.digest(d)).decode())
    print(json.dumps(out))


async def handshake_request_exact_and_basic_auth():
    a = await conn("/ocpp/" + ws.quote("RDAM 123"), auth=("RDAM 123", "s3cr:t"))
    print(a.protocol)
    await a.close()
    b = await conn("/", auth=("CP", b"\x00\xff"), protocols=("ocpp2.0.1",))
    await b.close()


async def handshake_failures():
    for i in range(9):
        kw = {"protocols": ()} if i in (6, 7) else {}
        try:
            c = await conn(**kw)
            print("OK", c.protocol)
            await c.close()
        except Exception as e:
            print(err(e))


async def handshake_timeouts():
    for i in range(2):
        t = time.ticks_ms()
        try:
            await conn(timeout_ms=300)
        except ws.WSError as e:
            print(err(e), True)   # the timeout fired: its own message
    try:
        await ws.connect("ws://127.0.0.1:1/")  # refused
    except ws.WSError as e:
        print("WSError", e.code, "refused")


async def client_frames_exact_bytes():
    c = await conn()
    await c.send("hello")
    await c.send(b"\x00\x01\x02")
    await c.send("\u00e9" * 100)
    for n in ARGS["sizes"]:
        await c.send(bytes([i & 0xFF for i in range(n)]))
    async def one(k):
        await c.send(bytes([k]) * 3000)
    await asyncio.gather(*[one(k) for k in range(5)])
    await c.close()


async def receive_fragments_and_ping_pong():
    c = await conn()
    print(repr(await c.recv()))
    print(await c.recv() == "H\u00e9llo World")
    b = await c.recv()
    print(len(b), b == bytes([i & 0xFF for i in range(2100)]))
    print(len(await c.recv()))
    print(repr(await c.recv()))
    print(repr(await c.recv()))
    await recv_all(c)


async def own_pings_and_pong_timeout():
    c = await conn(ping_interval_s=0.2, pong_timeout_s=2)     # room for a slow server's pong
    t = time.ticks_ms()
    await recv_all(c)
    print(time.ticks_diff(time.ticks_ms(), t))


async def close_codes():
    c = await conn()
    await recv_all(c)
    try:
        await c.send("x")
    except ws.WSClosed as e:
        print("send", err(e))
    c = await conn()
    await recv_all(c)
    c = await conn()
    await c.close(4000, "bye \u00e9")
    await c.close()  # again: no-op
    c = await conn(timeout_ms=300)
    t = time.ticks_ms()
    await c.close()
    print("bounded", True)   # returned: the close wait is bounded (timeout_ms)
    c = await conn()
    r = asyncio.create_task(recv_all(c))
    await asyncio.sleep_ms(50)
    await c.close(1001)
    await r
    c = await conn()
    await recv_all(c)


async def protocol_errors_close_1002():
    for i in range(ARGS["n"]):
        c = await conn()
        await recv_all(c)


async def oversize_closes_1009_in_small_heap():
    import gc
    for i in range(4):
        c = await conn(max_size=4000 if i < 3 else 200000)
        try:
            while True:
                m = await c.recv()
                print("MSG", len(m), m[0], m[-1])  # no allocation here
                m = None
        except Exception as e:
            print(err(e))
        gc.collect()


async def against_websockets_server():
    import os
    c = await ws.connect(url("/ocpp/" + ws.quote("CP 1")), max_size=65536)
    print(c.protocol)
    await c.send("[2,\"1\",\"Heartbeat\",{}]")
    print(repr(await c.recv()))
    big = os.urandom(50000)
    await c.send(big)
    print((await c.recv()) == big)
    await c.send("bye")
    await recv_all(c)


async def wss_verified_and_wrong_ca():
    import tls, binascii
    def ctx(ca_hex):
        c = tls.SSLContext(tls.PROTOCOL_TLS_CLIENT)
        c.verify_mode = tls.CERT_REQUIRED
        c.load_verify_locations(binascii.unhexlify(ca_hex))  # DER, positional only
        return c
    u = "wss://127.0.0.1:%d/ocpp/CP1" % PORT
    c = await ws.connect(u, ssl=ctx(ARGS["ca"]), rand=rand, max_size=30000)
    await c.send("hello")
    print(repr(await c.recv()))
    big = bytes([i & 0xFF for i in range(25000)])
    await c.send(big)
    print((await c.recv()) == big)
    await c.close()
    try:
        await ws.connect(u, ssl=ctx(ARGS["other_ca"]), timeout_ms=3000)
    except ws.WSError as e:
        print(err(e))


CASES = {f.__name__: f for f in (
    quote_and_bad_urls, handshake_request_exact_and_basic_auth, handshake_failures,
    handshake_timeouts, client_frames_exact_bytes, receive_fragments_and_ping_pong,
    own_pings_and_pong_timeout, close_codes, protocol_errors_close_1002,
    oversize_closes_1009_in_small_heap, against_websockets_server, wss_verified_and_wrong_ca)}
if sys.argv[1] == "sha1_fallback":
    sha1_fallback()
else:
    asyncio.run(CASES[sys.argv[1]]())
