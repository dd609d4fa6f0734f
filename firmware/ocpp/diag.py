"""Log uploads: OCPP 1.6 GetDiagnostics (Firmware Management profile) with
DiagnosticsStatusNotification, GetLog (1.6 security extension, 2.0.1 N01) with
LogStatusNotification, and their status for TriggerMessage / ExtendedTriggerMessage.

The log comes from flash (firmware.diag.flashlog, written first so the last lines are
in it; when that write fails, the lines still in RAM are added at the end): the diagnostics log, or the security log for GetLog SecurityLog, the lines
between the request's two times (startTime/stopTime, oldestTimestamp/latestTimestamp),
after a header line; it always holds something. It goes to the location with
lib/httpc: PUT (to location + file name when the location ends with "/"), and when the
server answers 405 or 501 to that, POST multipart/form-data to the location (part
"file" with the file name). https:// is verified against the CSMS root certificates
of the store (firmware.security.tlsctx, as a security profile 2 connection). A failed
attempt is tried again `retries` times `retryInterval` s later (bounded here), then
reported UploadFailed / UploadFailure; statuses: Uploading, then Uploaded or the
failure (kept while offline and sent after the reconnect: firmware.ocpp.dmq) (TriggerMessage: Uploading or Idle, base.Adapter.send_triggered). One upload at a time: a new request cancels the one running (GetLog answers
AcceptedCanceled, and 2.0.1 reports the old requestId AcceptedCanceled, N01.FR.12).

Loaded for a call and unloaded after it (firmware.memory.call); the upload runs on in
its own task, whose state is the adapter's `upload` ([message, requestId, task])."""
from micropython import const
import asyncio
import sys
import ocppj
from firmware import log, memory
from firmware.clock import parse_iso, iso
from firmware.diag import flashlog
from firmware.ocpp import dmq
from firmware.diag.reader import Body

_RETRIES = const(2)             # when the request gives none
_INTERVAL_S = const(30)
_MAX_RETRIES = const(10)
_MAX_INTERVAL_S = const(3600)
_TIMEOUT_MS = const(30000)
_DIAG = const("DiagnosticsStatusNotification")
_LOG = const("LogStatusNotification")


def _when(p, key):
    """An optional request time as "YYYY-MM-DDTHH:MM:SSZ" (comparable with the log's)."""
    v = p.get(key)
    if v is None:
        return None
    try:
        return iso(parse_iso(v))
    except ValueError:
        raise ocppj.CallError("PropertyConstraintViolation", "%s: not a date-time" % key)


def _name(a, kind):
    ident = "".join(c if c.isalpha() or c.isdigit() or c in "-_." else "_" for c in a.cfg["id"])
    t = a.clock.iso().replace("-", "").replace(":", "")
    return "%s-%s-%s.log" % (ident, "security" if kind == "s" else "diagnostics", t)


def _status(msg, ok):
    """The final status's spelling: 1.6 diagnostics say UploadFailed, logs UploadFailure."""
    if ok:
        return "Uploaded"
    return "UploadFailed" if msg == _DIAG else "UploadFailure"


def _begin(a, msg, rid, kind, url, lo, hi, retries, interval):
    """Starts the upload (cancelling the one running) -> the file name."""
    up = a.upload
    cancelled = -1
    if up is not None and not up[2].done():
        cancelled = up[1]
        up[2].cancel()
        log.info("diag", "upload %s cancelled for a new request", up[1])
    retries = _RETRIES if retries is None else max(0, min(retries, _MAX_RETRIES))
    interval = _INTERVAL_S if interval is None else max(0, min(interval, _MAX_INTERVAL_S))
    name = _name(a, kind)
    head = "# %s %s log, %s to %s, firmware %s, made %s\n" % (
        a.cfg["id"], "security" if kind == "s" else "diagnostics", lo or "the start",
        hi or "now", a.cfg.get("firmware_version", ""), a.clock.iso())
    job = [msg, rid, None]
    a.upload = job
    job[2] = asyncio.create_task(_run(a, job, kind, url, name, head, lo, hi, retries, interval,
                                      cancelled if msg == _LOG and a.VERSION == "2.0.1" else -1))
    return name


async def on_GetDiagnostics(a, p):
    """1.6 5.9: the diagnostics log of the time window to `location`; the answer names
    the file. A location that is not http(s) gets no file name (nothing is uploaded)."""
    url = p["location"]
    lo, hi = _when(p, "startTime"), _when(p, "stopTime")
    if not (url.startswith("http://") or url.startswith("https://")):
        log.warn("diag", "GetDiagnostics: %s not supported (http, https)", url.split(":")[0])
        return {}
    return {"fileName": _begin(a, _DIAG, None, "d", url, lo, hi, p.get("retries"),
                               p.get("retryInterval"))}


async def on_GetLog(a, p):
    """1.6 security extension / 2.0.1 N01: DiagnosticsLog or SecurityLog to
    log.remoteLocation; Accepted, AcceptedCanceled when it cancelled a running upload
    (N01.FR.12), Rejected for a location that is not http(s)."""
    lp = p["log"]
    url = lp["remoteLocation"]
    lo, hi = _when(lp, "oldestTimestamp"), _when(lp, "latestTimestamp")
    if not (url.startswith("http://") or url.startswith("https://")):
        log.warn("diag", "GetLog: %s not supported (http, https)", url.split(":")[0])
        return {"status": "Rejected"}
    busy = a.upload is not None and not a.upload[2].done()
    name = _begin(a, _LOG, p["requestId"], "s" if p["logType"] == "SecurityLog" else "d", url,
                  lo, hi, p.get("retries"), p.get("retryInterval"))
    return {"status": "AcceptedCanceled" if busy else "Accepted", "filename": name}


async def _notify(a, msg, status, rid):
    p = {"status": status}
    if rid is not None:
        p["requestId"] = rid
    log.info("diag", "%s %s", msg, status)
    await dmq.notify(a, msg, p)             # kept while offline, sent after the reconnect


async def _attempt(httpc, a, url, name, body):
    ctx = None
    if url.startswith("https://"):
        from firmware.security import tlsctx
        ctx, why = tlsctx.make(a.flash, 2, a.cfg.get("ca"), a.clock.now())
        if ctx is None:
            raise ValueError(why)
    target = url + name if url.endswith("/") else url
    try:
        return await httpc.send(target, body, body.size, "PUT", ssl=ctx, timeout_ms=_TIMEOUT_MS,
                                filename=name, content_type="text/plain")
    except httpc.HTTPError as e:
        st = e.status
        if st not in (405, 501):
            raise
        log.info("diag", "PUT answered %d: POST multipart", st)
    body.rewind()
    return await httpc.send(url, body, body.size, "POST", ssl=ctx, timeout_ms=_TIMEOUT_MS,
                            filename=name, content_type="text/plain")


async def _run(a, job, kind, url, name, head, lo, hi, retries, interval, cancelled):
    msg, rid = job[0], job[1]
    had = set(sys.modules)
    try:
        if cancelled != -1:
            await _notify(a, msg, "AcceptedCanceled", cancelled)
        await _notify(a, msg, "Uploading", rid)
        ok = False
        try:
            import httpc                # here, not at the top: loaded for the upload only
        except ImportError as e:        # a build without it
            log.error("diag", "no upload: %r", e)
            retries = -1
        for i in range(retries + 1):
            if i:
                await asyncio.sleep(interval)
            tail = "" if flashlog.flush() else flashlog.pending(kind)   # a broken flash
            body = None
            try:
                body = Body(a.flash, kind, head, lo, hi, tail)
                st = await _attempt(httpc, a, url, name, body)
                log.info("diag", "%s uploaded (%d lines, %d bytes): HTTP %d", name, body.lines,
                         body.size, st)
                ok = True
                break
            except Exception as e:      # noqa: BLE001 - HTTP, network, TLS, flash, heap, a
                # bug: a failed attempt all the same, never a task ended without a status
                log.warn("diag", "upload %d/%d of %s failed: %r", i + 1, retries + 1, name, e)
            finally:
                if body is not None:
                    body.close()
        if a.upload is job:
            a.upload = None             # done: a request now is no second one (AcceptedCanceled)
        await _notify(a, msg, _status(msg, ok), rid)
    finally:
        if a.upload is job:
            a.upload = None
        memory.unload_since(had)
