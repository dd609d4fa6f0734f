"""RFC 6455 WebSocket client over asyncio streams (ws:// and wss://).

    cli = await ws.connect("wss://csms/ocpp/" + ws.quote(station_id), ssl=ctx)
    msg = await cli.recv()      # str or bytes; raises ws.WSClosed
    await cli.send(msg)
    await cli.close()

API contract: docs/architecture.md, "lib/ws".

The opening handshake (ws.handshake, about a third of the package) is imported by the
first connect(), not by `import ws`: an application that needs the heap between
connections may drop it after each one (del sys.modules["ws.handshake"]; the next
connect() loads it again).
"""
from micropython import const
from .client import WSError, WSClosed

# RFC 3986 2.3 unreserved characters; everything else in a segment is percent-encoded.
_SAFE = const(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")


def quote(s):
    """Percent-encode one URL path segment ("RDAM 123" -> "RDAM%20123"), UTF-8 based."""
    b = s.encode() if isinstance(s, str) else bytes(s)
    out = []
    for c in b:
        out.append(chr(c) if c in _SAFE else "%%%02X" % c)
    return "".join(out)


async def connect(*args, **kw):
    """Open a WebSocket client connection; -> Client (ws.handshake.connect)."""
    from .handshake import connect
    return await connect(*args, **kw)
