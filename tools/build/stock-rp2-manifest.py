# The "stock" rp2 image that the frozen one is measured against (STOCK=1 tools/build/image.sh):
# the port's own modules and asyncio, nothing of ours. The port's boards/manifest.py also
# require()s micropython-lib packages (onewire, ds18x20, dht, neopixel; the Pico W's adds
# the networking bundle and aioble), which Debian's source does not carry: left out here.
freeze("$(PORT_DIR)/modules")
include("$(MPY_DIR)/extmod/asyncio")
