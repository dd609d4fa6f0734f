# Frozen into RPI_PICO_W: make -C ports/rp2 BOARD=RPI_PICO_W FROZEN_MANIFEST=<repo>/boards/rp2_pico_w/manifest.py
include("$(PORT_DIR)/boards/manifest.py")
package("firmware", base_path="../..")
for name in ("ws", "ocppj", "store", "modbus", "x509", "csr"):
    package(name, base_path="../../lib")
module("boards/__init__.py", base_path="../..")
package("boards/common", base_path="../..")
package("boards/rp2_pico_w", files=["__init__.py", "pins.py", "hal.py"], base_path="../..")
module("main.py")
