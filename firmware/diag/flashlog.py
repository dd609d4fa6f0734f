"""The logs on flash: what the RAM ring (firmware.log) saw and the security events,
kept across reboots for GetDiagnostics / GetLog (firmware.ocpp.diag).

Each log rotates between a few files of a fixed size in /flash/log: `d.<n>` the
diagnostics log (_FILES of _FILE_BYTES), `s.<n>` the security log (_SEC_FILES of
_SEC_BYTES), n growing. A full file starts the next one and the oldest goes, so a log
never takes more than its files; none is started while the file system has less than
_RESERVE bytes free (the journal, the settings and certificates need the room).

Power cuts: a pass appends to one file and closes it (littlefs commits the new size
atomically: a cut keeps the file as it was), a rotation removes the oldest file before
it starts a new one (a cut leaves one file fewer). A line is "<ISO time> <level> <tag>:
<text>\\n", the ring's ticks turned into wall time when written; anything else read back
(a damaged file) is skipped by the reader (firmware.diag.reader).

Nothing here writes from the safety tick or from a logging call: firmware.log only fills
its RAM ring and note() a RAM list; the writer task (run()) appends what is pending every
_FLUSH_MS, sooner when half the ring waits or a security event came, and flush() before
an upload or a reset. A failed write (OSError, a
MemoryError for littlefs's file buffer) is counted and logged, remounts the file system
(store.fault) and is tried again at the next pass; it never raises into the station.
Lines the ring dropped before they were written are counted ("lines lost" in the log).
Secrets are masked before a line reaches the flash (mask())."""
from micropython import const
import asyncio
import os
import time
import store
from firmware import log

_DIR = const("/log")
_FILES = const(4)
_FILE_BYTES = const(8192)
_SEC_FILES = const(2)
_SEC_BYTES = const(4096)
_RESERVE = const(65536)
_FLUSH_MS = const(5000)
_POLL_MS = const(100)
_IDLE_MS = const(60000)         # nothing pending: the writer looks anyway after this long
_HALF_RING = const(1536)        # half of firmware.log's ring (3 KB)
_SEC_KEEP = const(16)           # security lines held in RAM until written
_EEXIST = const(17)
# words after which a line is cut: secrets (1.6 AuthorizationKey, 2.0.1 BasicAuthPassword,
# a private key, any password or key value): more than the frames firmware.ocpp.security.redact
# masks, as a log line may say anything
SECRETS = const(("AuthorizationKey", "BasicAuthPassword", "PRIVATE KEY", "assword", "passwd",
                 "secret", " key "))

_pos = 0            # firmware.log.total() written so far (kept across in-process reboots)
_sec = []           # security lines to write
_wanted = False     # write at the next poll (wake())
_writer = None      # the FlashLog of this boot (flush())
_ev = None          # the writer's wake-up while nothing is pending (run)
_idle = False       # ... and it is waiting for it


def mask(line):
    """The line with everything after a secret's name replaced, and the user:password of
    a URL (an upload location may carry them), so a log holds no passwords or keys."""
    for w in SECRETS:
        i = line.find(w)
        if i >= 0:
            line = line[:i + len(w)] + " <redacted>"
            break
    i = line.find("://")
    while i >= 0:
        j = k = i + 3
        while k < len(line) and line[k] not in "/ \"'\\":
            k += 1
        at = line.rfind("@", j, k)
        if at > j:
            line = line[:j] + "<redacted>" + line[at:]
        i = line.find("://", j)
    return line


def note(line):
    """A security log line (firmware.ocpp.security: "<ISO time> <type> <techInfo>"),
    written by the next pass; the oldest unwritten go past _SEC_KEEP."""
    if len(_sec) >= _SEC_KEEP:
        _sec.pop(0)
    _sec.append(mask(line.replace("\n", " ")))
    wake()


def files(flash, kind):
    """[(seq, path)] of log `kind` ("d" or "s"), oldest first."""
    d = flash + _DIR
    out = []
    try:
        for ent in os.ilistdir(d):
            name = ent[0]
            if len(name) > 2 and name[0] == kind and name[1] == ".":
                try:
                    out.append((int(name[2:]), d + "/" + name))
                except ValueError:
                    pass
    except OSError:
        pass
    out.sort()
    return out


class _Rotor:
    """One rotating log: append() to the newest file, a new one when it is full."""

    def __init__(self, flash, kind, n, size):
        self.flash = flash
        self.kind = kind
        self.n = n
        self.size = size
        self.cur = None             # (seq, path, bytes) of the file written now

    def _open_cur(self, need):
        if self.cur is None:
            fs = files(self.flash, self.kind)
            if fs:
                seq, path = fs[-1]
                try:
                    self.cur = (seq, path, os.stat(path)[6])
                except OSError:
                    self.cur = (seq, path, 0)
            else:
                self.cur = (0, None, self.size)       # nothing yet: start d.1
        seq, path, used = self.cur
        if path is not None and used + need <= self.size:
            return path
        fs = files(self.flash, self.kind)
        while len(fs) >= self.n:                      # the oldest go first
            os.remove(fs.pop(0)[1])
        if _free(self.flash) < _RESERVE:
            while len(fs) > 0 and _free(self.flash) < _RESERVE:
                os.remove(fs.pop(0)[1])
            if _free(self.flash) < _RESERVE:
                raise OSError(28)                     # ENOSPC: no room kept for this log
        seq += 1
        path = "%s%s/%s.%d" % (self.flash, _DIR, self.kind, seq)
        self.cur = (seq, path, 0)
        return path

    def append(self, text):
        """Writes text (whole lines) to the newest file, splitting it over a rotation.
        Raises OSError / MemoryError: the caller counts it and tries again later."""
        b = text.encode()
        off = 0
        while off < len(b):
            end = min(len(b), off + self.size)
            if end < len(b):                          # a file ends on a whole line
                j = b.rfind(b"\n", off, end)
                end = j + 1 if j >= off else end
            path = self._open_cur(end - off)
            f = open(path, "ab")
            try:
                f.write(memoryview(b)[off:end])
            finally:
                store.close(f)
            seq, _, used = self.cur
            self.cur = (seq, path, used + end - off)
            off = end


def _free(flash):
    st = os.statvfs(flash)
    return st[0] * st[4]


class FlashLog:
    """The writer of one boot: FlashLog(flash, clock); asyncio.create_task(fl.run())."""

    def __init__(self, flash, clock):
        global _writer
        _writer = self
        self.flash = flash
        self.clock = clock
        self.diag = _Rotor(flash, "d", _FILES, _FILE_BYTES)
        self.secl = _Rotor(flash, "s", _SEC_FILES, _SEC_BYTES)
        self.failures = 0           # passes whose write failed
        self.lost = 0               # times the ring dropped lines before they were written
        self._dir_ok = False
        self._streak = 0            # failed passes in a row

    def _mkdir(self):
        if not self._dir_ok:
            try:
                os.mkdir(self.flash + _DIR)
            except OSError as e:
                if e.args[0] != _EEXIST:
                    raise
            self._dir_ok = True

    def _lines(self, text):
        """Ring lines "<ticks> <rest>" -> "<ISO time> <rest>", secrets masked."""
        now_t = time.ticks_ms()
        now = self.clock.now()
        out = []
        for ln in text.split("\n"):
            if not ln:
                continue
            sp = ln.find(" ")
            t = now
            if sp > 0:
                try:
                    t = now - time.ticks_diff(now_t, int(ln[:sp])) // 1000
                    ln = ln[sp + 1:]
                except ValueError:
                    pass
            out.append(self.clock.iso(t) + " " + mask(ln) + "\n")
        return "".join(out)

    def flush(self):
        """Writes what the ring and note() hold now. -> True when all of it was written
        (False: the flash failed, counted, logged once a streak; tried again next time)."""
        global _pos
        try:
            self._mkdir()
            if _sec:
                self.secl.append("\n".join(_sec) + "\n")
                _sec.clear()
            text, pos, lost = log.since(_pos)
            if lost:
                self.lost += 1
                text = "%s W flashlog: lines lost (the ring wrapped before they were " \
                       "written)\n" % self.clock.iso() + self._lines(text)
            elif text:
                text = self._lines(text)
            if text:
                self.diag.append(text)
            _pos = pos
            self._streak = 0
            return True
        except (OSError, MemoryError) as e:
            self.failures += 1
            self._streak += 1
            self.diag.cur = self.secl.cur = None      # sizes read from flash again
            self._dir_ok = False
            if isinstance(e, OSError):
                store.fault()
            if self._streak == 1:
                log.error("flashlog", "write failed: %r (tried again every %d s)", e,
                          _FLUSH_MS // 1000)
            return False

    async def run(self):
        """The writer: a pass when something is pending and _FLUSH_MS went by, at once
        when half the ring is unwritten (a burst must not wrap it first) or wake() /
        note() asked. While something is pending it looks every _POLL_MS (no
        allocations); with nothing pending it waits for the next line (firmware.log's
        notify hook), note() or wake(), at most _IDLE_MS (a line logged where the hook
        is off: boards.common.board's failed tick)."""
        global _wanted, _ev, _idle
        ev = _ev = asyncio.Event()
        log.notify = _on_line
        t = time.ticks_ms()
        try:
            while True:
                if not self._streak and not _wanted and log.total() == _pos:
                    ev.clear()
                    _idle = True
                    try:
                        await asyncio.wait_for_ms(ev.wait(), _IDLE_MS)
                    except asyncio.TimeoutError:
                        pass
                    _idle = False
                await asyncio.sleep_ms(_POLL_MS)
                pending = log.total() - _pos
                late = time.ticks_diff(time.ticks_ms(), t) >= _FLUSH_MS
                if self._streak and not late:
                    continue                    # the flash failed: again after _FLUSH_MS only
                if _wanted or pending >= _HALF_RING or (pending and late):
                    _wanted = False
                    self.flush()
                    t = time.ticks_ms()
        finally:
            if log.notify is _on_line:
                log.notify = None
            _ev = None
            _idle = False


def pending(kind):
    """The lines of log `kind` ("d", "s") not on flash yet, as they would be written:
    an upload adds them when flush() failed, so a broken flash still sends the RAM's."""
    if kind == "s":
        return "".join(x + "\n" for x in _sec)
    if _writer is None:
        return ""
    return _writer._lines(log.since(_pos)[0])


def flush():
    """What the ring and note() hold, written now (an upload is coming): -> True when
    written, False when the flash failed or no writer runs in this boot."""
    return _writer is not None and _writer.flush()


def wake():
    """The writer writes within _POLL_MS."""
    global _wanted
    _wanted = True
    if _ev is not None:
        _ev.set()


def _on_line():
    # firmware.log.notify: a line is in the ring; the writer waits for the first one
    if _idle:
        _ev.set()
