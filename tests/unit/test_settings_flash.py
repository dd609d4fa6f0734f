"""firmware.persist.settings on a failing flash (MicroPython, the simulated littlefs): a failed
write (EIO) never raises into the caller (it killed the 2.0.1 adapter's worker task in
the power-cut fuzz: BootNotification's interval was being saved), the value stays in
force in RAM, save() says it was not written, and the next save writes it."""
from tests import mp


def test_failed_settings_write_keeps_the_value_and_never_raises(tmp_path):
    out = mp.run_file("settings_eio", tmp_path / "s.img")
    assert out["ram"] == 77
    assert out["flash_before"] != 77
    assert out["save"] is False
    assert out["flash_after"] == [77, 30]
