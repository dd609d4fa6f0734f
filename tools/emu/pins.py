"""Prints a board's pin map (boards/<board>/pins.py, plain data) as JSON for the emulator
(tools/emu/emu.js): python3 tools/emu/pins.py rp2_pico_w"""
import importlib
import json
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))


def main(board):
    pins = importlib.import_module("boards.%s.pins" % board)
    data = {k: getattr(pins, k) for k in dir(pins) if k.isupper()}
    print(json.dumps(data))


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "rp2_pico_w")
