"""The one place tools/fleet reaches the single-station harness (tools/sim, tools/simctl).

They may move (tools/harness/ is planned): only the imports below change then."""
import os

try:                                            # after the regrouping of tools/
    from tools.harness.simctl import (ROOT, Control, SimStation, control,  # noqa: F401
                                      end_process, free_port)
    SIM = os.path.join(ROOT, "tools", "harness", "sim")
except ImportError:
    from tools.simctl import (ROOT, Control, SimStation, control,  # noqa: F401
                              end_process, free_port)
    SIM = os.path.join(ROOT, "tools", "sim")

from tools.csms import CsmsThread  # noqa: E402,F401


def sim_script(tree=ROOT):
    """tools/sim of a source tree (this one, or an older revision unpacked beside it)."""
    for rel in (("tools", "harness", "sim"), ("tools", "sim")):
        p = os.path.join(tree, *rel)
        if os.path.exists(p):
            return p
    raise FileNotFoundError("no tools/sim under %s" % tree)
