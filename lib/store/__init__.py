"""Atomic whole-file writes on littlefs, stale-temporary cleanup, small JSON files.

A file is written as path + ".tmp", closed, then renamed over path. littlefs renames
atomically, so after a power cut at any point the file holds the old or the new
content, never a mix; a stale ".tmp" may remain and cleanup() at boot removes it.

A failed flash write (OSError from the block device) can leave littlefs's RAM state
(its caches, a half-done commit) out of step with the flash: later commits then land
where a remount will not find them (littlefs "robust errors"; seen here as records
written after a swallowed EIO vanishing at the next boot). So whoever catches such an
error calls fault(), and the board's handler (on_fault) remounts the file system
before anything else is written. A file handle of the old mount must never be closed
after that: its close would write its stale state into the live flash (keep_open())."""
from micropython import const
import json
import os

TMP = ".tmp"
MAX_SIZE = const(32768)       # read() refuses larger files (bounded RAM)
_ENOENT = const(2)
_EFBIG = const(27)
_DIR = const(0x4000)
_DEPTH = const(4)             # cleanup() descends this many directory levels


on_fault = None              # the board's remount: a callable, or None (no remount)
_GRAVE = []                  # handles of an old mount that must never be closed


def fault():
    """A flash write failed: remount (on_fault) before the next write. Errors of the
    remount itself are the board's to report; this never raises."""
    f = on_fault
    if f is not None:
        try:
            f()
        except Exception as e:         # a broken remount must not hide the first error
            print("store: remount failed:", repr(e))


def keep_open(f):
    """Keeps the file object f referenced for good, unclosed: a write handle whose
    close failed, before a remount (fault()). Bounded: past 16 (a flash failing over
    and over) the oldest is released to the GC."""
    if len(_GRAVE) >= 16:
        _GRAVE.pop(0)
    _GRAVE.append(f)


def close(f):
    """Closes a write handle. A close that fails leaves MicroPython's file open, and a
    later close or the GC's finaliser would commit it behind the writer's back (after a
    remount: into the new mount, with stale data): so it is kept open for good and the
    OSError re-raised, for the caller to call fault() once for the whole operation."""
    try:
        f.close()
    except OSError:
        keep_open(f)
        raise


def atomic_write(path, data):
    """Replaces path with data (bytes or str) atomically. On error the old file stays,
    the temporary is removed where possible, and the OSError propagates. ENOENT (the
    directory does not exist) is the caller's to handle and no fault()."""
    tmp = path + TMP
    try:
        f = open(tmp, "wb")
    except OSError as e:
        # a missing directory is no flash fault: nothing was written, no remount
        if e.args[0] != _ENOENT:
            fault()
        raise
    try:
        try:
            f.write(data)
        finally:
            close(f)            # a failed close: kept open, never closed again
        os.rename(tmp, path)
    except OSError:
        fault()
        try:
            os.remove(tmp)
        except OSError:
            pass
        raise


def read(path, default=None, max_size=MAX_SIZE):
    """The whole file as bytes, or default when it does not exist. A file larger than
    max_size raises OSError(EFBIG); other OSErrors (EIO, a damaged fs) propagate."""
    try:
        size = os.stat(path)[6]
    except OSError as e:
        if e.errno == _ENOENT:
            return default
        raise
    if size > max_size:
        raise OSError(_EFBIG)
    with open(path, "rb") as f:
        return f.read()


def cleanup(dirpath):
    """Removes stale temporaries (*.tmp) under dirpath, a few levels deep.
    Returns how many were removed."""
    return _cleanup(dirpath, _DEPTH)


def remove(path):
    """Removes the file path; a missing one is no error. -> True when one was removed."""
    try:
        os.remove(path)
        return True
    except OSError:
        return False


def rmtree(d):
    """Removes the directory d and everything under it; a missing d is no error. Not atomic:
    callers that need a cut to leave something recognisable remove their marker first."""
    try:
        entries = list(os.ilistdir(d))
    except OSError:
        return
    for ent in entries:
        p = d + "/" + ent[0]
        if ent[1] == _DIR:
            rmtree(p)
        else:
            os.remove(p)
    os.rmdir(d)


def _cleanup(d, depth):
    n = 0
    try:
        entries = list(os.ilistdir(d))
    except OSError:
        return 0
    for ent in entries:
        name, kind = ent[0], ent[1]
        p = d + "/" + name if d != "/" else "/" + name
        if kind == _DIR:
            if depth > 1:
                n += _cleanup(p, depth - 1)
        elif name.endswith(TMP):
            try:
                os.remove(p)
                n += 1
            except OSError:
                pass
    return n


def load_json(path, default=None, max_size=MAX_SIZE):
    """(value, ok). An absent file gives (default, True); a file that cannot be read or
    parsed, or is too large, gives (default, False) so the caller can report it."""
    try:
        data = read(path, None, max_size)
    except OSError:
        return default, False
    if data is None:
        return default, True
    try:
        return json.loads(data), True
    except ValueError:
        return default, False


def save_json(path, obj):
    """Writes obj as JSON atomically; raises OSError (flash), or ValueError when obj is
    not JSON (MicroPython's json.dumps writes the repr of unknown objects: the text is
    parsed back before it reaches the flash, so load_json never sees it damaged)."""
    text = json.dumps(obj)
    try:
        json.loads(text)
    except ValueError:
        raise ValueError("not JSON: " + text[:40])
    atomic_write(path, text)
