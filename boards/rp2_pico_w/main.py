"""Entry point of the rp2_pico_w board, frozen as the top-level main.py (it runs after
boot.py at every start). A script, never imported: see boards.common.boot."""
import fwslot
from fwslot import rom
# a firmware update's slot (docs/firmware-update.md): a half of the image's ROMFS
# partition, run in place from flash (rom.board() is None on an image without one: the
# slots are then folders on the file system)
if fwslot.choose("/flash", rom=rom.board()) is not None:
    fwslot.forget()                         # what boot.py loaded, loaded again from the slot
from boards.common.boot import boot
from boards.rp2_pico_w.hal import make_board

boot(make_board)
