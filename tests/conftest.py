import os
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

_INTEGRATION = os.path.join(ROOT, "tests", "integration") + os.sep
_EMU = os.path.join(ROOT, "tests", "emu") + os.sep


def pytest_itemcollected(item):
    """Markers pytest.ini documents, set as each test is collected (before any plugin's
    pytest_collection_modifyitems, pytest-xdist's included, which reads xdist_group):
    - `integration` on every test under tests/integration/;
    - `emu` and `slow` on every test under tests/emu/ (the emulated Pico: minutes of CPU,
      so not in make test-fast, and scheduled first in make test);
    - tests that share a module-scoped fixture (one CSMS, one scenario run) go to one
      worker (xdist_group, with --dist loadgroup), so the fixture is made once."""
    if str(item.path).startswith(_INTEGRATION):
        item.add_marker(pytest.mark.integration)
    elif str(item.path).startswith(_EMU):
        item.add_marker(pytest.mark.emu)
        item.add_marker(pytest.mark.slow)
    info = getattr(item, "_fixtureinfo", None)
    defs = info.name2fixturedefs.values() if info is not None else ()
    if any(d.scope == "module" for ds in defs for d in ds):
        item.add_marker(pytest.mark.xdist_group(item.module.__name__))


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(config, items):
    """`slow` tests first (a stable sort, the same on every worker), so the longest ones
    do not start last and leave the other workers idle at the end; `mp32` tests last:
    `make test` builds the 32-bit ports in the background meanwhile.

    pytest-xdist 3.8's --dist loadgroup marks a grouped test by suffixing its node id
    with @GROUP, which it does by setting Item._nodeid; pytest 9 keeps the id in Item._id,
    so the suffix is lost and the group ignored. Done here the way pytest 9 stores it
    (both versions pinned in requirements.txt)."""
    def order(item):
        if item.get_closest_marker("mp32") is not None:
            return 2
        return 0 if item.get_closest_marker("slow") is not None else 1
    items.sort(key=order)
    if not getattr(config.option, "loadgroup", False):
        return
    from _pytest.nodeid import coerce_node_id
    for item in items:
        mark = item.get_closest_marker("xdist_group")
        if mark is not None and "@" not in item.nodeid and hasattr(item, "_id"):
            item._id = coerce_node_id("%s@%s" % (item.nodeid, mark.args[0]))
