# Frozen into the board's image by `make image BOARD=rp2_pico_w` (RPI_PICO_W, and RPI_PICO
# for the emulator: tools/build/image.sh). The port's own modules (_boot.py mounts littlefs
# at /, rp2.py) and asyncio, not the port's boards/manifest.py: that one require()s
# micropython-lib packages (onewire, dht, ...) the firmware does not use.
freeze("$(PORT_DIR)/modules")
include("$(MPY_DIR)/extmod/asyncio")
include("../manifest.py")           # firmware/, lib/, boards/common
package("boards/rp2_pico_w", files=["__init__.py", "pins.py", "hal.py"], base_path="../..")
module("boot.py")                   # top-level boot.py: outputs safe at every (soft) reset
module("main.py")                   # top-level main.py: boots into the station
