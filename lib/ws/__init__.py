"""RFC 6455 WebSocket client over asyncio streams (ws:// and wss://).

    cli = await ws.connect("wss://csms/ocpp/" + ws.quote(station_id), ssl=ctx)
    msg = await cli.recv()      # str or bytes; raises ws.WSClosed
    await cli.send(msg)
    await cli.close()

API contract: docs/architecture.md, "lib/ws".
"""
from .client import WSError, WSClosed
from .handshake import quote
from .handshake import connect
