"""Typed at the emulated Pico's raw REPL by tests/emu/test_emu_romfs.py (the station
stopped): half "a" of the ROMFS partition made the trial (lib/fwslot's state on
littlefs), as the update job's install does; the test writes the bundle into that half
of the flash file itself, before the next boot."""
import fwslot

fwslot.set_trial("/flash", "a", None)
print("trial", fwslot.state("/flash")["trial"])
