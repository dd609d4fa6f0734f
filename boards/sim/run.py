"""Entry point of the simulated station (started by tools/harness/sim):

    micropython -m boards.sim.run OPTIONS.json

Builds the simulated board (world thread, control channel, flash image), provisions the
configuration from the options, then boots the firmware. A Reset from the CSMS reboots
the firmware in-process: the world, and the EV plugged into it, keep running. So does a
soft power cut (control `cut N`): the flash image stays as the cut left it."""
from micropython import const
import sys
import json
import asyncio
import store
import fwslot
from firmware import log
from firmware import main as fw_main
from boards.sim import Reset
from boards.sim.flash import PowerCut
from boards.sim.board import SimBoard

_FLASH = const("/flash")
_TRIES = const(3)               # boots a new firmware gets to register (lib/fwslot)
_LEVELS = {"debug": log.DEBUG, "info": log.INFO, "warn": log.WARN, "error": log.ERROR}


def _provision_tls(opts):
    """tools/harness/sim --ca / --client-cert: provisioning, as a factory does it, through the
    store the firmware uses for every connection (firmware.security.tlsctx): the CSMS root is
    installed when the store has none; the station identity (profile 3) is written when
    there is none. Nothing is kept aside: InstallCertificate and CertificateSigned
    replace what was provisioned."""
    ca, ident = opts.get("ca_der_hex"), opts.get("identity")
    if not ca and not ident:
        return
    from firmware.memory import Scope
    with Scope(("firmware.security.certs", "firmware.security.certs.identity")):
        _provision_certs(ca, ident)     # the store's code unloaded after, as a board's is


def _provision_certs(ca, ident):
    import binascii
    import time
    from firmware.security import certs
    from firmware.security.certs import identity
    if ca and not certs.csms_roots(_FLASH):
        with certs.scope():
            st, code, info = certs.open_store(_FLASH).install(
                certs.CSMS, binascii.unhexlify(ca), time.time(), 24)
        log.info("sim", "CSMS root provisioned: %s %s", st, info or "")
    if ident and not identity.present(_FLASH):
        identity.save(_FLASH, [binascii.unhexlify(h) for h in ident["certs"]],
                      binascii.unhexlify(ident["key"]))
        log.info("sim", "station certificate provisioned")


def _provision_settings(values):
    """--set NAME=VALUE: checked against the settings table, then stored on flash."""
    from firmware.persist import settings
    path = _FLASH + "/settings.json"
    data, ok = store.load_json(path, {})
    if not isinstance(data, dict):
        data = {}
    for name, val in values.items():
        row = settings.Settings(path).row(name)
        if row is None:
            log.error("sim", "--set %s: no such setting", name)
            continue
        try:
            text = val if isinstance(val, str) else settings.render(row.type, val)
            data[name] = settings.parse(row, text)
        except ValueError as e:
            log.error("sim", "--set %s: %s", name, e)
    store.save_json(path, data)


def _load(board, opts, loaded):
    """The firmware this boot runs (lib/fwslot: a new one on trial, the active one, or
    the base firmware of the source tree), imported afresh when it is not the one
    loaded: every module a firmware bundle holds is forgotten first (the simulated
    board's own modules stay). -> (the slot, firmware.main, firmware.log)."""
    global log, fw_main
    from boards.sim import slotcopy
    img = opts["flash"]
    fwslot.drop_paths(_FLASH, slotcopy.where(img))
    run = fwslot.choose(_FLASH, opts.get("fw_tries", _TRIES), slotcopy.placer(_FLASH, img))
    if run is None and loaded is None:
        return run
    level = log.level
    fwslot.forget()
    from firmware import log as new_log
    from firmware import main as new_main
    log, fw_main = new_log, new_main
    log.level = level
    board.log_tail = log.tail
    import store as new_store
    new_store.on_fault = board.flash_remount
    log.info("sim", "firmware %s", "slot " + run if run else "base")
    return run


def _echo(message_id, data):
    return "Accepted", data


def _vendor():
    """The simulated board's vendor extension (firmware/vendor.py), for DataTransfer from
    the CSMS: vendorId "MicroEVSE.sim", messageId "Echo" answers Accepted with the data
    it got, "Reject" Rejected; another messageId is UnknownMessageId."""
    from firmware import vendor
    vendor.register("MicroEVSE.sim", _echo, "Echo")
    vendor.register("MicroEVSE.sim", lambda m, d: "Rejected", "Reject")


def boot(opts):
    log.level = _LEVELS.get(opts.get("log", "info"), log.INFO)
    _vendor()
    cfg_in = opts.get("config", {})
    n = cfg_in.get("evses", 1)
    ctl = opts.get("control")
    board = SimBoard(n_evse=n, flash_path=opts["flash"], flash_blocks=opts.get("flash_kb", 1024) // 4,
                     control=(ctl[0], ctl[1]) if ctl else None,
                     ev_max_a=opts.get("ev_max", 32), meter_port=opts.get("meter_pty"))
    board.log_tail = log.tail            # the control channel's `log` command
    board.heap_probe = bool(opts.get("heap_probe"))   # live-heap sampling for make bench
    try:
        cfg = ssl = slot = None
        started = False
        while True:
            try:
                if cfg is None:
                    cfg, ssl = _provision(board, opts, cfg_in, n)
                was = id(fw_main)       # not the module: the old firmware must go
                try:
                    slot = _load(board, opts, slot)
                except Exception as e:      # noqa: BLE001  a new firmware that fails to load
                    log.error("sim", "firmware does not load: %r: reboot", e)
                    slot = "?"
                    board.reboot()
                    continue
                if not started:
                    started = True
                    # the firmware's code before the world thread and the control channel
                    # start allocating beside it: the heap is still in one piece
                    fw_main.preload(cfg["ocpp"], cfg["csms"].startswith("wss://"))
                    board.start()
                elif id(fw_main) != was:
                    fw_main.preload(cfg["ocpp"], cfg["csms"].startswith("wss://"))
                asyncio.new_event_loop()
                try:
                    reason = asyncio.run(fw_main.run(board, cfg, _FLASH, ssl))
                except Reset as r:      # board.reset(): out of every task at once
                    reason = r.reason
                except Exception as e:  # noqa: BLE001
                    if slot is None:
                        raise
                    # a new firmware that fails: a failed boot, counted (lib/fwslot)
                    log.error("sim", "firmware of slot %s failed: %r: reboot", slot, e)
                    reason = "firmware failed"
            except PowerCut:            # control `cut N`: the flash died mid-write
                board.reboot()
                board.flash_power_on()
                log.warn("sim", "power cut: boot %d", board.boots)
                continue
            if reason is None:
                break
            log.warn("sim", "reboot (%s)", reason)
            board.reboot()          # outputs to their power-on state; the world runs on
    finally:
        board.stop()


def _provision(board, opts, cfg_in, n):
    """Mount the flash; the configuration from the options (validated, stored)."""
    board.flash_mount(_FLASH)
    store.cleanup(_FLASH)
    from firmware.persist import config     # boot only: dropped again below
    path = _FLASH + "/config.json"
    cfg, errors = config.load(path)
    for e in errors:
        log.error("config", "%s", e)
    if cfg_in:
        merged = dict(cfg)
        merged.update(cfg_in)
        cfg, errs = config.validate(merged)
        for e in errs:
            log.error("config", "%s", e)
        config.save(path, cfg)
    if cfg["evses"] != n:
        log.warn("config", "flash says %d EVSEs, board has %d", cfg["evses"], n)
        cfg["evses"] = n
    if opts.get("settings"):
        _provision_settings(opts["settings"])
    _provision_tls(opts)
    from firmware.memory import unload
    unload("firmware.persist.config")
    return cfg, None


def main():
    if len(sys.argv) < 2:
        print("usage: micropython -m boards.sim.run OPTIONS.json (see tools/harness/sim)")
        sys.exit(2)
    with open(sys.argv[-1]) as f:
        opts = json.load(f)
    boot(opts)


if __name__ == "__main__":
    main()
