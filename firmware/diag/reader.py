"""An upload of a flash log (firmware.diag.flashlog): its lines between two times, read
as a file is by lib/httpc.send (size first, then readinto()).

    b = Body(flash, "d", head, lo=None, hi=None, tail="")   # "d" diagnostics, "s" security
    b.size ; b.rewind() ; b.readinto(buf)

lo / hi: ISO times "YYYY-MM-DDTHH:MM:SSZ" (firmware.clock.iso) or None; the lines are
compared by their first 20 characters, which sort as the times do. The files are
taken as they are when the Body is made (their sizes then): a line the writer appends
meanwhile is in the next upload, so the two passes (size, then content) agree. A line
that does not start with a time (a damaged file) is left out; secrets are masked again
(flashlog.mask), whatever firmware wrote the file. tail: lines after the files' (those
the flash could not take: flashlog.pending). Loaded for an upload only."""
from micropython import const
from firmware.diag.flashlog import files, mask

_LINE = const(512)          # longest line read; a longer one is read in pieces


def _stamped(ln):
    return len(ln) > 21 and ln[4] == "-" and ln[10] == "T" and ln[19] == "Z" and ln[20] == " "


class _Lines:
    """A text read line by line as a file is (the tail)."""

    def __init__(self, text):
        self.t = text
        self.i = 0

    def readline(self, n):
        j = self.t.find("\n", self.i, self.i + n)
        j = self.i + n if j < 0 else j + 1
        ln = self.t[self.i:j]
        self.i = j
        return ln

    def close(self):
        pass


class Body:
    def __init__(self, flash, kind, head="", lo=None, hi=None, tail=""):
        self.head = head.encode()
        self._tail = tail
        self.lo = lo
        self.hi = hi
        self.lines = 0                  # lines selected
        import os
        self._files = []
        for _, path in files(flash, kind):
            try:
                self._files.append((path, os.stat(path)[6]))
            except OSError:
                pass
        self.size = 0
        self.rewind()
        n = 0
        while True:
            b = self._next()
            if b is None:
                break
            n += len(b)
        self.size = n + len(self.head)
        self.lines = self._count
        self.rewind()

    def rewind(self):
        self._close()
        self._i = -1
        self._left = 0
        self._f = None
        self._pend = self.head
        self._off = 0
        self._count = 0

    def _close(self):
        f = getattr(self, "_f", None)
        if f is not None:
            f.close()
            self._f = None

    def _next(self):
        """The next selected line as bytes, or None at the end."""
        while True:
            if self._f is None:
                self._i += 1
                if self._i == len(self._files) and self._tail:
                    self._f = _Lines(self._tail)
                    self._left = len(self._tail)
                if self._i >= len(self._files) and self._f is None:
                    return None
            if self._f is None:
                path, self._left = self._files[self._i]
                try:
                    self._f = open(path, "rb")
                except OSError:             # gone meanwhile (rotated): nothing of it
                    self._left = 0
                    continue
            if self._left <= 0:
                self._close()
                continue
            raw = self._f.readline(min(_LINE, self._left))
            if not raw:
                self._left = 0
                continue
            self._left -= len(raw)
            try:
                ln = raw if isinstance(raw, str) else raw.decode()
            except UnicodeError:
                continue
            if not ln.endswith("\n") or not _stamped(ln):
                continue
            t = ln[:20]
            if (self.lo is not None and t < self.lo) or (self.hi is not None and t > self.hi):
                continue
            self._count += 1
            return mask(ln[:-1]).encode() + b"\n"

    def readinto(self, buf):
        """Fills buf with the next bytes of the upload; 0 at the end."""
        n = 0
        mv = memoryview(buf)
        while n < len(buf):
            if self._off >= len(self._pend):
                b = self._next()
                if b is None:
                    break
                self._pend, self._off = b, 0
            k = min(len(buf) - n, len(self._pend) - self._off)
            mv[n:n + k] = self._pend[self._off:self._off + k]
            n += k
            self._off += k
        return n

    def close(self):
        self._close()
