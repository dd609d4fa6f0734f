"""Firmware update figures for make bench (tools/fwupd/bench.py), on the simulated flash:
the download with lib/httpc straight to littlefs (time, synced as firmware.update.job
does; the heap it takes: the peak of
gc.mem_alloc() seen by the sink over the level before), the check (SHA-256 of every
file, whole-file digest), the install into a slot, and the flash the two slots take.

    micropython tests/mp/fwupd_bench.py FLASH.img URL"""
import sys
import gc
import time
import os
import asyncio
from out import report
from boards.sim.flash import FlashDevice
import fwslot

_R = "/flash"


class Sink:
    """The file, and (live=True) the live heap every 16th piece: collected, then
    gc.mem_alloc(), its peak (the second download only: collecting slows it)."""

    def __init__(self, f, live):
        self.f = f
        self.live = live
        self.n = 0
        self.peak = 0

    def write(self, mv):
        self.n += 1
        if self.live and self.n % 16 == 0:
            gc.collect()
            a = gc.mem_alloc()
            if a > self.peak:
                self.peak = a
        return self.f.write(mv)


def used():
    v = os.statvfs(_R)
    return (v[2] - v[3]) * v[0]


async def main(url):
    out = {}
    from firmware.update import bundle, job
    fwslot.mkdirs(_R + "/fw")
    path = job.download_path(_R)
    gc.collect()
    a0 = gc.mem_alloc()
    import httpc
    gc.collect()
    out["httpc_import"] = gc.mem_alloc() - a0
    a1 = gc.mem_alloc()
    t0 = time.ticks_ms()
    with open(path, "wb") as f:
        st, n = await httpc.get(url, job.Synced(f))     # as the update job: synced every 16 KB
    out["download_ms"] = time.ticks_diff(time.ticks_ms(), t0)
    out["bytes"] = n
    gc.collect()
    a1 = gc.mem_alloc()
    with open(path, "wb") as f:
        s = Sink(f, True)
        await httpc.get(url, s)
    out["download_heap"] = s.peak - a1
    base = used()
    t0 = time.ticks_ms()
    out["check"] = await bundle.check(path, _R)
    out["check_ms"] = time.ticks_diff(time.ticks_ms(), t0)
    t0 = time.ticks_ms()
    await bundle.install(path, _R, "a")
    out["install_ms"] = time.ticks_diff(time.ticks_ms(), t0)
    one = used()
    await bundle.install(path, _R, "b")
    two = used()
    out["slot_bytes"] = one - base
    out["two_slots_bytes"] = two - base
    out["download_file_bytes"] = os.stat(path)[6]
    report(out)


def run():
    FlashDevice(sys.argv[1], 512).mount(_R)
    asyncio.run(main(sys.argv[2]))


run()
