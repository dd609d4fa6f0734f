# Frozen into RPI_PICO_W: make -C ports/rp2 BOARD=RPI_PICO_W FROZEN_MANIFEST=<repo>/boards/rp2_pico_w/manifest.py
include("$(PORT_DIR)/boards/manifest.py")
include("../manifest.py")           # firmware/, lib/, boards/common
package("boards/rp2_pico_w", files=["__init__.py", "pins.py", "hal.py"], base_path="../..")
module("main.py")
