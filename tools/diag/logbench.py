#!/usr/bin/env python3
"""Log upload figures (issue 17): a simulated station logging at debug level fills its
flash log (firmware.diag.flashlog) with OCPP frames (paced below the rate at which the
3 KB RAM ring would wrap between two writes), then uploads it with GetLog over
http and https to the dev CSMS's file server (tools/csms/files.py). Printed: the flash
the log takes (bytes uploaded of the bound), the time from GetLog to the final
LogStatusNotification, the upload rate, the live-heap peak while it ran.

    .venv/bin/python tools/diag/logbench.py [--ocpp 2.0.1] [--heap 512k] [--frames 400] [--wss]
    .venv/bin/python tools/diag/logbench.py --micropython build/mp32f/micropython --frozen --heap 160k

A measurement, not a test: the figures move with the machine's load."""
import argparse
import os
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, ROOT)

from tests import certs  # noqa: E402
from tools.csms import CsmsThread  # noqa: E402
from tools.csms.files import FileServer  # noqa: E402
from tools.harness.simctl import SimStation  # noqa: E402

_BOUND = 4 * 8192          # firmware.diag.flashlog: _FILES x _FILE_BYTES


def _upload(link, st, srv, rid, kind="DiagnosticsLog"):
    n0 = len(srv.uploads)
    st.cmd("status")
    t0 = time.monotonic()
    res = link.call("GetLog", {"logType": kind, "requestId": rid, "retries": 0,
                               "log": {"remoteLocation": srv.url + "/bench/"}})
    if res["status"] != "Accepted":
        raise SystemExit("GetLog: %s" % res)
    p = link.wait_for("LogStatusNotification", lambda p: p.get("requestId") == rid and
                      p["status"] in ("Uploaded", "UploadFailure"), timeout=120)
    dt = time.monotonic() - t0
    if p["status"] != "Uploaded":
        raise SystemExit("upload failed:\n" + st.log()[-3000:])
    body = srv.uploads[n0][3]
    return dt, len(body), body.count(b"\n")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--ocpp", default="2.0.1", choices=("1.6", "2.0.1"))
    ap.add_argument("--heap", default="512k")
    ap.add_argument("--frames", type=int, default=400, help="heartbeats triggered to fill the log")
    ap.add_argument("--repeat", type=int, default=5, help="uploads per scheme (the heap "
                    "probe samples every 0.5 s)")
    ap.add_argument("--micropython", help="the MicroPython binary (tools/sim --micropython), "
                    "e.g. build/mp32f/micropython with --frozen and --heap 160k")
    ap.add_argument("--frozen", action="store_true", help="tools/sim --frozen")
    ap.add_argument("--wss", action="store_true", help="the CSMS link over TLS too (profile 2): "
                    "an https upload then holds a second TLS session")
    a = ap.parse_args()
    tmp = tempfile.mkdtemp(prefix="logbench-")
    ca = certs.make_ca()
    pem = certs.make_server_cert(ca).write(tmp, "files")
    ca_path = os.path.join(tmp, "ca.pem")
    with open(ca_path, "wb") as f:
        f.write(ca.cert_pem)
    os.makedirs(os.path.join(tmp, "root"))
    up = os.path.join(tmp, "uploads")
    os.makedirs(up)
    http = FileServer(os.path.join(tmp, "root"), upload_dir=up).start()
    https = FileServer(os.path.join(tmp, "root"), tls=(pem["cert"], pem["key"])).start()
    kw = {}
    if a.wss:
        kw = {"ssl_context": certs.server_ssl_context(certs.make_server_cert(ca)),
              "passwords": {"BENCH1": "benchpassword1234"}}
    with CsmsThread(host="127.0.0.1", port=0, boot_interval=300, **kw) as csms:
        extra = ["--log", "debug", "--ca", ca_path, "--heap-probe"]
        if a.wss:
            extra += ["--profile", "2", "--password", "benchpassword1234"]
        if a.micropython:
            extra += ["--micropython", a.micropython]
        if a.frozen:
            extra.append("--frozen")
        st = SimStation(csms.url + "ocpp", "BENCH1", a.ocpp, tmp, heap=a.heap, extra=extra)
        st.start()
        try:
            link = csms.station("BENCH1", timeout=30)
            link.wait_for("StatusNotification", timeout=30)
            for i in range(a.frames):
                link.call("TriggerMessage", {"requestedMessage": "Heartbeat"})
                if i % 4 == 3:
                    time.sleep(0.3)     # paced: the writer polls the 3 KB ring every 100 ms
            rows = []
            rid = 0
            for name, srv in (("http", http), ("https", https)):
                peak0 = st.status().get("heap_peak", 0)
                best = None
                for _ in range(a.repeat):
                    rid += 1
                    r = _upload(link, st, srv, rid)
                    best = r if best is None or r[0] < best[0] else best
                rows.append((name,) + best + (st.status().get("heap_peak", 0), peak0))
            print("OCPP %s over %s, %s, heap %s, %d heartbeats triggered at debug level" % (
                a.ocpp, "wss" if a.wss else "ws", a.micropython or "64-bit unix port", a.heap,
                a.frames))
            for name, dt, size, lines, peak, peak0 in rows:
                print("GetLog DiagnosticsLog over %-5s: %6d bytes (%d lines, %.0f %% of the "
                      "%d-byte bound), best of %d: %.2f s from GetLog to Uploaded = %.1f KB/s; "
                      "live heap peak %d B (%d B before)" % (
                          name, size, lines, 100.0 * size / _BOUND, _BOUND, a.repeat, dt,
                          size / 1024.0 / dt, peak, peak0))
        finally:
            st.stop()
            http.stop()
            https.stop()


if __name__ == "__main__":
    main()
