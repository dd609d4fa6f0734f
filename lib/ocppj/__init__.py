"""OCPP-J RPC for OCPP 1.6J and 2.0.1: see docs/architecture.md, "lib/ocppj".

    rpc = ocppj.Rpc("2.0.1", handler, requests=schema.REQUESTS, responses=schema.RESPONSES)
    await rpc.serve(cli)                       # reader loop, one per connection
    res = await rpc.call("Heartbeat", {})      # one CALL at a time
"""
from .payload import check, lookup
from .rpc import Rpc, Error, CallError, Timeout, Disconnected
