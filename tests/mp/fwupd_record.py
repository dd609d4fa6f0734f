"""The firmware update record (firmware/update/record.py) on the simulated flash, for
tests/unit/test_fwupd.py: kept and read back; malformed records (garbage, not an
object, a field wrong, too large) ignored with a log line and removed, never raised;
job.resume() at boot with such a record, or with a stale one beside a trial, starts
nothing; a job resumed a 4th time in one status gives up (DownloadFailed before Downloaded,
else InstallationFailed), a boot while waiting for retrieveDateTime not counted; a power
cut at each write of a record over an old one leaves the old or the new.

argv: IMG"""
import asyncio
import os
import sys

import fwslot
from boards.sim.flash import FlashDevice, PowerCut, umount
from firmware import log
from firmware.update import job, record
from out import error_name, report

IMG = sys.argv[1]
R = "/flash"
REC = {"kind": "201", "url": "http://127.0.0.1:1/fw.bin", "id": 7, "retrieve": 0,
       "install_at": 0, "tries": 2, "interval": 5, "sig": "MEUC", "cert": "-----BEGIN",
       "status": "Downloading", "boots": 0}


class Station:
    """What resume() and a job read of an adapter (base.Adapter's attributes): offline,
    so statuses are kept in dm_out (firmware.ocpp.dmq)."""
    flash = R
    fw_job = None
    fw_status = None
    connected = False
    registration = None
    reset_request = None
    VERSION = "2.0.1"

    def __init__(self, now=1700000000):
        self.clock = Clock(now)
        self.station = Kernel()


class Clock:
    def __init__(self, t):
        self.t = t

    def now(self):
        return self.t


class Kernel:
    held = False

    def busy(self):
        return False

    def hold(self, on):
        self.held = on


def mount():
    d = FlashDevice(IMG, 64)
    d.mount(R)
    return d


def remount(d):
    umount(R)
    d.close()
    return mount()


def put(data):
    fwslot.mkdirs(R + "/fw")
    with open(R + record.NAME, "wb") as f:
        f.write(data)


def exists():
    try:
        os.stat(R + record.NAME)
        return True
    except OSError:
        return False


def garbage(out):
    import json
    cases = {
        "bytes": b"\xff\x00\x13garbage{\"kind\"",
        "truncated": json.dumps(REC)[:40].encode(),
        "list": b"[1, 2]",
        "kind": json.dumps(dict(REC, kind="17")).encode(),
        "url": json.dumps(dict(REC, url="ftp://host/fw.bin")).encode(),
        "status": json.dumps(dict(REC, status="Installed")).encode(),
        "tries": json.dumps(dict(REC, tries="3")).encode(),
        "id": json.dumps(dict(REC, id=True)).encode(),
        "half_signed": json.dumps(dict(REC, sig=None)).encode(),
        "large": json.dumps(dict(REC, cert="x" * 9000)).encode(),
        "empty": b"",
    }
    got = {}
    for name, data in cases.items():
        put(data)
        n = log.total()
        try:
            r = record.load(R)
        except Exception as e:          # noqa: BLE001  what the test must never see
            r = "raised " + error_name(e)
        got[name] = {"load": r, "left": exists(), "logged": "update record ignored" in
                     log.since(n)[0]}
    out["garbage"] = got
    # at boot: a malformed record starts nothing and does not raise
    put(b"{\"kind\": \"201\", \"url\": 5}")
    a = Station()
    try:
        job.resume(a)
        out["resume_garbage"] = [a.fw_job is None, exists()]
    except Exception as e:              # noqa: BLE001
        out["resume_garbage"] = "raised " + error_name(e)


def stale(out):
    """A record beside a trial: the install reached its commit point (a cut between
    lib/fwslot's set_trial and the record's removal): removed, nothing resumed."""
    record.save(R, REC)
    fwslot.set_trial(R, "b", {"id": 7, "kind": "201"})
    a = Station()
    job.resume(a)
    out["stale"] = [a.fw_job is None, exists()]
    fwslot.save(R, {"active": None, "trial": None, "tries": 0, "max": 3, "run": None,
                    "result": None, "job": None})


async def _resumed(rec, dl=True):
    """resume() with rec on flash (and a download file): -> (statuses queued, record
    left, its boots, download left) once the job ended or told its first status."""
    record.save(R, rec)
    if dl:
        with open(job.download_path(R), "wb") as f:
            f.write(b"part of a download")
    a = Station()
    job.resume(a)
    for _ in range(500):
        if getattr(a, "dm_out", None) or a.fw_job is None:
            break
        await asyncio.sleep_ms(10)
    if a.fw_job is not None:
        a.fw_job.task.cancel()
        await asyncio.sleep_ms(0)
    left = record.load(R)
    try:
        os.stat(job.download_path(R))
        kept = True
    except OSError:
        kept = False
    record.remove(R)
    return [[m, p["status"], p.get("requestId")] for m, p in getattr(a, "dm_out", [])], \
        left is not None, left and left["boots"], kept


async def give_up(out):
    out["give_up_dl"] = await _resumed(dict(REC, boots=3))
    out["give_up_install"] = await _resumed(dict(REC, status="Installing", boots=3))
    out["waiting"] = await _resumed(dict(REC, status="DownloadScheduled", boots=3,
                                         retrieve=1700003600), dl=False)


def cuts(d, out):
    """A power cut at each program/erase of a record written over an older one."""
    record.save(R, REC)
    new = dict(REC, status="Downloaded", tries=1)
    seen = []
    n = 1
    while n < 60:
        d.cut_after(n, hard=False)
        try:
            record.save(R, new)
            done = True
        except PowerCut:
            done = False
        d.cut_after(0)
        d = remount(d)
        r = record.load(R)
        seen.append("old" if r == REC else "new" if r == new else repr(r))
        if done:
            break
        record.save(R, REC)
        n += 1
    out["cuts"] = seen
    return d


def main():
    try:
        os.remove(IMG)
    except OSError:
        pass
    d = mount()
    out = {"none": record.load(R)}
    out["kept"] = record.save(R, REC) and record.load(R) == REC
    record.remove(R)
    out["removed"] = not exists()
    garbage(out)
    stale(out)
    asyncio.run(give_up(out))
    d = cuts(d, out)
    umount(R)
    d.close()
    report(out)


main()
