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

The download goes to <flash>/fw/dl.bin in lib/httpc's 1 KB pieces (synced every 16 KB),
resumed with a Range request on a retry; the slot it is unpacked into is emptied first
(its room is the download's). On a board with a ROMFS partition (lib/fwslot/rom.py) the
bundle is a ROMFS image written as it comes into the spare half of the partition (each
attempt from the start), checked from the flash, and the half becomes the trial: nothing to
unpack. The job's state is on the adapter (fw_job, fw_status); this module keeps none of
its own. The request and the status reached are kept on flash (firmware.update.record) from
Accepted to the end, and resume() takes the job up again after a boot: the download resumed
where the file ends (a ROMFS half: written again from its start), the status reached told
again with the same requestId, then on as before."""
from micropython import const
import asyncio
import os
import time
import fwslot
import store
import ocppj
from firmware import log
from firmware.update import record

_POLL_MS = const(1000)
_TIMEOUT_MS = const(30000)
_RESERVE = const(16384)          # flash left free beside the download
_SYNC = const(16384)            # the download is synced (kept across a power cut) this often
_MAX_BOOTS = const(3)           # boots a job is resumed in one status before it gives up
_S16 = const(("Downloaded", "DownloadFailed", "Downloading", "Idle", "InstallationFailed",
              "Installing", "Installed"))


def download_path(flash):
    return flash + "/fw/dl.bin"


def start(a, j):
    """An accepted request: kept on flash (before the answer goes out), then run."""
    a.fw_job = j
    j.keep("DownloadScheduled")         # not downloading yet (told only when it waits)
    j.task = asyncio.create_task(j.run())


def resume(a):
    """At boot, with an update record on flash: the job taken up again where it was (a
    status before the install's commit point, firmware.update.record.RESUMABLE). A record
    beside a trial or an update result is stale: that install reached its commit point
    and lib/fwslot's state reports it (firmware.update.boot)."""
    d = record.load(a.flash)
    if d is None:
        return
    st = fwslot.state(a.flash)
    if st["trial"] is not None or st["result"] is not None:
        record.remove(a.flash)
        return
    j = Job(a, d["kind"], d["url"], d["id"], d["retrieve"], d["install_at"], 0, d["interval"],
            d.get("sig"), d.get("cert"))
    j.tries = max(1, d["tries"])
    j.status = j.phase = d["status"]
    j.boots = d["boots"]
    now = a.clock.now()
    if not ((j.phase == "DownloadScheduled" and now < j.retrieve)
            or (j.phase == "InstallScheduled" and now < j.install_at)):
        j.boots += 1                    # a boot while waiting for a time does not count
    log.warn("fwupd", "update (request %s) resumed at %s", j.id, j.phase)
    a.fw_job = j
    j.task = asyncio.create_task(j.run())


class Job:
    def __init__(self, a, kind, url, request_id, retrieve, install_at, retries, interval,
                 sig=None, cert=None):
        self.a = a
        self.kind = kind
        self.url = url
        self.id = request_id
        self.retrieve = retrieve        # epoch seconds, or 0: now
        self.install_at = install_at    # epoch seconds, or 0: as soon as possible
        self.tries = max(0, retries) + 1    # download attempts left (this one too)
        self.interval = max(1, interval)
        self.sig = sig
        self.cert = cert
        self.task = None
        self.installing = False         # past the point a new request may cancel it
        self.resumed = False            # the file holds a part kept from a broken attempt
        self.status = None              # the last status reached (kept in the record)
        self.phase = None               # resumed: the status reached before the boot
        self.boots = 0                  # boots resumed in that status
        self.got = 0                    # bytes downloaded (bench)
        self.rom = None                 # the ROMFS partition (fwslot.rom.Rom), on boards with one
        self.slot = None
        self.got_rom = 0                # bytes written into the ROMFS half
        self.t_ms = 0                   # download time (bench)

    def keep(self, status=None):
        """The request and the status reached written to flash (firmware.update.record)."""
        if status is not None and status != self.status:
            self.status, self.boots = status, 0
        record.save(self.a.flash, {
            "kind": self.kind, "url": self.url, "id": self.id, "retrieve": self.retrieve,
            "install_at": self.install_at, "tries": self.tries, "interval": self.interval,
            "sig": self.sig, "cert": self.cert, "status": self.status, "boots": self.boots})

    async def notify(self, status):
        """Sends the status (when online; the last one is kept for TriggerMessage). A
        status before the commit point is kept on flash, an end removes the record."""
        if status in record.RESUMABLE:
            self.keep(status)
        elif status != "InstallRebooting":
            record.remove(self.a.flash)         # ended: failed (installed: after finish())
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

    async def _step(self, status):
        """A status of the way to the install, not told again when a resumed job told it
        after the boot (or one past it)."""
        ph = self.phase
        if ph is None or record.RESUMABLE.index(status) > record.RESUMABLE.index(ph):
            await self.notify(status)

    async def _run(self):
        a = self.a
        flash = a.flash
        path = download_path(flash)
        ph = self.phase
        if self.boots > _MAX_BOOTS:     # it crashed or was cut here each time: given up
            log.error("fwupd", "update (request %s) resumed %d times at %s: given up",
                      self.id, self.boots - 1, ph)
            store.remove(path)
            await self.notify("DownloadFailed" if ph in record.RESUMABLE[:2]
                              else "InstallationFailed")
            return
        from fwslot import rom as fwrom
        self.rom = fwrom.board()        # None: slots on the file system
        if ph is None or ph == "DownloadScheduled":
            if self.retrieve and a.clock.now() < self.retrieve:
                await self.notify("DownloadScheduled")
                await self._until(self.retrieve)
            slot = fwslot.spare(flash) if self.rom else prepare(flash)
            fetch = True
        else:                           # resumed: the download on flash kept
            slot = fwslot.spare(flash)
            try:                        # a ROMFS half is written again from its start
                fetch = bool(self.rom) or ph == "Downloading" or not os.stat(path)[6]
            except OSError:
                fetch = True            # removed by the install before its commit point
            if not fetch:
                await self.notify(ph)   # the status reached, told again after the boot
                self.resumed = True     # a kept file the check refuses: fetched whole
        self.slot = slot
        if slot is None:                # a trial runs: nothing may be overwritten
            await self.notify("DownloadFailed")
            return
        from firmware.update import bundle
        signed = self.kind != "16" and self.sig is not None
        why = "resumed"
        while why == "resumed":
            if fetch:
                if not await self._fetch(path):
                    await self.notify("DownloadFailed")
                    return
                self.phase = None       # downloaded after the boot: the statuses anew
                await self.notify("Downloaded")
            fetch = True
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
                store.remove(path)
                self.resumed = False
                self.tries = 1
                why = "resumed"
        if why is not None:
            log.error("fwupd", "bundle refused: %s", why)
            store.remove(path)
            if signed:
                a.security_event("InvalidFirmwareSigningCertificate" if why == "certificate"
                                 else "InvalidFirmwareSignature", why)
                await self.notify("InvalidSignature")
            else:
                await self.notify("InstallationFailed")
            return
        if signed:
            await self._step("SignatureVerified")
        if (self.install_at and a.clock.now() < self.install_at) or a.station.busy():
            await self._step("InstallScheduled")
            if a.station.busy() and not a.settings.get("AllowNewSessionsPendingFirmwareUpdate"):
                a.station.hold(True)        # no new session while the running ones end
            await self._until(self.install_at, True)
        self.installing = True
        await self._step("Installing")
        m = await finish(flash, slot, {"id": self.id, "kind": self.kind}, self.rom)
        record.remove(flash)            # lib/fwslot's state has the job from here on
        log.warn("fwupd", "version %s installed in slot %s: rebooting into it", m["version"], slot)
        await self.notify("InstallRebooting")
        await self._until(0, True)      # a session begun meanwhile ends first
        a.persist_boot_reason("FirmwareUpdate")
        a.reset_request = "FirmwareUpdate"
        a.reset_event.set()

    def _progress(self):
        """A resumed download got further: its boots counted afresh (a station cut
        often still gets a long download through, piece by piece)."""
        log.info("fwupd", "resumed download got further: its boots counted afresh")
        self.boots = 0
        self.keep()

    async def _fetch(self, path):
        """Up to `tries` attempts, retryInterval apart. -> True when the file came whole."""
        while True:
            await self.notify("Downloading")
            if await self._download(path):
                return True
            self.tries -= 1
            if self.tries <= 0:
                return False
            self.keep()
            log.warn("fwupd", "download failed: again in %d s", self.interval)
            await asyncio.sleep_ms(self.interval * 1000)

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
                status, n = await httpc.get(self.url, Synced(f, self._progress if self.boots
                                                              else None), ssl=ctx, timeout_ms=_TIMEOUT_MS,
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


class Synced:
    """The download's file, synced every _SYNC bytes: littlefs keeps a file's data as of
    its last sync across a power cut, and the next boot resumes from there. synced():
    called once, at the first sync."""

    def __init__(self, f, synced=None):
        self.f = f
        self.n = 0
        self.synced = synced

    def write(self, mv):
        self.f.write(mv)
        self.n += len(mv)
        if self.n >= _SYNC:
            self.f.flush()
            self.n = 0
            if self.synced is not None:
                self.synced()
                self.synced = None


def prepare(flash):
    """Before a download: the spare slot emptied (its room is the download's), no old
    download left. -> the slot, or None when there is none (a trial runs)."""
    slot = fwslot.spare(flash)
    if slot is not None:
        from firmware.update import bundle
        bundle.clear(flash, slot)
        fwslot.mkdirs(flash + "/fw")
        store.remove(download_path(flash))
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
    store.remove(path)
    job["v"] = m["version"]
    fwslot.set_trial(flash, slot, job)
    return m


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
