"""RFC 6455 WebSocket client over asyncio streams (ws:// and wss://).

    cli = await ws.connect("wss://csms/ocpp/" + ws.quote(station_id), ssl=ctx)
    msg = await cli.recv()      # str or bytes; raises ws.WSClosed
    await cli.send(msg)
    await cli.close()

API contract: docs/architecture.md, "lib/ws".

The opening handshake (ws.handshake and ws.sha1, about a third of the package: 3 KB of
heap on a 32-bit board when loaded as .mpy) is needed while connecting only: connect()
imports it and unloads it again once the attempt is over (unless it was loaded before,
by someone else), so an open connection holds only ws.client.
"""
from micropython import const
import sys
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
    kept = "ws.handshake" in sys.modules
    try:
        from .handshake import connect
        return await connect(*args, **kw)
    finally:
        if not kept:
            _unload("ws.handshake")
            _unload("ws.sha1")


def _unload(name):
    """Forgets a submodule of ws (sys.modules and the package attribute)."""
    m = sys.modules.pop(name, None)
    me = sys.modules.get("ws")
    leaf = name[3:]
    if m is not None and me is not None and getattr(me, leaf, None) is m:
        delattr(me, leaf)
