"""tools/harness/ptyrun.py: the unix port behind a device path that mpremote connects to as it
would to a board. `micropython -i` is the device here (no firmware): raw REPL through
mpremote with `resume`, Ctrl-C interrupting running code (SIGINT) with nothing typed
after it lost, Ctrl-C as a byte for a program that disabled it (kbd_intr(-1)), output
while nobody listens, the child's exit."""
import os

import pytest

from tools.harness import ptyrun
from tools.harness.ptydev import PtyDevice

pytestmark = pytest.mark.skipif(not os.path.exists("/proc/self/syscall"),
                                reason="ptyrun needs Linux /proc")


@pytest.fixture
def dev(tmp_path):
    scratch = tmp_path / "fs"
    scratch.mkdir()
    d = PtyDevice.bare(tmp_path, scratch).start()
    d.scratch = scratch
    yield d
    d.stop()


def test_raw_repl_through_mpremote(dev):
    p = dev.mpremote("exec", "import sys, os; print(sys.platform, sys.path, os.getcwd())")
    assert p.stdout.split()[0] == "linux"
    assert "['', '.frozen', 'lib']" in p.stdout and str(dev.scratch) in p.stdout
    # the file system is the scratch directory: mpremote fs works on it
    dev.mpremote("fs", "mkdir", "d")
    dev.mpremote("fs", "cp", os.path.join(ptyrun.ROOT, "README.md"), ":d/r.md")
    assert (dev.scratch / "d" / "r.md").read_bytes() == \
        open(os.path.join(ptyrun.ROOT, "README.md"), "rb").read()


# each program prints a marker built at run time (the code sent is not echoed, and a
# marker spelled whole in it could not be told from the program's own output anyway)
def test_ctrl_c_interrupts_running_code(dev):
    """mpremote's Ctrl-C, then at once Ctrl-A: the first becomes SIGINT, the second is
    held until the REPL reads again (the unix REPL flushes pending input). PtyDevice
    holds it with no time limit a test could reach (ptydev.HOLD_S): what the REPL
    receives then was released by its read."""
    dev.mpremote("exec", "--no-follow", "n = 0\nprint('busy' + '-loop')\nwhile True:\n    n += 1")
    dev.wait_output("busy-loop")
    p = dev.mpremote("exec", "print('n', n > 0)")
    assert "n True" in p.stdout        # the held Ctrl-A reached the REPL once it read
    # and a sleeping program (blocked in a syscall) too
    dev.mpremote("exec", "--no-follow",
                 "import time\nprint('sleep' + '-loop')\nwhile True:\n    time.sleep_ms(50)")
    dev.wait_output("sleep-loop")
    assert "ok" in dev.mpremote("exec", "print('ok')").stdout


def test_ctrl_c_reaches_a_program_that_disabled_it(dev):
    dev.mpremote("exec", "--no-follow",
                 "import sys, micropython\nmicropython.kbd_intr(-1)\nseen = []\n"
                 "print('reading' + '-stdin')\n"
                 "while True:\n    c = sys.stdin.buffer.read(1)\n    seen.append(c)\n"
                 "    if c == b'\\x03':\n        break\nmicropython.kbd_intr(3)\n")
    dev.wait_output("reading-stdin")
    p = dev.mpremote("exec", "print(seen)")
    assert "b'\\x03'" in p.stdout


def test_output_without_a_client_is_dropped(dev):
    # about 1.4 MB printed with nobody reading: ptyrun drops it
    dev.mpremote("exec", "--no-follow",
                 "for i in range(20000):\n    print('x' * 70)\nprint('printed' + '-all')\n")
    dev.wait_output("printed-all")
    assert "alive" in dev.mpremote("exec", "print('alive')").stdout


def test_child_exit_ends_ptyrun(dev):
    # mpremote may or may not see the raw-paste acknowledgement before the exit
    dev.mpremote("exec", "--no-follow", "import sys\nsys.exit(3)", check=False)
    assert dev.proc.wait(10) == 3
    assert not os.path.lexists(dev.link)
