"""Firmware update figures (`make bench`, tools/bench/bench.py --only fwupd): download
throughput to flash and the heap it takes, flash used by the two slots, the time from
UpdateFirmware to the new version registered, and the live heap after the update.

Measured on the simulator (64-bit unix port; its flash is a littlefs image in a host
file, so throughput is MicroPython's and littlefs's work, not a board's flash speed)."""
import os
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, ROOT)

from tests.mp import run_file  # noqa: E402
from tools.csms import CsmsThread  # noqa: E402
from tools.csms.files import FileServer  # noqa: E402
from tools.fwupd import bundle as B  # noqa: E402
from tools.harness.simctl import SimStation  # noqa: E402


def flash_figures(tmp, fw):
    with FileServer(os.path.dirname(fw["path"])) as srv:
        return run_file("fwupd_bench", os.path.join(tmp, "bench.img"),
                        srv.url + "/" + os.path.basename(fw["path"]), timeout=300)


MP32F = os.path.join(ROOT, "build", "mp32f", "micropython")


def update_time(tmp, fw, version, extra=(), tag=""):
    """UpdateFirmware (signed) -> the new version in BootNotification, seconds; and the
    live heap after the update (the station's heap probe)."""
    with CsmsThread(host="127.0.0.1", port=0) as csms, \
            FileServer(os.path.dirname(fw["path"])) as srv:
        st = SimStation(csms.url + "ocpp", "FW%s%s" % (version.replace(".", ""), tag), version,
                        tmp, extra=("--flash-kb", "2048", "--heap-probe") + tuple(extra))
        st.start()
        try:
            link = csms.station(st.ident, timeout=60)
            link.wait_for("StatusNotification", timeout=60)
            link.call("InstallCertificate", {"certificateType": "ManufacturerRootCertificate",
                                             "certificate": fw["root"]})
            st.wait(lambda s: s["heap_used"] > 0, timeout=30, what="heap probe")
            time.sleep(2)                   # a few probes after the boot (a measurement)
            before = st.status()["heap_used"]
            f = {"location": srv.url + "/" + os.path.basename(fw["path"]),
                 "retrieveDateTime": "2020-01-01T00:00:00Z",
                 "signingCertificate": fw["cert"], "signature": fw["sig"]}
            t0 = time.monotonic()
            link.call("SignedUpdateFirmware" if version == "1.6" else "UpdateFirmware",
                      {"requestId": 1, "firmware": f})
            new = csms.station(st.ident, newer_than=link, timeout=300)
            boot = new.wait_for("BootNotification", timeout=120)
            dt = time.monotonic() - t0
            got = boot["firmwareVersion"] if version == "1.6" else \
                boot["chargingStation"]["firmwareVersion"]
            if got != fw["version"]:
                raise RuntimeError("booted %r, not %r" % (got, fw["version"]))
            new.wait_for("StatusNotification", timeout=60)
            st.wait(lambda s: s["heap_used"] > 0, timeout=30, what="heap probe")
            time.sleep(2)                   # a few probes after the boot (a measurement)
            heap = st.status()["heap_used"]
            st.stop()
            st.start()                      # a power cycle: the process boots the slot
            again = csms.station(st.ident, newer_than=new, timeout=120)
            again.wait_for("StatusNotification", timeout=60)
            st.wait(lambda s: s["heap_used"] > 0, timeout=30, what="heap probe")
            time.sleep(2)
            cold = st.status()["heap_used"]
        finally:
            st.stop()
    return dt, before, heap, cold


def main(append=True):
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        fw = B.build(os.path.join(tmp, "www"), "9.9.9", os.path.join(tmp, "pki", "key.pem"),
                     name="fw.bin")
        r = flash_figures(tmp, fw)
        kbs = r["bytes"] / 1024 / max(r["download_ms"] / 1000, 1e-3)
        rows.append(("download to flash (lib/httpc, http, loopback)",
                     "%.0f KB/s (%d B in %d ms)" % (kbs, r["bytes"], r["download_ms"]),
                     "tests/mp/fwupd_bench.py: httpc.get into a file on the sim littlefs, "
                     "synced every 16 KB (firmware.update.job)"))
        rows.append(("heap the download takes", "%d B (+ %d B to import httpc)"
                     % (r["download_heap"], r["httpc_import"]),
                     "live heap (collected every 16th 1 KB piece) at its peak over the level "
                     "before the GET, 64-bit"))
        rows.append(("bundle check / install into a slot", "%d ms / %d ms"
                     % (r["check_ms"], r["install_ms"]),
                     "SHA-256 of each file and of the whole; unpack with the hashes again"))
        rows.append(("flash: bundle / one slot / two slots", "%d KB / %d KB / %d KB"
                     % (r["download_file_bytes"] // 1024, r["slot_bytes"] // 1024,
                        r["two_slots_bytes"] // 1024),
                     "statvfs on the 2 MiB sim littlefs (4 KiB blocks: a file takes whole "
                     "blocks, and each directory a pair)"))
        for v in ("1.6", "2.0.1"):
            dt, before, heap, cold = update_time(tmp, fw, v)
            rows.append(("UpdateFirmware -> new version registered, OCPP %s" % v, "%.1f s" % dt,
                         "signed, http, loopback: download, check (ECDSA in Python), install, "
                         "in-process reboot, BootNotification"))
            rows.append(("live heap before / after the update (in-process reboot / "
                         "power cycle), OCPP %s" % v,
                         "%d B / %d B / %d B" % (before, heap, cold),
                         "the station's heap probe (gc.collect, gc.mem_alloc) after boot: the "
                         "source tree's .py compiled at import, then the bundle's .mpy; both "
                         "code in the heap (64-bit unix port, `-X heapsize=512k`)"))
        # the frozen 32-bit port (make mp32f): the base firmware's code in flash, the
        # bundle's .mpy in the heap: what a frozen board's heap looks like after an update
        if os.path.exists(MP32F):
            for v in ("1.6", "2.0.1"):
                dt, before, heap, cold = update_time(tmp, fw, v, ("--micropython", MP32F,
                                                                  "--frozen"), "f")
                rows.append(("32-bit frozen port: live heap before / after the update "
                             "(in-process reboot / power cycle), OCPP %s" % v,
                             "%d B / %d B / %d B" % (before, heap, cold),
                             "`make mp32f` (4-byte words, firmware frozen: a board's heap), "
                             "ws://, one EVSE, `-X heapsize=512k`; after the update the "
                             "bundle's .mpy code is in the heap"))
        else:
            rows.append(("32-bit frozen port: heap after an update", "not measured",
                         "build/mp32f/micropython missing: make mp32f"))
    from tools.bench.benchrec import report
    return report("Firmware updates", "tools/fwupd/bench.py", rows, append)


if __name__ == "__main__":
    main()
