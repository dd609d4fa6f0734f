"""lib/ws: connect() dials each address of the CSMS name in turn (tests/unit/test_ws.py).

argv: PORT (a WebSocket server on 127.0.0.1 only), REFUSED (a port nothing listens on).
The name's addresses come from a stand-in for the socket module in ws.handshake whose
getaddrinfo() answers what each case needs; everything else is the real socket."""
import asyncio
import socket
import sys

import ws
from ws import handshake

from out import error_name, report

PORT = int(sys.argv[1])
REFUSED = int(sys.argv[2])


class Resolver:
    """The socket module's names, and getaddrinfo() giving `addrs`: (host, port) pairs
    resolved as numeric addresses, in that order (a name's AAAA and A records)."""

    def __init__(self, addrs):
        for n in dir(socket):
            if not n.startswith("__") and n != "getaddrinfo":
                setattr(self, n, getattr(socket, n))
        self.addrs = addrs
        self.asked = []

    def getaddrinfo(self, host, port, *args):
        self.asked.append(host)
        out = []
        for h, p in self.addrs:
            out += socket.getaddrinfo(h, p, 0, socket.SOCK_STREAM)
        return out


async def case(addrs, timeout_ms=3000):
    handshake.socket = Resolver(addrs)
    try:
        cli = await ws.connect("ws://csms.example:%d/ocpp/CP1" % PORT, protocols=("ocpp1.6",),
                               timeout_ms=timeout_ms)
    except ws.WSError as e:
        return {"error": "WSError", "cause": error_name(e.cause) if e.cause else None,
                "asked": handshake.socket.asked}
    finally:
        handshake.socket = socket
    await cli.close()
    return {"connected": cli.protocol}


async def main():
    out = {}
    # the first address refuses (nothing listens there), the second is the server
    out["refused_first"] = await case([("127.0.0.1", REFUSED), ("127.0.0.1", PORT)])
    # IPv6 loopback first, the server on IPv4 only (a minimal Debian's localhost)
    out["v6_first"] = await case([("::1", PORT), ("127.0.0.1", PORT)])
    # the server first: no other address is tried
    out["server_first"] = await case([("127.0.0.1", PORT), ("127.0.0.1", REFUSED)])
    # every address refuses: the last one's error
    out["all_refuse"] = await case([("::1", REFUSED), ("127.0.0.1", REFUSED)])
    report(out)


asyncio.run(main())
