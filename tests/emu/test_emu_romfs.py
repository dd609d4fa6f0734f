"""A firmware update run from the image's ROMFS partition on the emulated Pico (issue 17,
docs/firmware-update.md "Boards: ROMFS"): the ROMFS bundle (tools/fwupd/bundle.py
--romfs, the whole firmware as .mpy) written into half "a" of the partition in the flash
file between two runs (the emulated USB REPL is too slow for 200 KB), the half made the
trial over the raw REPL as the update job does; the next boot runs the station from the
half in place (lib/fwslot/rom.py) with the bundle's version. The live heap after boot,
frozen and from the half, goes to build/emu/figures.json."""
import json
import os

import pytest

from tests.emu.emuctl import mp_program, record
from tools.fwupd import bundle

# the partition's place in the flash: right after the RPI_PICO code area (2 MiB less
# the port's 1408 KiB file system; tests/unit/test_image.py reads it from the image)
ROMFS_AT = 2048 * 1024 - 1408 * 1024
VERSION = "9.9.9-romfs"


def idle(emu):
    return emu.until(lambda s: s["evses"][0].get("state") == "Idle" and s.get("heap_used"),
                     what="the station idle, its heap published")


@pytest.mark.slow
def test_boot_into_a_romfs_half(make_emu):
    data = bundle.pack_romfs(VERSION, bundle.compile_all(VERSION))
    assert len(data) <= 256 * 1024                      # fits a half
    emu = make_emu()
    frozen = idle(emu)
    out = emu.repl_exec(mp_program("emu_fwrom_trial"))
    assert "trial a" in out, out
    flash = emu.flash
    emu.stop()                                          # saves the flash file
    with open(flash, "r+b") as f:
        f.seek(ROMFS_AT)
        f.write(data)
    emu = make_emu(flash=flash)
    s = idle(emu)
    assert s["boots"] == 1 and s["boot_reason"] == "power-on", s
    assert s["mem_free"] > 120 * 1024, s["mem_free"]
    out = emu.repl_exec(mp_program("emu_fwrom_check"))
    r = json.loads(out.strip().splitlines()[-1])
    assert r["run"] == "a" and r["version"] == VERSION, r
    assert r["main"].startswith("/fwrom/") and r["path"] == ["/fwrom/lib", "/fwrom"], r
    record("heap_used_after_boot_frozen", frozen["heap_used"])
    record("heap_used_after_boot_romfs", s["heap_used"])
    record("heap_free_after_boot_romfs", s["mem_free"])
    assert os.path.getsize(flash) >= ROMFS_AT + len(data)
