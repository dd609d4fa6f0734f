# Frozen into the 32-bit unix port of `make mp32f` (Debian's MicroPython 1.25 source):
# what a board freezes (boards/<board>/manifest.py) with the simulated board in place of
# a real one, so the heap a frozen board has left can be measured off-board.
include("$(MPY_DIR)/extmod/asyncio")
include("../manifest.py")           # firmware/, lib/, boards/common
package("boards/sim", files=["__init__.py", "board.py", "busmeter.py", "commands.py", "control.py", "flash.py",
                            "run.py", "slotcopy.py", "world.py"], base_path="../..")
