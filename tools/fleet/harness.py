"""The one place tools/fleet reaches the single-station harness (tools/harness/sim,
tools/harness/simctl)."""
import os

from tools.harness.simctl import (ROOT, Control, SimStation, control,  # noqa: F401
                                  end_process, free_port)
SIM = os.path.join(ROOT, "tools", "harness", "sim")

from tools.csms import CsmsThread  # noqa: E402,F401


def sim_script(tree=ROOT):
    """tools/harness/sim of a source tree (this one, or an older revision unpacked beside
    it: before 2026-12-07 evening it was tools/sim)."""
    for rel in (("tools", "harness", "sim"), ("tools", "sim")):
        p = os.path.join(tree, *rel)
        if os.path.exists(p):
            return p
    raise FileNotFoundError("no tools/sim under %s" % tree)
