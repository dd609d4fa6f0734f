"""After a boot into a new firmware (lib/fwslot's trial slot), and after one that went
back to the previous firmware: what the station reports and decides.

- BootNotification Accepted while a trial runs: the trial is committed (it becomes the
  active slot) and Installed is reported (accepted()).
- No Accepted within the configuration's fw_trial_s (default 600 s) of the trial's
  boot: the trial is rejected and the station reboots (once no session runs) into the
  previous firmware (watch()). A trial that crashes, hangs (watchdog) or loses power
  before its commit is taken back by lib/fwslot after its boots.
- The previous firmware, booted again after a rollback, reports InstallationFailed
  (1.6 UpdateFirmware) or InstallVerificationFailed (1.6 SignedUpdateFirmware, 2.0.1)
  with the update's requestId, once registered (accepted())."""
from micropython import const
import asyncio
import fwslot
from firmware import log

_TRIAL_S = const(600)
_POLL_MS = const(1000)


def accepted(a):
    """BootNotification Accepted: commit a trial, queue the result to report."""
    flash = a.flash
    st = fwslot.state(flash)
    job = st["job"] if isinstance(st["job"], dict) else {}
    status = None
    if a.fw_trial:
        a.fw_trial = False
        if fwslot.commit(flash):
            log.warn("fwupd", "version %s accepted by the CSMS: committed", job.get("v"))
            status = "Installed"
            a.security_event("FirmwareUpdated", job.get("v"))    # SW16 §8, 2.0.1 A04: critical
    elif a.fw_result:
        r = a.fw_result
        if r[0] != "committed":
            log.error("fwupd", "version %s did not register (%s): back on the previous "
                      "firmware", r[2], r[0])
            status = "InstallationFailed" if job.get("kind") == "16" else \
                "InstallVerificationFailed"
    a.fw_result = None
    fwslot.clear_result(flash)
    if status is not None:
        a.fw_status = (status, job.get("id"), job.get("kind", "16"))
        a.trigger("FirmwareStatus")       # sent as it is, not as a TriggerMessage answer


async def watch(a):
    """A trial that is not Accepted within fw_trial_s is taken back (one reboot)."""
    limit = a.cfg.get("fw_trial_s", _TRIAL_S) * 1000
    waited = 0
    while a.fw_trial and waited < limit:
        await asyncio.sleep_ms(_POLL_MS)
        waited += _POLL_MS
    if not a.fw_trial:
        return
    log.error("fwupd", "new firmware not accepted within %d s: going back", limit // 1000)
    from fwslot import rom
    fwslot.reject(a.flash, "timeout", rom.board())
    while a.station.busy():
        await asyncio.sleep_ms(_POLL_MS)
    a.persist_boot_reason("FirmwareUpdate")
    a.reset_request = "FirmwareUpdate"
    a.reset_event.set()
