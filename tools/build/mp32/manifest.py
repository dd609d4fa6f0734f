# Frozen into `make mp32` (the 32-bit unix port the .mpy heap measurements run on): the
# runtime's asyncio only, as a board's image has it; nothing of ours (the firmware loads
# as .mpy files). `make mp32f` freezes boards/sim/manifest.py instead.
include("$(MPY_DIR)/extmod/asyncio")
