"""A/B application slots on a file system, for updates that can be taken back.

    import fwslot
    run = fwslot.choose("/flash")      # at boot, before the application is imported:
                                       # the slot to run (its paths put first on sys.path)
                                       # or None (the base firmware: frozen or on the path)
    fwslot.commit("/flash")            # the trial slot proved itself: it becomes active
    fwslot.reject("/flash", why)       # the trial slot failed: back to the previous one
    fwslot.state("/flash")             # the state (a dict, below)

Layout: <root>/fw/a and <root>/fw/b hold an application each (a `firmware` package and
a `lib` folder, compiled modules), with <slot>/manifest.json written last when a slot
is installed (install() does it): a slot without its manifest, or with a file whose
size is not the manifest's, is not a firmware. <root>/fw/state.json (written whole,
atomically: temporary + rename) is the commit point of every change:

    {"active": "a" | "b" | None,    the slot that proved itself (None: the base firmware)
     "trial": "a" | "b" | None,     the slot installed last, not yet proved
     "tries": n,                    boots of the trial so far
     "max": n,                      boots a trial gets before it is taken back
     "run": "a" | "b" | None,       what choose() started this boot
     "result": None | [status, info, ...]: what happened to the last update, for the
                                    application to report once (clear_result())
     "job": {...}                   the application's own note on the update (kept)}

A trial slot is booted at most `max` times (a boot that never commits counts, whatever
ended it: a crash, a watchdog, a power cut); then the boot goes back to the active slot,
or to the base firmware if no slot is valid, and records the result ("rollback").
Nothing here needs more than os and json: it runs before the application is loaded.
"""
from micropython import const
import os
import sys
import json

_TMP = const(".tmp")
_MAX_TRIES = const(3)
_MAX_STATE = const(2048)
SLOTS = ("a", "b")
# the ROMFS partition whose halves are the slots (fwslot.rom.Rom), when choose() was
# given one at boot: what the rest of the boot (reject, the update's install) uses
ROM = None


def _dir(root):
    return root + "/fw"


def slot_dir(root, slot):
    return "%s/fw/%s" % (root, slot)


def _empty():
    return {"active": None, "trial": None, "tries": 0, "max": _MAX_TRIES, "run": None,
            "result": None, "job": None}


def state(root):
    """The state on flash; a missing or damaged file reads as the empty state (the
    base firmware, no trial)."""
    st = _empty()
    try:
        if os.stat(_dir(root) + "/state.json")[6] <= _MAX_STATE:
            with open(_dir(root) + "/state.json") as f:
                d = json.loads(f.read())
            if isinstance(d, dict):
                for k in st:
                    if k in d:
                        st[k] = d[k]
    except (OSError, ValueError):
        pass
    for k in ("active", "trial", "run"):
        if st[k] not in SLOTS:
            st[k] = None
    if not isinstance(st["tries"], int) or not isinstance(st["max"], int):
        st["tries"], st["max"] = _MAX_TRIES, _MAX_TRIES
    return st


def save(root, st):
    """Writes the state whole: a temporary, then a rename over the old file (littlefs
    renames atomically, so a cut leaves the old state or the new one)."""
    mkdirs(_dir(root))
    p = _dir(root) + "/state.json"
    with open(p + _TMP, "w") as f:
        f.write(json.dumps(st))
    os.rename(p + _TMP, p)


def mkdirs(path):
    cur = ""
    for part in path.split("/"):
        if not part:
            continue
        cur += "/" + part
        try:
            os.mkdir(cur)
        except OSError:
            pass                # exists (or the parent is missing: the next one fails)


def manifest(root, slot, rom=None):
    """The slot's manifest (a dict) when the slot holds a whole application, else None.
    rom (fwslot.rom.Rom): the slots are the halves of a ROMFS partition instead."""
    if slot not in SLOTS:
        return None
    rom = rom or ROM
    if rom is not None:
        return rom.manifest(slot)
    d = slot_dir(root, slot)
    try:
        if os.stat(d + "/manifest.json")[6] > 32768:
            return None
        with open(d + "/manifest.json") as f:
            m = json.loads(f.read())
        for name, size, _ in m["files"]:
            if os.stat(d + "/" + name)[6] != size:
                return None
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return m if isinstance(m.get("version"), str) else None


def paths(d):
    """sys.path entries of an application at d: its lib folder (top-level packages)
    and its root (the firmware package)."""
    return (d + "/lib", d)


def choose(root, max_tries=None, place=None, rom=None):
    """At boot: the slot to run, with its paths put first on sys.path, or None for the
    base firmware. Counts the trial's boot, or takes the trial back after its last one
    (result ["rollback", slot, version]). place(slot) -> the directory the slot's code is
    imported from, when not the slot itself (the unix port cannot import from a mounted
    littlefs: the simulator copies the slot to a host folder, boards.sim.run). rom
    (fwslot.rom.Rom): the slots are the halves of the image's ROMFS partition, the
    chosen one mounted read-only (its code runs in place from flash)."""
    global ROM
    ROM = rom
    st = state(root)
    was = json.dumps(st)
    if max_tries is not None:
        st["max"] = max_tries
    run = None
    t = st["trial"]
    if t is not None:
        m = manifest(root, t, rom)
        if m is not None and st["tries"] < st["max"]:
            st["tries"] += 1
            run = t
        else:
            st["result"] = ["rollback", t, m["version"] if m else None, st.get("job")]
            st["trial"] = None
            st["tries"] = 0
    if run is None and st["active"] is not None:
        if manifest(root, st["active"], rom) is not None:
            run = st["active"]
        else:
            st["active"] = None
    st["run"] = run
    if json.dumps(st) != was:   # nothing written on an ordinary boot
        try:
            save(root, st)
        except OSError:
            pass                # a full or failing flash: run what was chosen anyway
    if run is not None:
        if rom is not None:
            try:
                ps = rom.mount(run)
            except OSError:
                return None     # counted as a boot of the trial: a failed one
        else:
            ps = paths(place(run) if place else slot_dir(root, run))
        for p in reversed(ps):
            if p not in sys.path:
                sys.path.insert(0, p)
    return run


# the top-level names an application bundle holds (tools/fwupd/bundle.py: firmware/, lib/)
BUNDLED = ("firmware", "ws", "httpc", "ocppj", "store", "modbus", "x509", "csr", "fwslot")


def forget(names=BUNDLED):
    """Forgets the loaded modules a slot replaces (their top-level name in names), so
    the next import finds the slot's: after choose(), when some were imported before
    (a board's boot.py imports the logger). Who holds one keeps the old module."""
    for k in [k for k in sys.modules if k.split(".")[0] in names]:
        del sys.modules[k]


def drop_paths(root, place=None):
    """Takes every slot's paths off sys.path (before choosing again in-process)."""
    for s in SLOTS:
        for p in paths(place(s) if place else slot_dir(root, s)):
            while p in sys.path:
                sys.path.remove(p)


def spare(root):
    """The slot an update may be written to: neither active nor on trial."""
    st = state(root)
    for s in SLOTS:
        if s != st["active"] and s != st["trial"] and s != st["run"]:
            return s
    return None


def set_trial(root, slot, job=None):
    """The slot just installed is tried at the next boots (the commit point of an
    install: before it, the old state; after it, the trial)."""
    st = state(root)
    st["trial"], st["tries"], st["result"], st["job"] = slot, 0, None, job
    save(root, st)


def commit(root):
    """The trial running now proved itself: it becomes the active slot. -> True when
    there was one to commit."""
    st = state(root)
    if st["trial"] is None or st["run"] != st["trial"]:
        return False
    st["active"], st["trial"], st["tries"] = st["trial"], None, 0
    st["result"] = None
    save(root, st)
    return True


def reject(root, why="rejected", rom=None):
    """The trial running now failed: the next boot goes back (result [why, ...])."""
    st = state(root)
    if st["trial"] is None:
        return False
    m = manifest(root, st["trial"], rom)
    st["result"] = [why, st["trial"], m["version"] if m else None, st.get("job")]
    st["trial"], st["tries"] = None, 0
    save(root, st)
    return True


def clear_result(root):
    st = state(root)
    if st["result"] is not None:
        st["result"] = None
        save(root, st)
