"""lib/ws (RFC 6455 client) under MicroPython against servers driven from CPython.

The servers are raw asyncio TCP servers in a background thread, so the tests see the
exact bytes the client puts on the wire and can misbehave at will; one test runs
against the `websockets` package for interoperability, and the wss tests against a
CPython TLS server with a certificate made by `cryptography`.
"""
import asyncio
import base64
import datetime
import hashlib
import json
import os
import ssl as pyssl
import struct
import subprocess
import threading
import time
import traceback

import pytest

from tests import mp

GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
KEY16 = bytes((0x11 * (i + 1)) & 0xFF for i in range(16))  # what rand(16) gives in MP
MASK = bytes([0x11, 0x22, 0x33, 0x44])  # what rand(4) gives in MP
KEY_B64 = base64.b64encode(KEY16).decode()

# ---- the MicroPython side: tests/mp/ws_cases.py ---------------------------------------

def mprun(port, case, timeout=20, heapsize=None, env=None, **data):
    """tests/mp/ws_cases.py CASE against the server on port (data: the case's inputs,
    through a file); -> the lines it printed."""
    return mp.run_case("ws_cases", case, dict(data, port=port), timeout=timeout,
                       heapsize=heapsize, env_extra=env, lines=True)


# ---- the CPython side ------------------------------------------------------------------

def accept_for(key):
    return base64.b64encode(hashlib.sha1(key.encode() + GUID).digest()).decode()


def sframe(op, payload=b"", fin=True, rsv=0, mask=None, length=None):
    """A server frame (unmasked unless `mask`); `length` overrides the declared length."""
    n = len(payload) if length is None else length
    b = bytearray([(0x80 if fin else 0) | rsv | op])
    mbit = 0x80 if mask else 0
    if n < 126:
        b.append(mbit | n)
    elif n < 0x10000:
        b.append(mbit | 126)
        b += struct.pack(">H", n)
    else:
        b.append(mbit | 127)
        b += struct.pack(">Q", n)
    if mask:
        b += mask
        payload = bytes(c ^ mask[i % 4] for i, c in enumerate(payload))
    return bytes(b) + payload


def masked(payload, key=MASK):
    return bytes(c ^ key[i % 4] for i, c in enumerate(payload))


def cframe(op, payload, key=MASK, fin=True):
    """The exact bytes the client must send (RFC 6455 5.2, masked)."""
    n = len(payload)
    b = bytearray([(0x80 if fin else 0) | op])
    if n < 126:
        b.append(0x80 | n)
    elif n < 0x10000:
        b += bytes([0x80 | 126]) + struct.pack(">H", n)
    else:
        b += bytes([0x80 | 127]) + struct.pack(">Q", n)
    return bytes(b) + key + masked(payload, key)


class Frame:
    def __init__(self, b0, b1, key, payload, raw):
        self.fin = bool(b0 & 0x80)
        self.op = b0 & 0x0F
        self.masked = bool(b1 & 0x80)
        self.key = key
        self.payload = payload
        self.raw = raw

    def close_code(self):
        return struct.unpack(">H", self.payload[:2])[0] if len(self.payload) >= 2 else None


class Conn:
    """One accepted connection, as seen by a test's server script."""

    def __init__(self, r, w):
        self.r, self.w = r, w
        self.headers = {}
        self.request_line = None

    async def read_request(self):
        head = await asyncio.wait_for(self.r.readuntil(b"\r\n\r\n"), 5)
        lines = head.decode().split("\r\n")
        self.request_line = lines[0]
        for ln in lines[1:]:
            if ln:
                k, v = ln.split(":", 1)
                self.headers[k.strip().lower()] = v.strip()
        return self.headers

    async def handshake(self, protocol="ocpp1.6", accept=None, status=101, extra="",
                        tail=b""):
        await self.read_request()
        key = self.headers["sec-websocket-key"]
        acc = accept_for(key) if accept is None else accept
        head = "HTTP/1.1 %d %s\r\n" % (status, "Switching Protocols" if status == 101 else "No")
        if status == 101:
            head += "Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: %s\r\n" % acc
        if protocol:
            head += "Sec-WebSocket-Protocol: %s\r\n" % protocol
        head += extra + "\r\n"
        self.w.write(head.encode() + tail)
        await self.w.drain()

    async def frame(self, timeout=5):
        hdr = await asyncio.wait_for(self.r.readexactly(2), timeout)
        raw = bytearray(hdr)
        n = hdr[1] & 0x7F
        if n == 126:
            ext = await self.r.readexactly(2)
            n = struct.unpack(">H", ext)[0]
            raw += ext
        elif n == 127:
            ext = await self.r.readexactly(8)
            n = struct.unpack(">Q", ext)[0]
            raw += ext
        key = b""
        if hdr[1] & 0x80:
            key = await self.r.readexactly(4)
            raw += key
        data = await self.r.readexactly(n)
        raw += data
        return Frame(hdr[0], hdr[1], key, masked(data, key) if key else data, bytes(raw))

    async def send(self, data):
        self.w.write(data)
        await self.w.drain()

    async def echo_close(self):
        """Read frames up to the client's close and answer it with the same code."""
        while True:
            f = await self.frame()
            if f.op == 8:
                await self.send(sframe(8, f.payload[:2]))
                return f

    async def eof(self, timeout=5):
        """True when the client closes TCP (after any bytes) within `timeout`."""
        try:
            rest = await asyncio.wait_for(self.r.read(), timeout)
        except asyncio.TimeoutError:
            return False
        return rest


class Server:
    """A raw asyncio TCP (or TLS) server in its own thread; `script(conn, index)` runs for
    each accepted connection; what it appends to `.log` the test checks afterwards."""

    def __init__(self, script, ssl=None):
        self.script = script
        self.log = []
        self.errors = []
        self.n = 0
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        fut = asyncio.run_coroutine_threadsafe(
            asyncio.start_server(self._on, "127.0.0.1", 0, ssl=ssl), self.loop)
        self.srv = fut.result(5)
        self.port = self.srv.sockets[0].getsockname()[1]

    async def _on(self, r, w):
        i = self.n
        self.n += 1
        try:
            await self.script(Conn(r, w), i)
        except Exception:  # reported by the test through .errors
            self.errors.append(traceback.format_exc())
        finally:
            w.close()

    def logged(self, n, timeout=3):
        """The first `n` log entries, in connection order: each script logs (i, value)."""
        deadline = time.monotonic() + timeout
        while len(self.log) < n and time.monotonic() < deadline:
            time.sleep(0.02)
        return [v for _, v in sorted(self.log, key=lambda e: e[0])]

    def stop(self):
        async def _stop():
            self.srv.close()
        asyncio.run_coroutine_threadsafe(_stop(), self.loop).result(5)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)


@pytest.fixture
def serve():
    made = []

    def start(script, ssl=None):
        s = Server(script, ssl)
        made.append(s)
        return s

    yield start
    for s in made:
        s.stop()
    for s in made:
        assert not s.errors, "server script failed:\n" + "\n".join(s.errors)


# ---- URL quoting -------------------------------------------------------------------------

def test_quote_and_bad_urls():
    out = mprun(0, "quote_and_bad_urls")
    assert out[:4] == ["RDAM%20123", "a%2Fb%3Fc%23d%25e", "Az09-._~", "%C3%A9"]
    assert out[4:10] == ["WSError 0"] * 6
    assert out[10:12] == ["WSError 0 wss:// needs ssl=<tls.SSLContext>"] * 2
    assert out[12].startswith("WSError 0 wss:// with an SSLContext that does not verify")


# ---- handshake ------------------------------------------------------------------------

def test_handshake_request_exact_and_basic_auth(serve):
    async def script(c, i):
        await c.handshake(protocol="ocpp2.0.1")
        c.headers["_line"] = c.request_line
        srv.log.append((i, dict(c.headers)))
        await c.echo_close()

    srv = serve(script)
    out = mprun(srv.port, "handshake_request_exact_and_basic_auth")
    assert out == ["ocpp2.0.1"]
    h = srv.logged(2)[0]
    assert h["_line"] == "GET /ocpp/RDAM%20123 HTTP/1.1"
    assert h["host"] == "127.0.0.1:%d" % srv.port
    assert h["upgrade"] == "websocket" and h["connection"] == "Upgrade"
    assert h["sec-websocket-key"] == KEY_B64
    assert h["sec-websocket-version"] == "13"
    assert h["sec-websocket-protocol"] == "ocpp2.0.1, ocpp1.6"
    assert h["authorization"] == "Basic UkRBTSAxMjM6czNjcjp0"  # base64("RDAM 123:s3cr:t")
    h = srv.logged(2)[1]
    assert h["_line"] == "GET / HTTP/1.1"
    assert h["authorization"] == "Basic " + base64.b64encode(b"CP:\x00\xff").decode()
    assert h["sec-websocket-protocol"] == "ocpp2.0.1"


def test_handshake_failures(serve):
    # One scripted misbehaviour per connection, in order.
    cases = [
        dict(accept="dGhlIHNhbXBsZSBub25jZQ=="),  # bad accept
        dict(protocol=None),  # no subprotocol chosen
        dict(protocol="ocpp2.1"),  # one we did not offer
        dict(status=401, protocol=None),
        dict(extra="Sec-WebSocket-Extensions: permessage-deflate\r\n"),
        dict(extra="X-Big: %s\r\n" % ("a" * 9000)),  # head over the bound
        dict(protocol=None),  # protocols=() and none chosen: fine
        dict(protocol="ocpp1.6"),  # protocols=() but one chosen anyway
        dict(extra="Set-Cookie: %s\r\n" % ("c" * 3000)),  # long line, under the bound: fine
    ]

    async def script(c, i):
        await c.handshake(**cases[i])
        try:
            await c.echo_close()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass  # the client refused the handshake and dropped TCP

    srv = serve(script)
    out = mprun(srv.port, "handshake_failures")
    assert out == [
        "WSError 0 bad Sec-WebSocket-Accept",
        "WSError 0 server chose no subprotocol of ocpp2.0.1, ocpp1.6",
        "WSError 0 server chose subprotocol 'ocpp2.1', offered: ocpp2.0.1, ocpp1.6",
        "WSError 401 HTTP status 401",
        "WSError 0 server chose an extension, none offered",
        "WSError 0 response head over 8192 bytes",
        "OK None",
        "WSError 0 server chose subprotocol 'ocpp1.6', offered: ",
        "OK ocpp1.6",
    ]


def test_handshake_timeouts(serve):
    async def script(c, i):
        if i == 0:
            await c.read_request()  # and never answer
        else:
            await c.read_request()
            await c.send(b"HTTP/1.1 101 Switching Protocols\r\nUpgr")  # stall mid-head
        await c.eof(3)

    srv = serve(script)
    out = mprun(srv.port, "handshake_timeouts")
    assert out == ["WSError 0 handshake timeout after 300 ms True"] * 2 + ["WSError 0 refused"]


def test_each_address_of_the_name_dialled_in_turn(serve):
    """A CSMS name with more than one address (AAAA and A records where IPv6 is not
    routed; `localhost` as ::1 then 127.0.0.1 with the server on 127.0.0.1 only): a first
    address that refuses falls through to the next, within the one connect timeout; when
    all refuse, the last one's error is the cause (tests/mp/ws_dial.py)."""
    async def script(c, i):
        await c.handshake(protocol="ocpp1.6")
        srv.log.append((i, "served"))
        await c.echo_close()

    from tools.harness.simctl import free_port
    srv = serve(script)
    out = mp.run_file("ws_dial", srv.port, free_port())
    assert out["refused_first"] == {"connected": "ocpp1.6"}
    assert out["v6_first"] == {"connected": "ocpp1.6"}
    assert out["server_first"] == {"connected": "ocpp1.6"}
    assert out["all_refuse"]["error"] == "WSError"
    assert out["all_refuse"]["cause"] in ("ECONNREFUSED", "EADDRNOTAVAIL", "ENETUNREACH")
    assert out["all_refuse"]["asked"] == ["csms.example"]
    assert srv.logged(3) == ["served"] * 3


# ---- frames ------------------------------------------------------------------------------

SIZES = [0, 1, 3, 4, 5, 125, 126, 255, 256, 257, 1000, 1021, 65535, 65536, 70001]


def test_client_frames_exact_bytes(serve):
    async def script(c, i):
        await c.handshake()
        for _ in range(3 + len(SIZES) + 5):
            srv.log.append((i, await c.frame()))
        await c.echo_close()

    srv = serve(script)
    mprun(srv.port, "client_frames_exact_bytes", sizes=SIZES)
    f = srv.logged(3 + len(SIZES) + 5)
    assert f[0].raw == bytes([0x81, 0x85]) + MASK + masked(b"hello")
    assert f[0].raw == b"\x81\x85\x11\x22\x33\x44" + bytes([0x79, 0x47, 0x5F, 0x28, 0x7E])
    assert f[1].raw == bytes([0x82, 0x83]) + MASK + bytes([0x11, 0x23, 0x31])
    assert f[2].raw == cframe(1, ("\u00e9" * 100).encode())
    for k, n in enumerate(SIZES):
        assert f[3 + k].raw == cframe(2, bytes(i & 0xFF for i in range(n))), n
    concurrent = f[3 + len(SIZES):]
    assert sorted(x.payload for x in concurrent) == [bytes([k]) * 3000 for k in range(5)]


def test_receive_fragments_and_ping_pong(serve):
    async def script(c, i):
        await c.handshake(tail=sframe(1, b"early"))  # a frame in the same segment as the 101
        await c.send(sframe(1, "Hé".encode()[:2], fin=False))
        await c.send(sframe(9, b"abc"))  # control frame between fragments
        await c.send(sframe(0, "é".encode()[1:] + b"llo ", fin=False))
        await c.send(sframe(0, b"World"))
        srv.log.append((i, await c.frame()))  # the pong
        big = bytes(i & 0xFF for i in range(2100))
        await c.send(sframe(2, big[:700], fin=False) + sframe(0, big[700:1400], fin=False)
                     + sframe(0, big[1400:]))
        await c.send(sframe(1, b"x" * 3000))  # bigger than the kept buffer, then small again
        await c.send(sframe(2, b""))
        await c.send(sframe(10, b"unsolicited"))  # ignored
        await c.send(sframe(1, b"after"))
        await c.send(sframe(8, struct.pack(">H", 1000)))
        srv.log.append((i, await c.frame()))

    srv = serve(script)
    out = mprun(srv.port, "receive_fragments_and_ping_pong")
    assert out == ["'early'", "True", "2100 True", "3000", "b''", "'after'",
                   "WSClosed 1000 "]
    pong, close = srv.logged(2)
    assert pong.raw == cframe(10, b"abc")
    assert close.raw == cframe(8, b"\x03\xe8")


def test_own_pings_and_pong_timeout(serve):
    async def script(c, i):
        await c.handshake()
        t0 = time.monotonic()
        f = await c.frame()
        srv.log.append((i, (f.op, f.payload, time.monotonic() - t0)))
        await c.send(sframe(10, f.payload))  # answer the first ping only
        f = await c.frame()
        srv.log.append((i, (f.op, f.payload, time.monotonic() - t0)))
        srv.log.append((i, await c.eof()))

    srv = serve(script)
    out = mprun(srv.port, "own_pings_and_pong_timeout")
    # the first ping answered, the second not: the client gives up on the link (no pong
    # in pong_timeout_s), not on the first, whose pong came; when is a measurement
    assert out[0] == "WSClosed 1006 no pong in 2 s"
    (op1, p1, t1), (op2, p2, t2), eof = srv.logged(3)
    assert (op1, p1, op2, p2) == (9, b"", 9, b"")
    assert t1 < t2
    assert eof == b""  # dropped without a close frame: the link is presumed dead
    print("pings at %.2f s and %.2f s (interval 0.2 s), link dropped after %s ms"
          % (t1, t2, out[1]))


def test_close_codes(serve):
    async def script(c, i):
        await c.handshake()
        if i == 0:  # server closes with a code and reason: the client echoes the code
            await c.send(sframe(8, struct.pack(">H", 1001) + b"going away"))
            srv.log.append((i, await c.frame()))
            srv.log.append((i, await c.eof()))
        elif i == 1:  # server closes without a status: empty close back, 1005 locally
            await c.send(sframe(8))
            srv.log.append((i, await c.frame()))
        elif i == 2:  # client closes, server answers
            f = await c.frame()
            srv.log.append((i, f))
            await c.send(sframe(8, f.payload[:2]))
            srv.log.append((i, await c.eof()))
        elif i == 3:  # client closes, server never answers: bounded wait
            srv.log.append((i, await c.frame()))
            srv.log.append((i, await c.eof(3)))
        elif i == 4:  # close() while another task sits in recv()
            f = await c.frame()
            await c.send(sframe(1, b"late") + sframe(8, f.payload))
            srv.log.append((i, f))
        elif i == 5:  # server drops TCP
            pass

    srv = serve(script)
    out = mprun(srv.port, "close_codes")
    assert out == ["WSClosed 1001 going away", "send WSClosed 1001 going away",
                   "WSClosed 1005 ", "bounded True",
                   "MSG 'late'", "WSClosed 1001 ",
                   "WSClosed 1006 EOF"]
    echo1001, eof0, empty, ours, eof2, ours3, eof3, ours4 = srv.logged(8)
    assert echo1001.raw == cframe(8, b"\x03\xe9")
    assert eof0 == b""
    assert empty.raw == cframe(8, b"")
    assert ours.raw == cframe(8, b"\x0f\xa0" + "bye \u00e9".encode())
    assert eof2 == b""
    assert ours3.raw == cframe(8, b"\x03\xe8") and eof3 == b""
    assert ours4.close_code() == 1001


PROTOCOL_ERRORS = [
    (sframe(1, b"hi", mask=b"abcd"), 1002, "masked frame from server"),
    (sframe(1, b"hi", rsv=0x40), 1002, "reserved bits set"),
    (sframe(3, b"hi"), 1002, "unknown opcode 3"),
    (sframe(11, b"hi"), 1002, "unknown opcode 11"),
    (sframe(0, b"hi"), 1002, "bad continuation"),
    (sframe(1, b"a", fin=False) + sframe(2, b"b"), 1002, "bad continuation"),
    (sframe(9, b"p", fin=False), 1002, "bad control frame"),
    (sframe(9, b"p" * 126), 1002, "bad control frame"),
    (sframe(8, b"\x03"), 1002, "bad close frame"),
    (sframe(8, struct.pack(">H", 1005)), 1002, "bad close code 1005"),
    (sframe(1, b"\xc3\x28"), 1007, "invalid UTF-8"),
    # valid in structure, invalid UTF-8 all the same (RFC 3629 4; RFC 6455 8.1):
    (sframe(1, b'["\xed\xa0\xbd\xed\xb8\x80"]'), 1007, "invalid UTF-8"),  # surrogates
    (sframe(1, b"\xc3\xa9\xc0\x80"), 1007, "invalid UTF-8"),              # overlong NUL
    (sframe(1, b"\xf4\x90\x80\x80"), 1007, "invalid UTF-8"),              # past U+10FFFF
    (sframe(2, length=1 << 63), 1002, "bad length"),
]


def test_protocol_errors_close_1002(serve):
    async def script(c, i):
        await c.handshake()
        await c.send(PROTOCOL_ERRORS[i][0])
        f = await c.frame()
        srv.log.append((i, (f.op, f.close_code(), f.payload[2:].decode())))
        # returning closes TCP, as the server should (RFC 6455 7.1.1): no 1 s linger

    srv = serve(script)
    out = mprun(srv.port, "protocol_errors_close_1002", n=len(PROTOCOL_ERRORS))
    assert out == ["WSClosed %d %s" % (code, why) for _, code, why in PROTOCOL_ERRORS]
    log = srv.logged(len(PROTOCOL_ERRORS))
    assert log == [(8, code, why) for _, code, why in PROTOCOL_ERRORS]


def _mpy_dir(tmp_path):
    """lib/ws compiled with mpy-cross, as it is frozen on a board: source compilation
    alone would not fit in a 64 KiB heap."""
    d = tmp_path / "mpy" / "ws"
    d.mkdir(parents=True)
    src = os.path.join(mp.ROOT, "lib", "ws")
    cross = os.path.join(os.path.dirname(mp.MICROPYTHON), "mpy-cross")
    for name in os.listdir(src):
        if name.endswith(".py"):
            subprocess.run([cross, "-o", str(d / (name[:-3] + ".mpy")),
                            os.path.join(src, name)], check=True)
    return ".frozen:%s:%s" % (d.parent, mp.env()["MICROPYPATH"].split(":", 1)[1])


def test_oversize_closes_1009_in_small_heap(serve, tmp_path):
    async def script(c, i):
        await c.handshake()
        if i == 0:  # a huge declared length and nothing behind it
            await c.send(sframe(2, length=1 << 62))
        elif i == 1:  # fragments that only together pass the limit
            await c.send(sframe(1, b"a" * 2500, fin=False) + sframe(0, b"b" * 2500))
        elif i == 2:  # exactly at the limit: delivered; one byte more: refused
            await c.send(sframe(2, b"z" * 4000) + sframe(2, b"z" * 4001))
        else:  # within max_size but more than the heap has: 1009 too, no MemoryError
            await c.send(sframe(2, b"m" * 150000))
        f = await c.frame()
        srv.log.append((i, (f.op, f.close_code(), f.payload[2:].decode())))

    srv = serve(script)
    out = mprun(srv.port, "oversize_closes_1009_in_small_heap", heapsize="96k", env={"MICROPYPATH": _mpy_dir(tmp_path)})   # room for 4000 B in
    # any fragmentation the arrival of the frames leaves; 150000 B never fit
    too_big = "WSClosed 1009 message over 4000 bytes"
    oom = "WSClosed 1009 out of memory"
    assert out == [too_big, too_big, "MSG 4000 122 122", too_big, oom]
    assert srv.logged(4) == [(8, 1009, "message over 4000 bytes")] * 3 + [(8, 1009, "out of memory")]


# ---- a real server ------------------------------------------------------------------

def test_against_websockets_server():
    from websockets.asyncio.server import serve as ws_serve

    got = []

    async def handler(conn):
        got.append((conn.request.path, conn.subprotocol))
        await conn.ping(b"hb")  # the client must answer it
        async for m in conn:
            if m == "bye":
                await conn.close(4001, "done")
                return
            await conn.send(m)

    loop = asyncio.new_event_loop()
    th = threading.Thread(target=loop.run_forever, daemon=True)
    th.start()
    async def start():
        return await ws_serve(handler, "127.0.0.1", 0, subprotocols=["ocpp1.6"],
                              ping_interval=None)

    srv = asyncio.run_coroutine_threadsafe(start(), loop).result(5)
    port = srv.sockets[0].getsockname()[1] if hasattr(srv, "sockets") else list(
        srv.server.sockets)[0].getsockname()[1]
    try:
        out = mprun(port, "against_websockets_server")
    finally:
        srv.close()
        asyncio.run_coroutine_threadsafe(srv.wait_closed(), loop).result(5)
        loop.call_soon_threadsafe(loop.stop)
        th.join(5)
    assert out == ["ocpp1.6", "'[2,\"1\",\"Heartbeat\",{}]'", "True", "WSClosed 4001 done"]
    assert got == [("/ocpp/CP%201", "ocpp1.6")]


# ---- wss ---------------------------------------------------------------------------------

def _ca_and_leaf(tmp_path, name):
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID
    import ipaddress

    now = datetime.datetime.now(datetime.timezone.utc)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Test CA " + name)])
    ca = (x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name)
          .public_key(ca_key.public_key()).serial_number(x509.random_serial_number())
          .not_valid_before(now - datetime.timedelta(days=1))
          .not_valid_after(now + datetime.timedelta(days=30))
          .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
          .add_extension(x509.KeyUsage(False, False, False, False, False, True, True, False,
                                       False), critical=True)
          .sign(ca_key, hashes.SHA256()))
    key = ec.generate_private_key(ec.SECP256R1())
    leaf = (x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")]))
            .issuer_name(ca_name).public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(days=1))
            .not_valid_after(now + datetime.timedelta(days=30))
            .add_extension(x509.SubjectAlternativeName(
                [x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
            .sign(ca_key, hashes.SHA256()))
    pem = serialization.Encoding.PEM
    cert_file, key_file = tmp_path / (name + ".crt"), tmp_path / (name + ".key")
    cert_file.write_bytes(leaf.public_bytes(pem))
    key_file.write_bytes(key.private_bytes(pem, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return ca.public_bytes(serialization.Encoding.DER), str(cert_file), str(key_file)


def test_wss_verified_and_wrong_ca(serve, tmp_path):
    ca_der, cert, key = _ca_and_leaf(tmp_path, "good")
    other_ca_der, _, _ = _ca_and_leaf(tmp_path, "other")
    sctx = pyssl.SSLContext(pyssl.PROTOCOL_TLS_SERVER)
    sctx.load_cert_chain(cert, key)

    async def script(c, i):
        # (a client that refuses the certificate never gets this far: asyncio runs the
        # TLS handshake before calling us)
        await c.handshake()
        f = await c.frame()
        await c.send(sframe(1, b"secure " + f.payload))
        f = await c.frame()
        await c.send(sframe(2, f.payload[:10000], fin=False) + sframe(0, f.payload[10000:]))
        await c.echo_close()
        srv.log.append((i, "ok"))

    srv = serve(script, ssl=sctx)
    out = mprun(srv.port, "wss_verified_and_wrong_ca", ca=ca_der.hex(), other_ca=other_ca_der.hex())
    assert out == ["'secure hello'", "True",
                   "WSError 0 TLS: The certificate is not correctly signed by the trusted CA"]
    assert srv.logged(1) == ["ok"] and srv.n == 1


def test_sha1_fallback_matches_hashlib():
    """ws.sha1: the handshake's SHA-1 on ports whose hashlib has none (built without TLS)."""
    got = json.loads(mprun(0, "sha1_fallback")[-1])
    want = [hashlib.sha1(bytes((i * 7 + n) & 255 for i in range(n))).hexdigest()
            for n in (0, 1, 55, 56, 63, 64, 65, 119, 120, 200)]
    assert got == want
