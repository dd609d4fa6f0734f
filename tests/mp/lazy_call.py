"""firmware.memory.call: a module loaded for one call and gone after it, whether the call
returned or raised; the adapters as booted hold none of the rare handlers' modules
(tests/unit/test_lazy_handlers.py). The module called: tests/mp/probe_mod.py."""
from out import report
import sys, json, asyncio, gc
from firmware import memory
from firmware.ocpp.v16.core import Adapter16
from firmware.ocpp.v201.core import Adapter201

class A:
    pass

out = {}
a = A()
import firmware.log                   # loaded before: stays
r = asyncio.run(memory.call("probe_mod", "f", a, 5))
out["result"] = r
out["after"] = [m for m in ("probe_mod", "x509", "x509.der", "firmware.log") if m in sys.modules]
try:
    asyncio.run(memory.call("probe_mod", "boom", a))
except ValueError as e:
    out["raised"] = str(e)
out["after_raise"] = [m for m in ("probe_mod", "x509") if m in sys.modules]
async def later():
    s = await memory.call("probe_mod", "start", a)
    await asyncio.sleep_ms(50)
    return s, a.done
out["task"] = list(asyncio.run(later()))
# every module a routing table loads for a call, and what those bring in
per_call = set(w for _, w in Adapter16.ROUTES + Adapter201.ROUTES if w)
out["loaded"] = sorted(m for m in sys.modules if m.startswith("firmware.security.certs") or m in per_call
                       or m in ("firmware.diag.reader", "firmware.update.job", "firmware.update.bundle",
                                "httpc", "x509", "csr"))
out["lazy16"] = sorted(set(w for _, w in Adapter16.ROUTES if w))
out["lazy201"] = sorted(set(w for _, w in Adapter201.ROUTES if w))
report(out)
