"""The HAL's ADC-to-mV conversion of a board, under MicroPython (tests/unit/test_pinmap.py):
the readings of the generated levels table converted by boards.common.pilot.Pilot.

argv: BOARD READING..."""
import sys

from boards.common.pilot import Pilot
from out import report

pins = __import__("boards.%s.pins" % sys.argv[1], None, None, ["PILOT_OFF"])
p = Pilot(None, None, pins.PILOT_OFF, pins.PILOT_MUL)
report({"mv": [p.to_mv(int(r)) for r in sys.argv[2:]]})
