"""lib/ws: connect() unloads its handshake code after the attempt unless it was loaded
before (tests/unit/test_lazy_handlers.py).

argv: PORT — a port nothing listens on"""
from out import report
import sys, json, asyncio
import ws
port = int(sys.argv[-1])             # nothing listens there: the connect is refused
out = {}
async def attempt():
    try:
        await ws.connect("ws://127.0.0.1:%d/x" % port, timeout_ms=2000)
    except (ws.WSError, OSError) as e:
        return type(e).__name__
out["failed"] = asyncio.run(attempt())
out["after"] = sorted(m for m in sys.modules if m.startswith("ws"))
from ws import handshake          # loaded by someone else before: theirs, it stays
asyncio.run(attempt())
out["kept"] = "ws.handshake" in sys.modules
report(out)
