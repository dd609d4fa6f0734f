# The firmware every board image freezes: firmware/, the lib packages, boards/__init__.py
# and the shared HAL (boards/common). Included by boards/<board>/manifest.py, which adds
# the port's own manifest and the board's folder.
package("firmware", base_path="..")
for name in ("ws", "httpc", "ocppj", "store", "modbus", "x509", "csr"):
    package(name, base_path="../lib")
module("boards/__init__.py", base_path="..")
package("boards/common", base_path="..")
