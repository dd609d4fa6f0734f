import os
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

_INTEGRATION = os.path.join(ROOT, "tests", "integration") + os.sep


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config, items):
    """Markers pytest.ini documents, and an order for pytest-xdist (`make test`):
    - `integration` on every test under tests/integration/;
    - tests that share a module-scoped fixture (one CSMS, one scenario run) go to one
      worker (xdist_group, with --dist loadgroup), so the fixture is made once;
    - `slow` tests first (a stable sort, the same on every worker), so the longest ones do
      not start last and leave the other workers idle at the end."""
    for item in items:
        if str(item.path).startswith(_INTEGRATION):
            item.add_marker(pytest.mark.integration)
        info = getattr(item, "_fixtureinfo", None)
        defs = info.name2fixturedefs.values() if info is not None else ()
        if any(d.scope == "module" for ds in defs for d in ds):
            item.add_marker(pytest.mark.xdist_group(item.module.__name__))
    items.sort(key=lambda item: item.get_closest_marker("slow") is None)
