# Frozen into ESP32_GENERIC: make -C ports/esp32 BOARD=ESP32_GENERIC FROZEN_MANIFEST=<repo>/boards/esp32_generic/manifest.py
include("$(PORT_DIR)/boards/manifest.py")
package("firmware", base_path="../..")
for name in ("ws", "ocppj", "store", "modbus", "x509", "csr"):
    package(name, base_path="../../lib")
module("boards/__init__.py", base_path="../..")
package("boards/common", base_path="../..")
package("boards/esp32_generic", files=["__init__.py", "pins.py", "hal.py"], base_path="../..")
module("main.py")
