# Frozen into ESP32_GENERIC: make -C ports/esp32 BOARD=ESP32_GENERIC FROZEN_MANIFEST=<repo>/boards/esp32_generic/manifest.py
include("$(PORT_DIR)/boards/manifest.py")
include("../manifest.py")           # firmware/, lib/, boards/common
package("boards/esp32_generic", files=["__init__.py", "pins.py", "hal.py"], base_path="../..")
module("main.py")
