"""The OCPP side never stops for good while the loop runs on (and with it the
watchdog, which would otherwise keep an offline station looking healthy): a failure
that leaves the adapter's run() (a MemoryError while connecting, a bug) is logged and
the adapter is started again (firmware.main.Firmware._adapter_run)."""
from tests import mp


def test_adapter_started_again_after_a_failure():
    out = mp.run_file("adapter_restart")
    assert out["runs"] == 3
    text = "\n".join(out["log"])
    assert "ocpp stopped: MemoryError" in text and "starting it again" in text
    assert "ocpp stopped: KeyError" in text
