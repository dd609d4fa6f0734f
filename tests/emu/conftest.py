import pytest

from tests.emu.emuctl import Emu, missing, provisioned_flash


@pytest.fixture(scope="session")
def emu_template(tmp_path_factory):
    """A provisioned flash (one emulator run per worker), which each emulator copies
    instead of being provisioned again."""
    why = missing()
    if why:
        pytest.skip(why)
    return provisioned_flash(str(tmp_path_factory.mktemp("emu-template") / "flash.img"))


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
