"""One firmware update, from the request to the reboot into the new firmware (1.6
UpdateFirmware and SignedUpdateFirmware, 2.0.1 L01; docs/firmware-update.md).

    job = Job(a, kind, url, request_id, retrieve, install_at, retries, interval, sig, cert)
    a.fw_job = job; job.task = asyncio.create_task(job.run())

kind: "16" (1.6 UpdateFirmware: FirmwareStatusNotification, its 7 statuses), "16s" (1.6
security extension: SignedFirmwareStatusNotification with requestId), "201" (2.0.1:
FirmwareStatusNotification with requestId). The statuses, in order:

    [DownloadScheduled] Downloading [Downloading after a retry...] Downloaded
      | DownloadFailed (after retries + 1 attempts, retryInterval apart)
    [SignatureVerified | InvalidSignature]    (signed kinds; 1.6 plain: a bundle that is
                                               not whole -> InstallationFailed)
    [InstallScheduled] (installDateTime ahead, or a transaction running: the install waits;
                        the idle EVSEs Unavailable meanwhile unless the setting
                        AllowNewSessionsPendingFirmwareUpdate, 2.0.1 L01.FR.07)
    Installing, [InstallRebooting], reboot into the trial slot (lib/fwslot)
    after the reboot: Installed (the new firmware registered: committed) or, when it did
    not, InstallationFailed (1.6) / InstallVerificationFailed from the previous firmware

The download goes to <flash>/fw/dl.bin in lib/httpc's 1 KB pieces, resumed with a Range
request on a retry; the slot it is unpacked into is emptied first (its room is the
download's). On a board with a ROMFS partition (lib/fwslot/rom.py) the bundle is a ROMFS
image written as it comes into the spare half of the partition (each attempt from the
start), checked from the flash, and the half becomes the trial: nothing to unpack. The job's state is on the adapter (fw_job, fw_status); this module keeps
none of its own."""
from micropython import const
import asyncio
import os
import time
import fwslot
import ocppj
from firmware import log

_POLL_MS = const(1000)
_TIMEOUT_MS = const(30000)
_RESERVE = const(16384)          # flash left free beside the download
_S16 = const(("Downloaded", "DownloadFailed", "Downloading", "Idle", "InstallationFailed",
              "Installing", "Installed"))


def download_path(flash):
    return flash + "/fw/dl.bin"


class Job:
    def __init__(self, a, kind, url, request_id, retrieve, install_at, retries, interval,
                 sig=None, cert=None):
        self.a = a
        self.kind = kind
        self.url = url
        self.id = request_id
        self.retrieve = retrieve        # epoch seconds, or 0: now
        self.install_at = install_at    # epoch seconds, or 0: as soon as possible
        self.tries = max(0, retries) + 1
        self.interval = max(1, interval)
        self.sig = sig
        self.cert = cert
        self.task = None
        self.installing = False         # past the point a new request may cancel it
        self.resumed = False            # the file holds a part kept from a broken attempt
        self.got = 0                    # bytes downloaded (bench)
        self.rom = None                 # the ROMFS partition (fwslot.rom.Rom), on boards with one
        self.slot = None
        self.got_rom = 0                # bytes written into the ROMFS half
        self.t_ms = 0                   # download time (bench)

    async def notify(self, status):
        """Sends the status (when online; the last one is kept for TriggerMessage)."""
        if self.kind == "16" and status not in _S16:
            return                      # 1.6 UpdateFirmware has no such status
        a = self.a
        a.fw_status = (status, self.id, self.kind)
        log.info("fwupd", "status %s (request %s)", status, self.id)
        await send(a)

    async def _until(self, t, busy_too=False):
        """Waits for the wall clock to reach t (and, busy_too, for no session running)."""
        a = self.a
        while a.clock.now() < t or (busy_too and a.station.busy()):
            await asyncio.sleep_ms(_POLL_MS)

    async def run(self):
        a = self.a
        try:
            await self._run()
        except asyncio.CancelledError:
            log.warn("fwupd", "request %s cancelled", self.id)
            raise
        except Exception as e:          # noqa: BLE001  a flash error, a bug: reported
            log.error("fwupd", "update failed: %r", e)
            await self.notify("InstallationFailed")
        finally:
            if a.fw_job is self:
                a.fw_job = None
            if a.station.held and a.reset_request is None:
                a.station.hold(False)       # cancelled or failed: the EVSEs are back

    async def _run(self):
        a = self.a
        flash = a.flash
        if self.retrieve and a.clock.now() < self.retrieve:
            await self.notify("DownloadScheduled")
            await self._until(self.retrieve)
        from fwslot import rom as fwrom
        self.rom = fwrom.board()        # None: slots on the file system
        slot = fwslot.spare(flash) if self.rom else prepare(flash)
        self.slot = slot
        if slot is None:                # a trial runs: nothing may be overwritten
            await self.notify("DownloadFailed")
            return
        from firmware.update import bundle
        path = download_path(flash)
        signed = self.kind != "16" and self.sig is not None
        why = "resumed"
        while why == "resumed":
            if not await self._fetch(path):
                await self.notify("DownloadFailed")
                return
            await self.notify("Downloaded")
            if self.rom:
                why = await bundle.check_rom(self.rom, slot, self.got_rom, flash,
                                             a.clock.now(), self.sig if signed else None,
                                             self.cert)
                break
            why = await bundle.check(path, flash, a.clock.now(), self.sig if signed else None,
                                     self.cert)
            if why is not None and self.resumed:
                # the part kept from a broken attempt may not be the file's: once more, whole
                log.warn("fwupd", "resumed download refused (%s): downloading it whole", why)
                _remove(path)
                self.resumed = False
                self.tries = 1
                why = "resumed"
        if why is not None:
            log.error("fwupd", "bundle refused: %s", why)
            _remove(path)
            if signed:
                a.security_event("InvalidFirmwareSigningCertificate" if why == "certificate"
                                 else "InvalidFirmwareSignature", why)
                await self.notify("InvalidSignature")
            else:
                await self.notify("InstallationFailed")
            return
        if signed:
            await self.notify("SignatureVerified")
        if (self.install_at and a.clock.now() < self.install_at) or a.station.busy():
            await self.notify("InstallScheduled")
            if a.station.busy() and not a.settings.get("AllowNewSessionsPendingFirmwareUpdate"):
                a.station.hold(True)        # no new session while the running ones end
            await self._until(self.install_at, True)
        self.installing = True
        await self.notify("Installing")
        m = await finish(flash, slot, {"id": self.id, "kind": self.kind}, self.rom)
        log.warn("fwupd", "version %s installed in slot %s: rebooting into it", m["version"], slot)
        await self.notify("InstallRebooting")
        await self._until(0, True)      # a session begun meanwhile ends first
        a.persist_boot_reason("FirmwareUpdate")
        a.reset_request = "FirmwareUpdate"
        a.reset_event.set()

    async def _fetch(self, path):
        """Up to `tries` attempts, retryInterval apart. -> True when the file came whole."""
        for n in range(self.tries):
            await self.notify("Downloading")
            if await self._download(path):
                return True
            if n + 1 < self.tries:
                log.warn("fwupd", "download failed: again in %d s", self.interval)
                await asyncio.sleep_ms(self.interval * 1000)
        return False

    async def _download(self, path):
        """One attempt, resumed where the last one stopped. -> True when whole."""
        import httpc
        a = self.a
        ctx = None
        if self.url.startswith("https://"):
            from firmware.security import tlsctx
            ctx, why = tlsctx.make(a.flash, 2, a.cfg.get("ca"), a.clock.now())
            if ctx is None:
                log.error("fwupd", "https: %s", why)
                return False
        if self.rom:
            return await self._download_rom(ctx)
        try:
            start = os.stat(path)[6]
        except OSError:
            start = 0
        if start:
            self.resumed = True             # a Range request for the rest
        st = os.statvfs(a.flash)
        room = st[0] * st[4] - _RESERVE
        t0 = time.ticks_ms()
        try:
            with open(path, "ab") as f:
                status, n = await httpc.get(self.url, f, ssl=ctx, timeout_ms=_TIMEOUT_MS,
                                            max_bytes=max(1, room), start=start)
        except (httpc.HTTPError, OSError, ValueError) as e:
            log.warn("fwupd", "download %s: %s", self.url, e)
            return False
        self.got += n
        self.t_ms += time.ticks_diff(time.ticks_ms(), t0)
        log.info("fwupd", "downloaded %d bytes (HTTP %d) in %d ms", n, status, self.t_ms)
        return True


    async def _download_rom(self, ctx):
        """One attempt into the spare half of the ROMFS partition, from its start."""
        import httpc
        w = self.rom.writer(self.slot)
        t0 = time.ticks_ms()
        try:
            status, n = await httpc.get(self.url, w, ssl=ctx, timeout_ms=_TIMEOUT_MS,
                                        max_bytes=self.rom.half)
            w.close()
        except (httpc.HTTPError, OSError, ValueError) as e:
            log.warn("fwupd", "download %s: %s", self.url, e)
            return False
        self.got += n
        self.got_rom = w.size
        self.t_ms += time.ticks_diff(time.ticks_ms(), t0)
        log.info("fwupd", "downloaded %d bytes into ROMFS half %s (HTTP %d) in %d ms",
                 n, self.slot, status, self.t_ms)
        return True


def prepare(flash):
    """Before a download: the spare slot emptied (its room is the download's), no old
    download left. -> the slot, or None when there is none (a trial runs)."""
    slot = fwslot.spare(flash)
    if slot is not None:
        from firmware.update import bundle
        bundle.clear(flash, slot)
        fwslot.mkdirs(flash + "/fw")
        _remove(download_path(flash))
    return slot


async def finish(flash, slot, job, rom=None):
    """The checked download unpacked into the slot, removed, and the slot made the
    trial (lib/fwslot's state: the commit point). -> the manifest. rom: the download is
    the slot already (a half of the ROMFS partition)."""
    if rom is not None:
        m = rom.manifest(slot)
        job["v"] = m["version"]
        fwslot.set_trial(flash, slot, job)
        return m
    from firmware.update import bundle
    path = download_path(flash)
    m = await bundle.install(path, flash, slot)
    _remove(path)
    job["v"] = m["version"]
    fwslot.set_trial(flash, slot, job)
    return m


def _remove(path):
    try:
        os.remove(path)
    except OSError:
        pass


async def send(a, trigger=False):
    """The firmware status notification of adapter a's last status (a.fw_status): a
    status reached is sent, or kept while offline and sent after the reconnect
    (firmware.ocpp.dmq); triggered, the status now, or Idle with no update under way
    (1.6 errata; 2.0.1 L01.FR.25/26), only when online."""
    st = a.fw_status
    if trigger and (a.fw_job is None or st is None):
        st = ("Idle", None, "201" if a.VERSION == "2.0.1" else trigger)
    if st is None:
        return
    status, rid, kind = st
    msg = "FirmwareStatusNotification"
    p = {"status": status}
    if kind == "16s" or kind == "SignedFirmwareStatusNotification":
        msg = "SignedFirmwareStatusNotification"
        if rid is not None:
            p["requestId"] = rid
    elif kind == "201" and rid is not None:
        p["requestId"] = rid
    if not trigger:
        from firmware.ocpp import dmq
        await dmq.notify(a, msg, p)
        return
    if not a.connected:
        return
    try:
        await a.send(msg, p)
    except (ocppj.Timeout, ocppj.Disconnected) as e:
        log.warn("fwupd", "status not sent: %r", e)
