"""The OCPP side never stops for good while the loop runs on (and with it the
watchdog, which would otherwise keep an offline station looking healthy): a failure
that leaves the adapter's run() (a MemoryError while connecting, a bug) is logged and
the adapter is started again (firmware.main.Firmware._adapter_run)."""
import json

from tests import mp

CODE = r"""
import asyncio, json
from firmware import main as M, log

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
asyncio.run(M.Firmware._adapter_run(fw))
print(json.dumps({"runs": Adapter.runs, "log": log.tail(8)}))
"""


def test_adapter_started_again_after_a_failure():
    out = json.loads(mp.run(CODE).stdout.strip().splitlines()[-1])
    assert out["runs"] == 3
    text = "\n".join(out["log"])
    assert "ocpp stopped: MemoryError" in text and "starting it again" in text
    assert "ocpp stopped: KeyError" in text
