"""firmware.persist.settings on a flash whose write fails (tests/unit/test_settings_flash.py).

argv: IMG — the flash image"""
from out import report
import os, sys, json, store
from boards.sim.flash import FlashDevice, umount
from firmware.persist.settings import Settings
IMG = sys.argv[-1]
try: os.remove(IMG)
except OSError: pass
d = FlashDevice(IMG, 64); d.mount('/flash')
def refault():
    umount('/flash'); os.mount(d.vfs(), '/flash')
store.on_fault = refault
s = Settings('/flash/settings.json'); s.load()
out = {}
d.fail_after(1)
s.set('HeartbeatInterval', 77)                  # the write fails: no exception
out['ram'] = s.get('HeartbeatInterval')
t = Settings('/flash/settings.json'); t.load()
out['flash_before'] = t.get('HeartbeatInterval')
d.fail_after(1)
out['save'] = s.save()                          # False: the flash refused it
s.set('MeterValueSampleInterval', 30)           # the flash works again: both written
t = Settings('/flash/settings.json'); t.load()
out['flash_after'] = [t.get('HeartbeatInterval'), t.get('MeterValueSampleInterval')]
report(out)
