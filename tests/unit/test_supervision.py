"""The OCPP side never stops for good while the loop runs on (and with it the
watchdog, which would otherwise keep an offline station looking healthy): a failure
that leaves the adapter's run() (a MemoryError while connecting, a bug) is logged,
counted (Firmware.ocpp_restarts, ocpp_failure) and the adapter is started again
(firmware.main.Firmware._adapter_run)."""
from tests import mp


def test_adapter_started_again_after_a_failure():
    out = mp.run_file("adapter_restart")
    assert out["runs"] == 3
    assert out["restarts"] == 2 and out["failure"] == "KeyError"     # MemoryError, then KeyError
