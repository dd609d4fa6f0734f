import fcntl
import hashlib
import os

import pytest

from tests.emu.emuctl import EMU, IMAGE, ROOT, Emu, missing, provisioned_flash


@pytest.fixture(scope="session")
def emu_template():
    """A provisioned flash, which each emulator copies instead of being provisioned
    again: made once for an image, station.json and emu.js (their hash names it, in
    build/emu), shared by the pytest-xdist workers under a file lock."""
    why = missing()
    if why:
        pytest.skip(why)
    h = hashlib.sha256()
    for p in (IMAGE, os.path.join(ROOT, "tools", "emu", "station.json"), EMU):
        with open(p, "rb") as f:
            h.update(f.read())
    path = os.path.join(ROOT, "build", "emu", "provisioned-%s.img" % h.hexdigest()[:16])
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path + ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not os.path.exists(path):
            provisioned_flash(path + ".new")
            os.replace(path + ".new", path)
    return path


@pytest.fixture(scope="module")
def emu(tmp_path_factory, emu_template):
    """One emulated Pico per test module, booted on a provisioned flash (station.json
    and the host link written over the raw REPL, then reset: emu_template)."""
    e = Emu(tmp_path_factory.mktemp("emu"), template=emu_template)
    yield e
    e.stop()


@pytest.fixture
def make_emu(tmp_path, emu_template):
    """Emulators a test starts itself (other options, or a flash to reuse); on a copy of
    the provisioned flash unless given flash= or template=."""
    started = []

    def make(**kw):
        kw.setdefault("template", None if "flash" in kw else emu_template)
        e = Emu(tmp_path, name="emu%d" % len(started), **kw)
        started.append(e)
        return e
    yield make
    for e in started:
        e.stop()
