"""The accepted firmware update request, kept on flash from Accepted to its end, so that a
reboot (power cut, Reset, watchdog) in the middle of an update does not lose it: the next
boot takes the job up again (firmware.update.job.resume; docs/firmware-update.md).

    record.save(flash, d)     # <flash>/fw/job.json written whole (temporary + rename)
    record.load(flash)        # -> the record, or None (none; malformed: logged, removed)
    record.remove(flash)      # the update ended (installed, failed, replaced)

A record: {"kind": "16" | "16s" | "201", "url", "id" (requestId or None), "retrieve",
"install_at" (epoch s, 0: now), "tries" (download attempts left), "interval" (s), "sig",
"cert" (signed kinds), "status" (the last status reached), "boots" (boots resumed in
that status)}. At most _MAX bytes (OCPP bounds location, signature and certificate well
below it). Loaded only when the file exists (Adapter.run() looks with os.stat)."""
from micropython import const
import json
import fwslot
import store
from firmware import log

_MAX = const(8192)
NAME = "/fw/job.json"
# the statuses a job is taken up again from (the ones before the install's commit point)
RESUMABLE = ("DownloadScheduled", "Downloading", "Downloaded", "SignatureVerified",
             "InstallScheduled", "Installing")


def save(flash, d):
    """Writes the record whole (lib/store: temporary + rename, a cut leaves the old one
    or the new one). -> False when it could not be kept (too large, a flash error): the
    update runs on, not resumable."""
    try:
        s = json.dumps(d)
        if len(s) > _MAX:
            raise ValueError("%d bytes" % len(s))
        fwslot.mkdirs(flash + "/fw")
        store.atomic_write(flash + NAME, s)
        return True
    except (OSError, ValueError) as e:
        log.warn("fwupd", "update record not kept: %r", e)
        return False


def remove(flash):
    store.remove(flash + NAME)


def _num(d, k, low):
    v = d.get(k)
    return isinstance(v, int) and not isinstance(v, bool) and v >= low


def _why(d):
    """None when d is a record this firmware can take up, else what is wrong."""
    if not isinstance(d, dict):
        return "not an object"
    if d.get("kind") not in ("16", "16s", "201"):
        return "kind"
    url = d.get("url")
    if not isinstance(url, str) or not (url.startswith("http://") or url.startswith("https://")):
        return "url"
    rid = d.get("id")
    if rid is not None and (not isinstance(rid, int) or isinstance(rid, bool)):
        return "id"
    for k, low in (("retrieve", 0), ("install_at", 0), ("tries", 0), ("interval", 1),
                   ("boots", 0)):
        if not _num(d, k, low):
            return k
    for k in ("sig", "cert"):
        if d.get(k) is not None and not isinstance(d[k], str):
            return k
    if d["kind"] != "16" and (d.get("sig") is None) != (d.get("cert") is None):
        return "signature"
    if d.get("status") not in RESUMABLE:
        return "status"
    return None


def load(flash):
    """The record on flash, or None: none there, or one that is malformed (too large,
    not JSON, a field missing or of the wrong kind), which is logged and removed so that
    it is read once only."""
    d, ok = store.load_json(flash + NAME, None, _MAX)
    if ok and d is None:
        return None                     # none
    why = _why(d) if ok else "unreadable, not JSON or too large"
    if why is None:
        return d
    log.warn("fwupd", "update record ignored (%s): removed", why)
    remove(flash)
    return None
