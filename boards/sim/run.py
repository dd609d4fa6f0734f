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
from firmware import log
from firmware import main as fw_main
from boards.sim import Reset
from boards.sim.flash import PowerCut
from boards.sim.board import SimBoard

_FLASH = const("/flash")
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


def boot(opts):
    log.level = _LEVELS.get(opts.get("log", "info"), log.INFO)
    cfg_in = opts.get("config", {})
    n = cfg_in.get("evses", 1)
    ctl = opts.get("control")
    board = SimBoard(n_evse=n, flash_path=opts["flash"],
                     control=(ctl[0], ctl[1]) if ctl else None,
                     ev_max_a=opts.get("ev_max", 32), meter_port=opts.get("meter_pty"))
    board.log_tail = log.tail            # the control channel's `log` command
    board.heap_probe = bool(opts.get("heap_probe"))   # live-heap sampling for make bench
    try:
        cfg = ssl = None
        while True:
            try:
                if cfg is None:
                    cfg, ssl = _provision(board, opts, cfg_in, n)
                    # the firmware's code before the world thread and the control channel
                    # start allocating beside it: the heap is still in one piece
                    fw_main.preload(cfg["ocpp"])
                    board.start()
                asyncio.new_event_loop()
                try:
                    reason = asyncio.run(fw_main.run(board, cfg, _FLASH, ssl))
                except Reset as r:      # board.reset(): out of every task at once
                    reason = r.reason
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
