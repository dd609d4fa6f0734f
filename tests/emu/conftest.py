import pytest

from tests.emu.emuctl import Emu, missing


@pytest.fixture(scope="module")
def emu(tmp_path_factory):
    """One emulated Pico per test module, booted on a fresh flash and provisioned
    (station.json and the host link written over the raw REPL, then reset)."""
    why = missing()
    if why:
        pytest.skip(why)
    e = Emu(tmp_path_factory.mktemp("emu"))
    yield e
    e.stop()


@pytest.fixture
def make_emu(tmp_path):
    """Emulators a test starts itself (other options, or a flash to reuse)."""
    why = missing()
    if why:
        pytest.skip(why)
    started = []

    def make(**kw):
        e = Emu(tmp_path, name="emu%d" % len(started), **kw)
        started.append(e)
        return e
    yield make
    for e in started:
        e.stop()
