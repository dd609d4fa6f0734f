"""firmware.persist.settings on a failing flash (MicroPython, the simulated littlefs): a failed
write (EIO) never raises into the caller (it killed the 2.0.1 adapter's worker task in
the power-cut fuzz: BootNotification's interval was being saved), the value stays in
force in RAM, the log says so, and the next save writes it."""
import json

from tests import mp

CODE = r"""
import os, sys, json, store
from boards.sim.flash import FlashDevice, umount
from firmware.persist.settings import Settings
from firmware import log
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
out['log'] = [x for x in log.tail(8) if 'settings' in x]
t = Settings('/flash/settings.json'); t.load()
out['flash_before'] = t.get('HeartbeatInterval')
s.set('MeterValueSampleInterval', 30)           # the flash works again: both written
t = Settings('/flash/settings.json'); t.load()
out['flash_after'] = [t.get('HeartbeatInterval'), t.get('MeterValueSampleInterval')]
print(json.dumps(out))
"""


def test_failed_settings_write_keeps_the_value_and_never_raises(tmp_path):
    out = json.loads(mp.run(CODE, args=(str(tmp_path / "s.img"),)).stdout.strip().splitlines()[-1])
    assert out["ram"] == 77
    assert out["log"] and "not saved" in out["log"][-1]
    assert out["flash_before"] != 77
    assert out["flash_after"] == [77, 30]
