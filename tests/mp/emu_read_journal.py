"""Typed at the emulated Pico's raw REPL by tests/emu/test_emu_power_cuts.py (the station
stopped): the transaction journal on its flash, a JSON line for the open() summary, then
[id, action, local transaction number] per pending record; last, the image's ROMFS
partition: {"rom_segments": vfs.rom_ioctl(1)} (None: an image built without one)."""
import json
import vfs

from firmware.ocpp.pack import pack, unpack
from store.journal import Journal

j = Journal("/flash/txjournal", max_bytes=192 * 1024, max_records=1600, encode=pack, decode=unpack)
print(json.dumps(j.open()))
for rid, rec in j.pending():
    print(json.dumps([rid, rec.get("a"), (rec.get("m") or {}).get("ltx")]))
print(json.dumps({"rom_segments": vfs.rom_ioctl(1) if hasattr(vfs, "rom_ioctl") else None}))
