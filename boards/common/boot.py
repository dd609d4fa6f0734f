"""Entry point of the real boards (their main.py calls boot(make_board)).

    board = make_board()                 pins checked, outputs safe (relay off, pilot F)
    /flash/config.json -> firmware.persist.config.load (bad values -> defaults, logged)
    critical values missing/invalid  ->  SAFE MODE: EVSE disabled (relay open, pilot F),
                                         the errors logged every minute, no reboot
    else: network (boards.common.net: Wi-Fi, NTP), TLS context behind the clock
          guard, asyncio.run(firmware.main.Firmware(...).run()) with the watchdog, the
          network, the LED and the button beside it; a returned reset reason ->
          machine.reset()
    the firmware raised                ->  safe mode for a while, then machine.reset()

Safe mode runs the setup access point (provision()), LED: two flashes (AP on) or fast
blink. Never a boot loop: a station that cannot run stays up, safe, and says why.

The REPL: Ctrl-C at the console stops the station there (interrupted()); the button
held down at power-on skips the station altogether (button_held()): outputs safe, no
tick, no watchdog, the prompt (docs/boards/<board>.md)."""
from micropython import const
import asyncio
import time
import store
from firmware import log
from firmware.persist import config
from firmware import main as fw_main

FLASH = "/flash"
# Values the station must not guess: without them it does not charge.
CRITICAL = ("csms", "id", "ocpp", "evses", "max_current")
_RETRY_S = const(300)          # after a firmware crash: safe mode this long, then reset
_NAG_S = const(60)
_HOLD_CHECK_MS = const(50)


def start_network(board, cfg):
    """Builds the network bring-up for this configuration (boards.common.net: Wi-Fi
    station or setup AP, NTP) and hands it to the board (board.net, which board.ready()
    waits on); its tasks start inside the event loop. -> the Net, or None when this
    build or board has no network (the station then runs offline)."""
    if board.net is not None:
        return board.net
    try:
        from boards.common.net import make_net
        board.set_net(make_net(cfg, board.port))
    except (ImportError, OSError, ValueError) as e:
        log.error("boot", "no network (%r): running offline", e)
    return board.net


def provision(board, cfg):
    """Safe mode: the setup access point on (and the station link, when configured),
    so the configuration can be fixed over the network. -> the Net or None."""
    net = start_network(board, cfg)
    if net is not None:
        net.start()
        net.wifi.ap_on()
    return net


def stop_sessions(fw):
    """The short button press: every charging session ends, through the adapter when it
    is an OCPP transaction (reason Local, as a card would), else in the kernel."""
    for e in fw.station.evses:
        if e.in_session():
            log.info("boot", "button: stopping evse %d", e.id)
            if fw.adapter.tx(e.id) is None or not fw.adapter.stop_tx(e.id, "Local"):
                e.stop()


def make_ui(board, fw=None, net=None):
    """LED and button: states from the kernel and the adapter (fw), or, in safe mode
    (fw None), setup / fault."""
    from boards.common.ui import Ui, led_state, SETUP, FAULT

    def status():
        if fw is None:
            return SETUP if net is not None and net.ap_on else FAULT
        return led_state(fw.station.evses, fw.adapter.connected, net is None or net.up,
                         net is not None and net.ap_on, board.tick_failed)

    def short():
        if fw is not None:
            stop_sessions(fw)
    return Ui(board.led, board.button, status, short,
              None if net is None else net.setup_ap)


def read_config(path):
    """-> (cfg, problems): cfg from firmware.persist.config.load (validated, defaults filled
    in, every error logged); problems lists the critical keys that are missing or were
    rejected (empty = OK to charge)."""
    cfg, errors = config.load(path)
    for e in errors:
        log.error("config", "%s", e)
    data, _ = store.load_json(path, None)      # which keys the file really has
    if not isinstance(data, dict):
        log.error("config", "%s missing, damaged or not an object", path)
        return cfg, list(CRITICAL)
    bad = [k for k in CRITICAL if k not in data]
    for e in errors:
        k = e.split(":")[0]
        if k in CRITICAL and k not in bad:
            bad.append(k)
    return cfg, bad


def fit_to_board(cfg, board):
    """The board's wiring wins over the file: EVSE count and rated current."""
    if cfg["evses"] != board.n_evse:
        log.warn("config", "evses %d, board %s has %d", cfg["evses"], board.name, board.n_evse)
        cfg["evses"] = board.n_evse
    if cfg["max_current"] > board.max_current_a:
        log.warn("config", "max_current %d A above the board's %d A: limited",
                 cfg["max_current"], board.max_current_a)
        cfg["max_current"] = board.max_current_a
    return cfg


def setup_page(board, net, flash):
    """The setup page task: served while the setup AP is on (boards.common.setup);
    a saved configuration resets the board. None without a network."""
    if net is None:
        return None
    from boards.common.setup import SetupServer
    return asyncio.create_task(SetupServer(flash + "/config.json", board.reset).follow(net))


async def supervised(board, cfg, flash, ssl):
    """The firmware with the watchdog, the network, the setup page, the LED and the
    button beside it; returns the reset reason. The adapter gets the TLS context behind
    the clock guard."""
    wd = asyncio.create_task(board.watchdog.run())
    net = board.net
    ui = page = None
    try:
        if net is not None:
            net.start()
            ssl = net.guard(ssl)
        fw = fw_main.Firmware(board, cfg, flash, ssl)
        ui = make_ui(board, fw, net)
        ui.start()
        page = setup_page(board, net, flash)
        return await fw.run()
    finally:
        wd.cancel()
        if page is not None:
            page.cancel()
        if ui is not None:
            ui.deinit()
        if net is not None:
            net.deinit()


async def safe_mode(board, why, hold_s=None, cfg=None, flash=FLASH):
    """EVSE disabled: relays open, pilot F, lock motors off; the WDT (if the firmware
    had started it) fed here; the setup access point on (cfg: the configuration as far
    as it is valid). Returns after hold_s seconds (None: never)."""
    board.stop_tick()
    board.safe_outputs()
    log.error("boot", "SAFE MODE, charging disabled: %s", why)
    net = provision(board, cfg or dict(config.DEFAULTS))
    ui = make_ui(board, None, net)
    ui.start()
    page = setup_page(board, net, flash)
    t0 = time.ticks_ms()
    t_nag = t0
    try:
        while hold_s is None or time.ticks_diff(time.ticks_ms(), t0) < hold_s * 1000:
            board.safe_outputs()
            board.watchdog.feed_idle()
            now = time.ticks_ms()
            if time.ticks_diff(now, t_nag) >= _NAG_S * 1000:
                t_nag = now
                log.error("boot", "SAFE MODE, charging disabled: %s", why)
            await asyncio.sleep_ms(1000)
    finally:
        if page is not None:
            page.cancel()
        ui.deinit()
        if net is not None:
            net.deinit()


def button_held(board):
    """The escape at power-on: the station's button held down while the board starts
    (read twice, 50 ms apart, against a bounce)."""
    b = board.button
    if b is None or b.value() != 0:
        return False
    time.sleep_ms(_HOLD_CHECK_MS)
    return b.value() == 0


def interrupted(board):
    """Ctrl-C ended asyncio.run; main.py ends and the port's REPL takes over.
    - Ctrl-C in the loop (the usual case): the tasks stay where they were and the safety
      tick runs on, keeping the relay safe; firmware.repl drives the station from the
      prompt (r.status(), r.run() continues it, r.hold() feeds the watchdog meanwhile;
      else the board resets after wdt_ms: docs/repl.md).
    - Ctrl-C in the safety tick: the tick, cut short, stopped for good with every output
      off (MachineBoard._interrupted); nothing charges, and the watchdog, no longer fed,
      resets the board after wdt_ms."""
    if board.tick_failed:
        board.stop_tick()
        board.safe_outputs()
        log.warn("boot", "Ctrl-C in the safety tick: outputs off, station stopped "
                 "(the watchdog resets the board)")
    elif board.ticking():
        log.warn("boot", "Ctrl-C: station paused at the REPL, the safety tick runs on "
                 "(from firmware import repl as r; r.hold(), r.status(), r.run())")
    else:                       # safe mode: no tick, outputs held off
        board.safe_outputs()
        log.warn("boot", "Ctrl-C: safe mode stopped, outputs off, REPL")
    return "interrupted"


def boot(make_board, flash=FLASH, hold_s=None, retry_s=_RETRY_S):
    """Builds the board and runs the station until it must reset, then resets.
    Returns only when the board cannot be built (outputs stay at their power-on
    state: the REPL is left for diagnosis), when the button is held at power-on (the
    REPL, outputs safe, no station, no watchdog), after a Ctrl-C (interrupted()), or
    when safe mode ends (tests: hold_s)."""
    try:
        board = make_board()
    except Exception as e:        # a wrong pin map, a missing driver: never loop
        log.error("boot", "board not built, station stopped: %r", e)
        return "board"
    if button_held(board):
        board.safe_outputs()
        log.warn("boot", "button held at power-on: station not started, REPL")
        return "button"
    try:
        return _run(board, flash, hold_s, retry_s)
    except KeyboardInterrupt:
        return interrupted(board)


def _run(board, flash, hold_s, retry_s):
    try:
        path = board.flash_mount(flash)
        store.cleanup(path)
        cfg, bad = read_config(path + "/config.json")
    except OSError as e:
        path, cfg, bad = flash, None, ["flash: %r" % e]
    if bad or cfg is None:
        asyncio.run(safe_mode(board, "configuration missing or invalid: " + ", ".join(bad),
                              hold_s, cfg, path))
        return "config"
    fit_to_board(cfg, board)
    # code and TLS's room first, while the heap is in one piece
    fw_main.preload(cfg["ocpp"], cfg["csms"].startswith("wss://"))
    start_network(board, cfg)
    try:
        reason = asyncio.run(supervised(board, cfg, path, None))
    except Exception as e:
        log.error("boot", "firmware failed: %r", e)
        asyncio.run(safe_mode(board, "firmware failed: %r" % e, retry_s, cfg, path))
        reason = "firmware failed"
    log.warn("boot", "reset: %s", reason)
    board.reset()
    return reason
