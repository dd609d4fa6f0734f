# Frozen into ESP32_GENERIC by `make image BOARD=esp32_generic` (tools/build/image.sh; needs
# ESP-IDF). The port's own modules (_boot.py, flashbdev.py, inisetup.py, ...) and asyncio,
# not the port's boards/manifest.py: that one require()s micropython-lib packages the
# firmware does not use.
freeze("$(PORT_DIR)/modules")
include("$(MPY_DIR)/extmod/asyncio")
include("../manifest.py")           # firmware/, lib/, boards/common
package("boards/esp32_generic", files=["__init__.py", "pins.py", "hal.py"], base_path="../..")
module("boot.py")                   # top-level boot.py: outputs safe at every (soft) reset
module("main.py")                   # top-level main.py: boots into the station
