"""Firmware._adapter_run starts the adapter again after a failure (tests/unit/test_supervision.py)."""
from out import report
import asyncio, json
from firmware import main

class Adapter:
    runs = 0
    async def run(self):
        Adapter.runs += 1
        if Adapter.runs == 1:
            raise MemoryError("memory allocation failed, allocating 512 bytes")
        if Adapter.runs == 2:
            raise KeyError("a bug")
        # the third run returns: _adapter_run returns with it

class Fw:
    pass

fw = Fw()
fw.board = object()                 # no ready(): no network bring-up
fw.adapter = Adapter()
fw.ocpp_restarts, fw.ocpp_failure = 0, None      # as Firmware.__init__ sets them
asyncio.run(main.Firmware._adapter_run(fw))
report({"runs": Adapter.runs, "restarts": fw.ocpp_restarts, "failure": fw.ocpp_failure})
