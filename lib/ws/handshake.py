"""Opening handshake (RFC 6455 4.1, 4.2.2) and ws.connect().

Also here (one module: each module costs the heap its names and a module object):
- split() a ws:// URL;
- dial(): the TCP (and TLS) link as an asyncio stream, the socket closed on any failure.
  Same steps as asyncio.open_connection(host, port, ssl=ctx, server_hostname=host), but
  it keeps hold of the socket: open_connection drops it unclosed when a timeout cancels
  it during the TCP connect (the unix port's sockets have no finaliser and lwIP has only
  a handful), and a station retrying an unreachable CSMS would run out of sockets."""
from micropython import const
import asyncio
import binascii
import hashlib
import socket
from errno import EINPROGRESS
from .client import Client, Reader, WSError

_GUID = const(b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11")  # RFC 6455 1.3
_RBUF = const(512)  # read buffer: longer header lines are cut (they are not ours)
_HEAD_MAX = const(8192)  # the whole HTTP response head
_PORT_WS = const(80)
_PORT_WSS = const(443)
_CERT_NONE = const(0)  # tls.CERT_NONE
_ENOENT = const(2)  # getaddrinfo() gave no address
# The response headers we check; others are read and dropped.
_WANTED = const((b"upgrade", b"connection", b"sec-websocket-accept", b"sec-websocket-protocol",
                 b"sec-websocket-extensions"))


# ---- URL ------------------------------------------------------------------------------

# RFC 3986 2.3 unreserved characters; everything else in a segment is percent-encoded.
def split(url):
    """ws[s]://host[:port][/path] -> (secure, host, port, path). ValueError if malformed."""
    i = url.find("://")
    if i < 0:
        raise ValueError("no scheme")
    scheme = url[:i].lower()
    if scheme == "ws":
        secure = False
    elif scheme == "wss":
        secure = True
    else:
        raise ValueError("scheme not ws/wss")
    rest = url[i + 3 :]
    j = rest.find("/")
    if j < 0:
        hostport, path = rest, "/"
    else:
        hostport, path = rest[:j], rest[j:]
    k = rest.find("?")
    if 0 <= k and (j < 0 or k < j):
        hostport, path = rest[:k], "/" + rest[k:]
    if "@" in hostport:
        raise ValueError("userinfo in URL: use auth=")
    port = _PORT_WSS if secure else _PORT_WS
    if hostport.startswith("["):  # IPv6 literal, RFC 3986 3.2.2
        e = hostport.find("]")
        if e < 0:
            raise ValueError("bad IPv6 literal")
        host, tail = hostport[1:e], hostport[e + 1 :]
    else:
        c = hostport.rfind(":")
        host, tail = (hostport, "") if c < 0 else (hostport[:c], hostport[c:])
    if tail:
        if tail[0] != ":" or not tail[1:].isdigit():
            raise ValueError("bad port")
        port = int(tail[1:])
        if not 0 < port < 65536:
            raise ValueError("bad port")
    if not host:
        raise ValueError("no host")
    return secure, host, port, path


# ---- dial -----------------------------------------------------------------------------

def _writable(sock):
    # async: wait until the connect has finished, exactly as open_connection does.
    yield asyncio.core._io_queue.queue_write(sock)


async def dial(host, port, ssl=None):
    """-> asyncio stream (reader and writer in one, as in MicroPython's asyncio).

    ssl: a tls.SSLContext (server certificate checked against `host`) or None.
    Each address getaddrinfo() gives is tried in turn until one connects: a CSMS name
    with AAAA and A records where IPv6 is not routed (or `localhost` as ::1 and
    127.0.0.1 with the server on one of them) has a first address that refuses or is
    unreachable. The caller's timeout (connect()'s) bounds all the attempts together; the
    last address's error is raised. The TLS handshake itself runs on the first
    write/read. getaddrinfo() blocks, as it does in open_connection: use an IP address
    or a fast resolver.
    """
    err = None
    for ai in socket.getaddrinfo(host, port, 0, socket.SOCK_STREAM):
        sock = socket.socket(ai[0], ai[1], ai[2])
        ok = False
        try:
            sock.setblocking(False)
            try:
                sock.connect(ai[-1])
            except OSError as e:
                if e.errno != EINPROGRESS:
                    raise
            await _writable(sock)
            sock.send(b"")      # nothing sent: the connect's own error (refused...) or 0
            if ssl is not None:
                sock = ssl.wrap_socket(sock, server_hostname=host, do_handshake_on_connect=False)
                sock.setblocking(False)
            ok = True
            return asyncio.StreamReader(sock)
        except OSError as e:
            err = e
        finally:
            if not ok:
                sock.close()
    raise err if err is not None else OSError(_ENOENT)


# ---- handshake ------------------------------------------------------------------------

def _b64(b):
    return binascii.b2a_base64(b)[:-1]  # drop the trailing newline


def accept_for(key):
    """Sec-WebSocket-Accept for a Sec-WebSocket-Key (both base64 bytes), RFC 6455 4.2.2."""
    if hasattr(hashlib, "sha1"):
        return _b64(hashlib.sha1(key + _GUID).digest())
    from .sha1 import digest            # a port built without TLS has no hashlib.sha1
    return _b64(digest(key + _GUID))


def basic_auth(user, password):
    """Authorization header value (RFC 7617); password may be str or bytes."""
    u = user.encode() if isinstance(user, str) else bytes(user)
    p = password.encode() if isinstance(password, str) else bytes(password)
    if b":" in u:
        raise WSError("auth user contains ':'")
    return "Basic " + _b64(u + b":" + p).decode()


def _clean(s, what):
    # Values go into the request head verbatim: refuse anything that could split it.
    for c in " ,\r\n" if what == "subprotocol" else " \r\n":
        if c in s or not s:
            raise WSError("bad %s %r" % (what, s))
    return s


def request(host, port, secure, path, key, protocols, auth):
    """The HTTP/1.1 upgrade request (RFC 6455 4.1), as bytes."""
    h = "[%s]" % host if ":" in host else host
    if port != (_PORT_WSS if secure else _PORT_WS):
        h = "%s:%d" % (h, port)
    parts = [
        "GET ", _clean(path, "path"), " HTTP/1.1\r\nHost: ", h,
        "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: ",
        key.decode(), "\r\nSec-WebSocket-Version: 13\r\n",
    ]
    if protocols:
        parts.append("Sec-WebSocket-Protocol: ")
        parts.append(", ".join([_clean(p, "subprotocol") for p in protocols]))
        parts.append("\r\n")
    if auth is not None:
        parts.append("Authorization: ")
        parts.append(basic_auth(auth[0], auth[1]))
        parts.append("\r\n")
    parts.append("\r\n")
    return "".join(parts).encode()


async def read_head(rd, wanted):
    """An HTTP/1.x response head (RFC 9112 4, 5) from a Reader, at most _HEAD_MAX bytes:
    -> (status, {name: value}) for the lower-case header names in `wanted` (others are
    read and dropped; a repeated one is joined with "," as HTTP does). ValueError on a
    bad status line or an overlong head: each caller (this handshake, lib/httpc) turns it
    into its own error."""
    budget = _HEAD_MAX
    try:
        line, n = await rd.line(budget)
        budget -= n
        f = line.split(None, 2)
        if len(f) < 2 or not f[0].startswith(b"HTTP/1.") or not f[1].isdigit():
            raise ValueError("bad status line %r" % line[:40])
        hdr = {}
        while True:
            line, n = await rd.line(budget)
            budget -= n
            if not line:
                return int(f[1]), hdr
            c = line.find(b":")
            name = line[:c].strip().lower() if c > 0 else None
            if name in wanted:
                if name in hdr:
                    hdr[name] += b"," + line[c + 1 :].strip()
                else:
                    hdr[name] = line[c + 1 :].strip()
    except ValueError as e:
        if e.args:
            raise
        raise ValueError("response head over %d bytes" % _HEAD_MAX)   # (Reader.line's)


async def response(rd, key, protocols):
    """Read and check the server's answer; returns the chosen subprotocol (str or None)."""
    try:
        status, hdr = await read_head(rd, _WANTED)
    except ValueError as e:
        raise WSError(e.args[0])
    if status != 101:
        raise WSError("HTTP status %d" % status, status)
    if hdr.get(b"upgrade", b"").lower() != b"websocket":
        raise WSError("no 'Upgrade: websocket'")
    if b"upgrade" not in [t.strip() for t in hdr.get(b"connection", b"").lower().split(b",")]:
        raise WSError("no 'Connection: Upgrade'")
    if hdr.get(b"sec-websocket-accept") != accept_for(key):
        raise WSError("bad Sec-WebSocket-Accept")
    if b"sec-websocket-extensions" in hdr:
        raise WSError("server chose an extension, none offered")
    chosen = hdr.get(b"sec-websocket-protocol")
    if chosen is None:
        if protocols:
            raise WSError("server chose no subprotocol of %s" % ", ".join(protocols))
        return None
    chosen = chosen.decode()
    if chosen not in protocols:
        raise WSError("server chose subprotocol %r, offered: %s" % (chosen, ", ".join(protocols)))
    return chosen


async def _open(host, port, secure, path, ssl, key, protocols, auth, timeout_ms):
    req = request(host, port, secure, path, key, protocols, auth)
    s = await dial(host, port, ssl)
    ok = False
    try:
        s.write(req)
        await s.drain()
        rd = Reader(s, _RBUF, timeout_ms)
        proto = await response(rd, key, protocols)
        ok = True
        return s, rd, proto
    finally:
        if not ok:
            s.close()
            await s.wait_closed()


async def connect(url, protocols=("ocpp2.0.1", "ocpp1.6"), auth=None, ssl=None,
                  timeout_ms=10000, max_size=16384, ping_interval_s=0, pong_timeout_s=10,
                  rand=None):
    """Open a WebSocket client connection; -> Client. See docs/architecture.md "lib/ws".

    ssl: a tls.SSLContext, required for wss:// (there is no unverified fallback) and
    unused for ws://. rand(n) -> n random bytes (default os.urandom): the handshake key
    and the frame mask keys come from it. Raises WSError, with .code = HTTP status or 0.
    """
    try:
        secure, host, port, path = split(url)
    except ValueError as e:
        raise WSError("bad URL %r: %s" % (url, e))
    if not secure:
        ssl = None
    elif ssl is None or not hasattr(ssl, "wrap_socket"):
        raise WSError("wss:// needs ssl=<tls.SSLContext>")
    elif getattr(ssl, "verify_mode", None) == _CERT_NONE:
        raise WSError("wss:// with an SSLContext that does not verify the server")
    protocols = tuple(protocols or ())
    if rand is None:
        from os import urandom as rand
    key = _b64(rand(16))
    try:
        s, rd, proto = await asyncio.wait_for_ms(
            _open(host, port, secure, path, ssl, key, protocols, auth, timeout_ms), timeout_ms
        )
    except asyncio.TimeoutError:
        raise WSError("handshake timeout after %d ms" % timeout_ms)
    except (OSError, EOFError) as e:
        raise WSError("connect to %s:%d failed: %r" % (host, port, e), cause=e)
    except ValueError as e:  # Mbed TLS certificate verification failures
        raise WSError("TLS: %s" % (e.args[0].strip() if e.args else repr(e)), cause=e)
    return Client(s, rd, proto, max_size, timeout_ms, ping_interval_s, pong_timeout_s, rand)
