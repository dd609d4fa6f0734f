"""Typed at the emulated Pico's raw REPL by tests/emu/test_emu_romfs.py after the boot
into the ROMFS half (the station stopped, its modules kept): one JSON line, the slot
lib/fwslot chose, the version the running firmware carries, where its main module was
imported from, and the first sys.path entries."""
import json
import sys

import fwslot
from firmware.version import VERSION

m = sys.modules.get("firmware.main")
print(json.dumps({"run": fwslot.state("/flash")["run"], "version": VERSION,
                  "main": getattr(m, "__file__", None), "path": sys.path[:2]}))
