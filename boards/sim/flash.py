"""Simulated flash: a littlefs image in a host file behind the block-device protocol that
os.VfsLfs2 uses (readblocks, writeblocks with offset, ioctl 1-6), with fault injection.

- fail_after(n): the n-th following program/erase raises OSError(EIO) and is not done
  (a failed flash write); one shot.
- nomem(n): the next n opens of a file to append (the journal's writes) raise
  MemoryError, as littlefs's file buffer (about 1.1 KB in one piece) does in a fragmented
  heap; nothing is written. Done in the file system (_Vfs), not the block device.
- cut_after(n, hard=True): the n-th following program/erase is a power cut: it is not
  done and the process dies at once. The unix port has no os._exit, so a hard cut runs
  `kill -9 $PPID` through os.system (the shell's parent is this process): no finally
  block, atexit or buffered write runs, as on a real power loss. hard=False raises
  PowerCut instead (for in-process tests) and the device stays dead (every later
  program/erase raises PowerCut too) until power_on().

Writes go straight to the file with write(2) (the unix port's files are unbuffered), so
a SIGKILLed process leaves the image exactly as the last completed program/erase left
it; ioctl SYNC also flushes."""
from micropython import const
import os
import sys

_BLOCK = const(4096)
_BLOCKS = const(256)          # 1 MiB
_PROG = const(256)            # as the rp2 port mounts its flash
_READ = const(32)
_LOOKAHEAD = const(32)
_EIO = const(5)


_RETIRED = {}                 # image path -> read handle of retired devices (never closed)
_RETIRED_EIO = []             # the one OSError their writes raise (made at the first reborn)
_FF = []
_PIECE = const(256)           # erased bytes are written (and compared) in pieces this long


def _erased():
    """A piece of erased flash (0xFF), made once: not a 4 KiB block, whose heap the
    firmware's budget would pay for a simulator's convenience."""
    if not _FF:
        _FF.append(b"\xff" * _PIECE)
    return _FF[0]


class PowerCut(BaseException):
    """A simulated power cut (cut_after(n, hard=False)); never raised on a board. A
    BaseException, as boards.sim.Reset: no `except Exception` in the firmware can
    swallow it, and MicroPython's asyncio lets it out of asyncio.run() at once."""


class _Vfs(os.VfsLfs2):
    """littlefs as mounted by the simulator: os.VfsLfs2 with the one fault a block
    device cannot make, a MemoryError at open (FlashDevice.nomem)."""

    def open(self, path, mode="r"):
        d = self.dev
        if d.nomem_n and "a" in mode:
            d.nomem_n -= 1
            d.nomem_hits += 1
            raise MemoryError("memory allocation failed (simulated: no room for the file buffer)")
        return super().open(path, mode)


class FlashDevice:
    def __init__(self, path, blocks=_BLOCKS):
        self.path = path
        self.block_size = _BLOCK
        self.blocks = blocks
        self.ops = 0              # program/erase operations done since creation
        self.fresh = False        # the image file was created (or was empty) just now
        self.dead = False         # after a soft power cut, until power_on()
        self._fail_n = 0
        self._cut_n = 0
        self._cut_hard = True
        self.nomem_n = 0          # opens to append that raise MemoryError (nomem)
        self.nomem_hits = 0
        self._ff = _erased()
        self._f = self._open()

    def _open(self):
        size = 0
        try:
            size = os.stat(self.path)[6]
        except OSError:
            pass
        if size == 0:
            self.fresh = True
        f = open(self.path, "r+b" if size else "w+b")
        if size < self.blocks * _BLOCK:     # new image, or grown: erased flash is 0xFF
            f.seek(size)
            for _ in range((size // _BLOCK) * (_BLOCK // _PIECE), self.blocks * (_BLOCK // _PIECE)):
                f.write(self._ff)
            f.flush()
        return f

    def close(self):
        if self._f is not None:
            if not self.retired:        # the retired devices' handle is shared
                self._f.close()
            self._f = None

    # ------------------------------------------------------------ fault injection
    def fail_after(self, n):
        """The n-th following program/erase (n >= 1) fails with EIO; 0 disarms."""
        self._fail_n = n if n > 0 else 0

    def nomem(self, n):
        """The next n opens of a file to append raise MemoryError; 0 disarms."""
        self.nomem_n = n if n > 0 else 0

    def cut_after(self, n, hard=True):
        """The n-th following program/erase (n >= 1) is a power cut; 0 disarms."""
        self._cut_hard = hard           # first: the control thread may arm it mid-run
        self._cut_n = n if n > 0 else 0

    def reborn(self):
        """After a soft power cut: a new device on the same image, as the next boot
        finds it; this one is retired for good. The old boot's littlefs instance and
        file objects still point here, and one closed later (a finalizer) must not
        write its stale RAM state into the new boot's file system: at a real power cut
        that RAM is gone."""
        if not _RETIRED_EIO:
            _RETIRED_EIO.append(OSError(_EIO))
        self.dead = True
        self.retired = True         # reads see the image (one shared handle); writes fail
        if self._f is not None:
            self._f.close()
        self._f = _RETIRED.get(self.path)
        if self._f is None:
            self._f = _RETIRED[self.path] = open(self.path, "rb")
        d = FlashDevice(self.path, self.blocks)
        d.ops = self.ops
        return d

    retired = False

    def power_on(self):
        """After a soft power cut: the device works again (remount to use it)."""
        self.dead = False
        self._cut_n = 0
        self._fail_n = 0

    def _program_ok(self):
        """Counts one program/erase; False when it must not happen."""
        if self.retired:
            # an old boot's finalizer (a file object of the littlefs instance from before
            # a soft power cut, collected now): it fails at once, and nothing is written.
            # Dropping it silently made littlefs's read-back check fail on every block
            # in turn (relocating, up to ENOSPC), seconds inside a collection with the
            # world thread waiting. The error is made once: a finalizer runs with the
            # heap locked, so raising a new one would fail to allocate (reborn made it).
            raise _RETIRED_EIO[0]
        if self.dead:
            raise PowerCut()
        if self._cut_n:
            self._cut_n -= 1
            if not self._cut_n:
                self._power_cut()
        if self._fail_n:
            self._fail_n -= 1
            if not self._fail_n:
                raise OSError(_EIO)
        self.ops += 1
        return True

    def _power_cut(self):
        self.dead = True
        if self._cut_hard and hasattr(os, "system"):
            os.system("kill -9 $PPID")
        raise PowerCut()

    # ------------------------------------------------------------ block protocol
    def readblocks(self, block, buf, offset=0):
        f = self._f
        if f is None:               # retired (reborn) or closed: an old boot's finalizer
            for i in range(len(buf)):
                buf[i] = 0xFF
            return
        f.seek(block * _BLOCK + offset)
        n = f.readinto(buf)
        if n != len(buf):
            raise OSError(_EIO)

    def writeblocks(self, block, buf, offset=None):
        if offset is None:                  # simple interface: erase, then program
            n = len(buf) // _BLOCK
            for b in range(block, block + n):
                self._erase(b)
            offset = 0
        if not self._program_ok():
            return
        f = self._f
        f.seek(block * _BLOCK + offset)
        f.write(buf)

    def _erase(self, block):
        if not self._program_ok():
            return
        f = self._f
        f.seek(block * _BLOCK)
        for _ in range(_BLOCK // _PIECE):
            f.write(self._ff)

    def ioctl(self, op, arg):
        if op == 4:                         # block count
            return self.blocks
        if op == 5:                         # block size
            return _BLOCK
        if op == 6:                         # erase one block
            self._erase(arg)
            return 0
        if op == 3:                         # sync
            if self._f is not None and not self.retired:
                self._f.flush()
            return 0
        if op == 1 or op == 2:              # init, deinit
            return 0
        return None

    # ------------------------------------------------------------ littlefs
    def vfs(self):
        v = _Vfs(self, readsize=_READ, progsize=_PROG, lookahead=_LOOKAHEAD)
        v.dev = self
        return v

    def format(self):
        os.VfsLfs2.mkfs(self, readsize=_READ, progsize=_PROG, lookahead=_LOOKAHEAD)

    def blank(self):
        """True when the image holds nothing: erased (0xFF) or zeroed superblocks."""
        buf = bytearray(_PIECE)
        for b in (0, 1):
            ff = zero = True
            for off in range(0, _BLOCK, _PIECE):
                self.readblocks(b, buf, off)
                ff = ff and buf == self._ff
                zero = zero and not any(buf)
            if not (ff or zero):
                return False
        return True

    def mount(self, path="/flash"):
        """Mounts littlefs at path. A blank image is formatted silently; an image that
        will not mount is reported on stderr, then formatted (never a boot loop).
        Returns "mounted", "formatted" (blank) or "reformatted" (was corrupt)."""
        try:
            os.mount(self.vfs(), path)
            return "mounted"
        except OSError as e:
            if self.blank():
                how = "formatted"
            else:
                how = "reformatted"
                sys.stderr.write("flash: %s does not mount (%r): formatting\n" % (self.path, e))
        self.format()
        os.mount(self.vfs(), path)
        return how


def umount(path="/flash"):
    """Unmounts path if something is mounted there (for in-process reboots and tests)."""
    try:
        os.umount(path)
        return True
    except OSError:
        return False
