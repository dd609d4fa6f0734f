"""Entry point of the rp2_pico_w board, frozen as the top-level main.py (it runs after
boot.py at every start). A script, never imported: see boards.common.boot."""
import fwslot
if fwslot.choose("/flash") is not None:     # a firmware update's slot (docs/firmware-update.md)
    fwslot.forget()                         # what boot.py loaded, loaded again from the slot
from boards.common.boot import boot
from boards.rp2_pico_w.hal import make_board

boot(make_board)
