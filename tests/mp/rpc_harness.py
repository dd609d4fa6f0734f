"""lib/ocppj against a loopback fake link (tests/unit/test_rpc.py): Cli (push() feeds
recv(), send() prints OUT lines, drop() takes the link down), a handler with one
behaviour per action (CallError, an oversized description, a bug, no reply, a slow one,
one that awaits our own call), setup() of a serving Rpc and call() printing RES / EXC
lines. The tests' bodies start with `from rpc_harness import *`."""
import asyncio
import json

import ocppj
from firmware.ocpp.v16 import schema as schema16
from firmware.ocpp.v201 import schema as schema201


class Log:

    def warn(self, tag, fmt, *args):
        print("LOG", fmt % args)

    def debug(self, tag, fmt, *args):
        pass


class Cli:
    """Loopback link: push() feeds recv(), send() prints, drop() takes the link down."""
    def __init__(self):
        self.inq = []
        self.ev = asyncio.Event()
        self.up = True

    async def recv(self):
        while not self.inq:
            if not self.up:
                raise OSError("closed")
            self.ev.clear()
            await self.ev.wait()
        return self.inq.pop(0)

    async def send(self, s):
        if not self.up:
            raise OSError("closed")
        print("OUT", s)

    def push(self, m):
        self.inq.append(m)
        self.ev.set()

    def drop(self):
        self.up = False
        self.ev.set()


async def handler(action, p):
    if action == "ClearCache":
        raise ocppj.CallError("NotSupported", "no cache", {"why": "test"})
    if action == "ChangeAvailability":
        raise ocppj.CallError("GenericError", "d" * 300)
    if action == "UnlockConnector":
        raise ValueError("handler bug")
    if action == "GetLocalListVersion":
        return None
    if action == "DataTransfer":
        await asyncio.sleep_ms(100)
    if action == "TriggerMessage":      # a handler may await our own call()
        print("NESTED", json.dumps(await RPC[0].call("Heartbeat", {})))
    return {"status": "Accepted"}


RPC = [None]


async def settle():
    for _ in range(20):
        await asyncio.sleep_ms(0)


def setup(v, rand=lambda: 0xabc):
    cli = Cli()
    S = schema16 if v == "1.6" else schema201
    rpc = ocppj.Rpc(v, handler, requests=S.REQUESTS, responses=S.RESPONSES, log=Log(),
                    rand=rand)
    RPC[0] = rpc
    return cli, rpc, asyncio.create_task(rpc.serve(cli))


async def call(rpc, *a, **kw):
    try:
        print("RES", json.dumps(await rpc.call(*a, **kw)))
    except ocppj.CallError as e:
        print("EXC CallError", e.code, e.description, json.dumps(e.details))
    except ocppj.Error as e:
        print("EXC", type(e).__name__)
