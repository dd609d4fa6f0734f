"""A small HTTP/1.1 client over asyncio streams (http:// and https://), for files:
downloads streamed to a sink in bounded chunks (firmware updates) and uploads read from a
source (logs, diagnostics). One request per connection (Connection: close).

    st, n = await httpc.get("https://host/fw.bin", f, ssl=ctx)     # f: an open file
    st = await httpc.send("http://host/up", f, size, method="POST", filename="log.txt")

API contract: docs/architecture.md, "lib/httpc". The TCP/TLS link is lib/ws's dial() (each
address in turn, the socket closed on any failure); the response head is read with
lib/ws's bounded Reader and read_head() (the status line and header loop the WebSocket
handshake uses). Errors: HTTPError(status, msg), status 0 for anything that is not
an HTTP answer (network, TLS, timeout, a malformed response).
"""
from micropython import const
import asyncio

_CHUNK = const(1024)  # read buffer = the largest piece handed to a sink
_HEAD_MAX = const(8192)  # the whole response head
_REDIRECTS = const(3)
_CERT_NONE = const(0)  # tls.CERT_NONE
_HEX = const(b"0123456789abcdefABCDEF")
_WANTED = const((b"content-length", b"transfer-encoding", b"location"))


class HTTPError(Exception):
    """status: the HTTP status of a non-2xx answer, 0 when there was no usable answer."""

    def __init__(self, status, msg):
        super().__init__(msg)
        self.status = status

    def __str__(self):
        return "HTTP %d: %s" % (self.status, self.args[0]) if self.status else self.args[0]


def split(url):
    """http[s]://[user:password@]host[:port][/path] -> (secure, host, port, path, auth);
    auth = (user, password) or None. ValueError if malformed."""
    i = url.find("://")
    if i < 0:
        raise ValueError("no scheme")
    scheme = url[:i].lower()
    if scheme not in ("http", "https"):
        raise ValueError("scheme not http/https")
    rest = url[i + 3 :]
    j = rest.find("/")
    hostport, path = (rest, "/") if j < 0 else (rest[:j], rest[j:])
    auth = None
    a = hostport.rfind("@")
    if a >= 0:
        user, _, pw = hostport[:a].partition(":")
        auth = (user, pw)
        hostport = hostport[a + 1 :]
    # lib/ws parses the host and port the same way (IPv6 literals, port range).
    from ws.handshake import split as ws_split
    _, host, port, _ = ws_split(("wss://" if scheme == "https" else "ws://") + hostport)
    if port == (443 if scheme == "https" else 80):
        port = 443 if scheme == "https" else 80
    for c in " \r\n":
        if c in path:
            raise ValueError("bad character in path")
    return scheme == "https", host, port, path, auth


def _head(method, host, port, secure, path, auth, extra):
    h = "[%s]" % host if ":" in host else host
    if port != (443 if secure else 80):
        h = "%s:%d" % (h, port)
    parts = [method, " ", path, " HTTP/1.1\r\nHost: ", h,
             "\r\nUser-Agent: MicroEVSE\r\nConnection: close\r\n"]
    if auth is not None:
        from ws.handshake import basic_auth
        parts.append("Authorization: " + basic_auth(auth[0], auth[1]) + "\r\n")
    parts += extra
    parts.append("\r\n")
    return "".join(parts).encode()


async def _open(url, ssl, timeout_ms):
    try:
        secure, host, port, path, auth = split(url)
    except ValueError as e:
        raise HTTPError(0, "bad URL %r: %s" % (url, e))
    if not secure:
        ssl = None
    elif ssl is None or not hasattr(ssl, "wrap_socket"):
        raise HTTPError(0, "https:// needs ssl=<tls.SSLContext>")
    elif getattr(ssl, "verify_mode", None) == _CERT_NONE:
        raise HTTPError(0, "https:// with an SSLContext that does not verify the server")
    from ws.handshake import dial
    try:
        s = await asyncio.wait_for_ms(dial(host, port, ssl), timeout_ms)
    except asyncio.TimeoutError:
        raise HTTPError(0, "connect to %s:%d: timeout after %d ms" % (host, port, timeout_ms))
    except OSError as e:
        raise HTTPError(0, "connect to %s:%d failed: %r" % (host, port, e))
    return s, (host, port, secure, path, auth)


async def _response(rd):
    """-> (status, headers {name: value} for the few we use): lib/ws's read_head."""
    from ws.handshake import read_head
    try:
        return await read_head(rd, _WANTED)
    except ValueError as e:
        raise HTTPError(0, e.args[0])


def _length(hdr):
    v = hdr.get(b"content-length")
    if v is None:
        return -1
    if not v.isdigit():
        raise HTTPError(0, "bad Content-Length %r" % v[:20])
    return int(v)


async def _some(rd, limit):
    """Up to `limit` bytes as a memoryview into the reader's buffer (valid until the next
    read); EOFError at the end of the stream."""
    if rd.pos == rd.end:
        await rd.fill()
    n = rd.end - rd.pos
    if n > limit:
        n = limit
    mv = rd.mv[rd.pos : rd.pos + n]
    rd.pos += n
    return mv


async def _body(rd, hdr, out):
    """Feeds the body to out(mv) -> bytes fed; handles Content-Length, chunked and
    close-delimited bodies."""
    if hdr.get(b"transfer-encoding", b"identity").lower() != b"identity":
        if hdr[b"transfer-encoding"].lower() != b"chunked":
            raise HTTPError(0, "unsupported Transfer-Encoding")
        total = 0
        while True:
            line, _ = await rd.line(_CHUNK)
            size = line.split(b";", 1)[0].strip()
            if not size or any(c not in _HEX for c in size) or len(size) > 8:
                raise HTTPError(0, "bad chunk size %r" % line[:20])
            left = int(size, 16)
            if not left:
                while (await rd.line(_HEAD_MAX))[0]:  # trailers
                    pass
                return total
            total += left
            while left:
                mv = await _some(rd, left)
                left -= len(mv)
                out(mv)
            await rd.line(2)
    left = _length(hdr)
    total = 0
    try:
        while left:
            mv = await _some(rd, _CHUNK if left < 0 else left)
            total += len(mv)
            if left > 0:
                left -= len(mv)
            out(mv)
    except EOFError:
        if left > 0:
            raise HTTPError(0, "connection closed %d bytes short" % left)
    return total


async def _close(s):
    try:
        s.close()
        await s.wait_closed()
    except OSError:
        pass


async def _exchange(url, ssl, timeout_ms, head_of, writer=None):
    """Connect, send head_of(link) (and the body through writer(s)), read the answer head.
    -> (stream, reader, status, headers); the caller closes the stream."""
    from ws.client import Reader
    s, link = await _open(url, ssl, timeout_ms)
    ok = False
    try:
        s.write(head_of(link))
        await asyncio.wait_for_ms(s.drain(), timeout_ms)
        if writer is not None:
            await writer(s)
        rd = Reader(s, _CHUNK, timeout_ms)
        status, hdr = await _response(rd)
        ok = True
        return s, rd, status, hdr
    except HTTPError:
        raise
    except asyncio.TimeoutError:
        raise HTTPError(0, "timeout after %d ms" % timeout_ms)
    except (OSError, EOFError) as e:
        raise HTTPError(0, "link lost: %r" % (e,))
    except ValueError as e:  # mbedTLS certificate verification failures
        raise HTTPError(0, "TLS: %s" % (e.args[0].strip() if e.args else repr(e)))
    finally:
        if not ok:
            await _close(s)


async def get(url, sink, ssl=None, timeout_ms=30000, max_bytes=0, start=0):
    """GET url, the body streamed into sink.write(memoryview) in pieces of at most 1 KB.

    start > 0 asks for the rest of the resource from that offset (Range); a server that
    answers with the whole resource (200) has its first `start` bytes skipped, so the sink
    always receives the bytes from `start` on. max_bytes > 0: a body longer than that is
    refused (HTTPError(0, ...)) before or while it arrives. timeout_ms bounds the connect
    and each wait for data. Redirects (301/302/303/307/308) are followed up to three
    times. -> (HTTP status, bytes written to sink)."""
    for _ in range(_REDIRECTS + 1):
        extra = ["Range: bytes=%d-\r\n" % start] if start > 0 else []

        def head(link):
            host, port, secure, path, auth = link
            return _head("GET", host, port, secure, path, auth, extra)

        s, rd, status, hdr = await _exchange(url, ssl, timeout_ms, head)
        try:
            if status in (301, 302, 303, 307, 308) and b"location" in hdr:
                loc = hdr[b"location"].decode()
                if loc.startswith("/"):  # same scheme and host
                    i = url.find("/", url.find("://") + 3)
                    loc = (url if i < 0 else url[:i]) + loc
                url = loc
                continue
            if not 200 <= status < 300:
                raise HTTPError(status, "GET %s" % url)
            skip = start if (start > 0 and status == 200) else 0
            n = _length(hdr)
            if max_bytes > 0 and n - skip > max_bytes:
                raise HTTPError(0, "body of %d bytes over the limit of %d" % (n - skip, max_bytes))
            got = [0, skip]

            def out(mv):
                if got[1]:
                    k = min(got[1], len(mv))
                    got[1] -= k
                    mv = mv[k:]
                    if not mv:
                        return
                got[0] += len(mv)
                if max_bytes > 0 and got[0] > max_bytes:
                    raise HTTPError(0, "body over the limit of %d bytes" % max_bytes)
                sink.write(mv)

            try:
                await _body(rd, hdr, out)
            except asyncio.TimeoutError:
                raise HTTPError(0, "timeout after %d ms" % timeout_ms)
            except (OSError, EOFError) as e:
                raise HTTPError(0, "link lost: %r" % (e,))
            return status, got[0]
        finally:
            await _close(s)
    raise HTTPError(0, "too many redirects")


async def send(url, source, size, method="PUT", ssl=None, timeout_ms=30000,
               filename="log.txt", content_type="application/octet-stream"):
    """Upload `size` bytes read with source.readinto(buf): PUT sends them as the body,
    POST as a multipart/form-data body with one file part named "file" (RFC 7578).
    -> HTTP status (2xx); HTTPError otherwise. timeout_ms bounds the connect and each
    wait."""
    if method not in ("PUT", "POST"):
        raise HTTPError(0, "method %r: PUT or POST" % method)
    for c in '"\r\n':
        if c in filename:
            raise HTTPError(0, "bad filename %r" % filename)
    pre = post = b""
    ctype = content_type
    if method == "POST":
        from os import urandom
        from binascii import hexlify
        boundary = "----MicroEVSE" + hexlify(urandom(8)).decode()
        pre = ("--%s\r\nContent-Disposition: form-data; name=\"file\"; filename=\"%s\"\r\n"
               "Content-Type: %s\r\n\r\n" % (boundary, filename, content_type)).encode()
        post = ("\r\n--%s--\r\n" % boundary).encode()
        ctype = "multipart/form-data; boundary=" + boundary
    extra = ["Content-Type: %s\r\nContent-Length: %d\r\n" % (ctype, len(pre) + size + len(post))]

    def head(link):
        host, port, secure, path, auth = link
        return _head(method, host, port, secure, path, auth, extra)

    async def body(s):
        buf = bytearray(_CHUNK)
        mv = memoryview(buf)
        if pre:
            s.write(pre)
        left = size
        while left:
            n = source.readinto(mv[: min(left, _CHUNK)])
            if not n:
                raise HTTPError(0, "source ended %d bytes short" % left)
            s.write(mv[:n])
            await asyncio.wait_for_ms(s.drain(), timeout_ms)
            left -= n
        if post:
            s.write(post)
        await asyncio.wait_for_ms(s.drain(), timeout_ms)

    s, rd, status, hdr = await _exchange(url, ssl, timeout_ms, head, body)
    await _close(s)
    if not 200 <= status < 300:
        raise HTTPError(status, "%s %s" % (method, url))
    return status
