"""Frozen as the top-level boot.py (boards/esp32_generic/manifest.py): the port runs it at
power-on and after every soft reset, before main.py, also in the raw REPL mpremote uses
(where main.py does not run). A soft reset stops the safety tick but leaves the GPIOs as
they were: the outputs go safe here first. A script, never imported."""
from boards.common.board import outputs_off
from boards.esp32_generic import pins

outputs_off(pins)
