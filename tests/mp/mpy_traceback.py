"""A module compiled by tools/build/deploy.py (mpy-cross -s NAME) names itself in a
traceback (tests/unit/test_deploy.py): firmware.clock from the .mpy files in DIR raises.

argv: DIR LIB — the built files, and lib/ (what they import)"""
import sys

sys.path[:0] = [sys.argv[1], sys.argv[2]]

from firmware import clock  # noqa: E402

clock.parse_iso("no date")
