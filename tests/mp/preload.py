"""firmware.main.preload for a version (tests/unit/test_lazy_handlers.py).

argv: VERSION — 1.6 or 2.0.1"""
from out import report
import sys, json, micropython
from firmware import main, log
before = set(sys.modules)
ring = log._ring
main.preload(sys.argv[-1])
import firmware.ocpp.v16.core, firmware.ocpp.v201.core
import gc
total = gc.mem_free() + gc.mem_alloc()
report({"ring": [ring is None, len(log._ring), log.tail()],
                  "gc": [gc.threshold(), max(4096, total // 4)],
                  "left": sorted(m for m in sys.modules if m not in before),
                  "preload": list(firmware.ocpp.v16.core.Adapter16.PRELOAD_NAMES
                                  if sys.argv[-1] == "1.6" else
                                  firmware.ocpp.v201.core.Adapter201.PRELOAD_NAMES)})
