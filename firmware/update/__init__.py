"""Firmware updates (docs/firmware-update.md): bundle (the file: check, install into a
slot), job (one update from the request to the reboot), boot (after a boot: commit the
new firmware once the CSMS accepted it, report the result, take back a firmware that
does not register in time). The slots themselves are lib/fwslot's."""
