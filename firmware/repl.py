"""The REPL API: look at and drive a running station from the MicroPython prompt, on a
board after Ctrl-C or on the simulator's REPL (tools/harness/ptyrun.py --sim). r.help() lists it:

    >>> from firmware import repl as r
    >>> r.status(); r.evse(1); r.log(20)
    >>> r.start(1, "CARD1"); r.stop(1); r.pause(1); r.resume(1); r.limit(1, 10)
    >>> r.reconnect(); r.run(); r.run(2000); r.data_transfer("com.example", "Ping", "x")
    >>> r.plug(1); r.fault(1, "rcd"); r.clear(1, "rcd"); r.unplug(1)     simulator only

Every call prints a readable summary and returns the same facts as a dict.

Ctrl-C stops the asyncio loop: the tasks stay where they were, the safety tick (a
machine.Timer, the simulator's thread) keeps the relay safe, and these functions act on
the kernel and the adapter directly; what needs the loop (a card's authorization, a
reconnect, the state machine acting on a command) happens when r.run() continues it.
A board's watchdog is fed from a loop task: after Ctrl-C it resets the board within
wdt_ms unless r.hold() feeds it from a timer (while the safety tick runs) meanwhile.
A plain Ctrl-C raises KeyboardInterrupt wherever the loop is: mostly in its idle wait,
rarely inside a task, which then ends for good (reboot). With watch_console() (the
simulator's REPL) a task reads Ctrl-C from the console and stops the loop between tasks."""
from micropython import const
import asyncio
import gc
import micropython
from firmware import log as _log
from firmware.evse.evse import STATE_NAMES, ERROR_NAMES
from firmware.evse.pilot import NAMES as CP_NAMES

_CTRL_C = const(3)
_MAX_A = const(80)
_RECV = const(256)          # control-channel replies are read in pieces of this size

control_addr = None      # (host, port) of the simulator's control channel (tools/harness/simrepl.py)
_runner = None           # the entry point's own run(ms), e.g. the simulator's reboot loop
_watch = False           # read Ctrl-C from the console while the loop runs
_watcher = None          # that task
_running = False         # inside run()/loop(): the loop is running
_hold = None             # the machine.Timer feeding the watchdog while stopped


class _Pause(BaseException):
    """Raised by the timer task of run(ms): stops the loop between tasks."""


def fw():
    """The running firmware.main.Firmware (it registers itself when it starts)."""
    from firmware import main
    f = main.current
    if f is None:
        raise RuntimeError("no firmware has started in this process")
    return f


def _evse(n):
    e = fw().station.evse(n)
    if e is None:
        raise ValueError("no EVSE %r (1..%d)" % (n, fw().station.n))
    return e


def _later():
    return "" if _running else " (acts when the loop runs: r.run())"


# ------------------------------------------------------------------ looking
def status():
    f = fw()
    ad = f.adapter
    gc.collect()                        # the live heap, not garbage
    d = {"id": f.cfg["id"], "csms": ad.url(), "ocpp": ad.VERSION, "connected": ad.connected,
         "registration": ad.registration, "loop": "running" if _running else "stopped",
         "stall_max_ms": f.stall_max_ms, "heap_free": gc.mem_free(), "heap_used": gc.mem_alloc(),
         "tx_queue": ad.txq.count(), "evses": [evse(e.id, False) for e in f.station.evses]}
    print("%s  OCPP %s  %s, registration %s\n  %s\n  loop %s, longest stall %d ms, heap "
          "%d used / %d free, %d queued transaction messages" % (
              d["id"], d["ocpp"], "connected" if d["connected"] else "offline",
              d["registration"], d["csms"], d["loop"] if _running else "stopped at the REPL"
              " (r.run() continues it)", d["stall_max_ms"], d["heap_used"], d["heap_free"],
              d["tx_queue"]))
    for x in d["evses"]:
        print("  " + _line(x))
    return d


def evse(n=1, show=True):
    f = fw()
    e = _evse(n)
    s = f.adapter.status(n)
    t = f.adapter.tx(n)
    d = {"evse": n, "state": STATE_NAMES[e.state], "ocpp_status": s if isinstance(s, str) else s[0],
         "pilot": CP_NAMES[e.cp], "pwm": e.pwm_on, "duty_pct": e.duty / 10 if e.pwm_on else None,
         "offered_a": e.offer_a, "limit_a": e.limit_a, "relay": e.relay_on, "locked": e.locked,
         "current_a": list(e.amps), "voltage_v": list(e.volts), "power_w": e.power_w,
         "energy_wh": e.energy_wh, "tx_id": None if t is None else str(t.get("id") or t.get("ltx")),
         "authorized": e.authorized, "token": e.token, "paused": e.paused, "enabled": e.enabled,
         "temp_c": e.temp_c, "errors": [ERROR_NAMES[b] for b in range(len(ERROR_NAMES))
                                        if e.errors & (1 << b)]}
    if show:
        print(_line(d))
    return d


def _line(d):
    return "evse %d: %s (%s), pilot %s, %s, relay %s, %.1f A, %d W, %d Wh, tx %s, %s" % (
        d["evse"], d["state"], d["ocpp_status"], d["pilot"],
        "offer %d A" % d["offered_a"] if d["pwm"] else "no offer",
        "closed" if d["relay"] else "open", max(d["current_a"]), d["power_w"], d["energy_wh"],
        d["tx_id"] or "-", ", ".join(d["errors"]) or "no errors")


def log(n=20):
    lines = _log.tail(n)
    for ln in lines:
        print(ln)
    return {"lines": lines}


# ------------------------------------------------------------------ commands
def _done(n, what):
    d = evse(n, False)
    d["done"] = what
    print("evse %d: %s -> %s%s" % (n, what, d["state"], _later()))
    return d


def start(n, tag=None):
    """A card presented at EVSE n (the adapter authorizes it as it would a reader's:
    local list, cache, the CSMS), or with no tag a start without identification."""
    e = _evse(n)
    if tag is not None:
        fw().adapter.on_tag(n, str(tag))
        return _done(n, "card %s presented" % tag)
    e.authorize(True, None)
    return _done(n, "authorized (no card)")


def stop(n):
    """Ends the session: the transaction with reason Local, as a card would."""
    ad = fw().adapter
    e = _evse(n)
    if ad.tx(n) is None or not ad.stop_tx(n, "Local"):
        e.stop()
    return _done(n, "stop")


def pause(n):
    _evse(n).pause()
    return _done(n, "pause")


def resume(n=None):
    """resume(n): charging on EVSE n resumes. resume(): the loop continues (= run())."""
    if n is None:
        return run()
    _evse(n).resume()
    return _done(n, "resume")


def limit(n, amps):
    """The EVSE's current limit in A (below 6 A it pauses, IEC 61851-1)."""
    if not 0 <= amps <= _MAX_A:
        raise ValueError("amps must be 0..%d" % _MAX_A)
    _evse(n).set_limit(amps)
    return _done(n, "limit %s A" % amps)


def reconnect():
    """Closes the CSMS link and connects again without the back-off wait: the adapter
    task (the second of Firmware.run's) is replaced by a fresh one."""
    f = fw()
    if len(f.tasks) < 2:
        raise RuntimeError("firmware tasks not started")
    _replace(f, 1, f.adapter.run())
    d = {"reconnect": True, "connected": f.adapter.connected}
    print("link closed, connecting again%s" % _later())
    return d


def data_transfer(vendor_id, message_id=None, data=None):
    """The station's own DataTransfer to the CSMS (OCPP 1.6 4.3, 2.0.1 P02): the loop
    runs until the answer is in (Ctrl-C stops it) -> the CSMS's answer, or status
    Offline (firmware/vendor.py)."""
    from firmware import vendor
    if _running:
        raise RuntimeError("at the prompt only (the loop stopped)")
    t = asyncio.create_task(vendor.send(vendor_id, message_id, data))
    try:
        done, res = loop(t)
    except KeyboardInterrupt:
        print("\nloop stopped (Ctrl-C) before the answer")
        return {"status": "Interrupted"}
    print("DataTransfer %s %s: %s %s" % (vendor_id, message_id or "", res.get("status"),
                                         res.get("data", "")))
    return res


# ------------------------------------------------------------------ the simulated world
def sim(line):
    """One control-channel command (tools/harness/sim's protocol), answered by the world thread."""
    import json
    import socket
    if control_addr is None:
        raise RuntimeError("no simulator control channel here")
    s = socket.socket()
    try:
        s.settimeout(3)
        s.connect(socket.getaddrinfo(control_addr[0], control_addr[1])[0][-1])
        s.send(line.encode() + b"\n")
        buf = b""
        while not buf.endswith(b"\n"):
            # small pieces: a 4 KB receive buffer needs 4 KB in one piece, which a heap
            # that compiled the firmware from source may not have (test_repl saw
            # MemoryError here with 200 KB free in pieces of at most 5 KB)
            c = s.recv(_RECV)
            if not c:
                break
            buf += c
    finally:
        s.close()
    d = json.loads(buf)
    print("%s: %s" % (line, "ok" if d.get("ok") else d.get("error")))
    return d


def plug(n):
    return sim("plug %d" % n)


def unplug(n):
    return sim("unplug %d" % n)


def fault(n, kind):
    return sim("fault %d %s" % (n, kind))


def clear(n, kind):
    return sim("clear %d %s" % (n, kind))


# ------------------------------------------------------------------ the loop
def run(ms=None):
    """Continues the firmware's asyncio loop: until Ctrl-C, for ms milliseconds, or
    until the firmware ends (a board then resets, as its boot would)."""
    try:
        if _runner is not None:
            res = _runner(ms)
        else:
            f = fw()
            done, res = loop(f.task, ms)
            if done:
                print("firmware ended (%s): reset" % res)
                f.board.reset()
    except KeyboardInterrupt:
        print("\nloop stopped (Ctrl-C); r.run() continues it")
        return {"loop": "stopped"}
    return {"loop": "paused" if ms is not None else "ended", "result": res}


def loop(task, ms=None):
    """Runs the asyncio loop until task ends -> (True, its result), or for ms ->
    (False, None). Ctrl-C raises KeyboardInterrupt (from the console watcher: between
    tasks)."""
    global _running, _watcher
    if task.done():
        return True, None
    unhold()
    from firmware import main
    f = main.current
    if f is not None and getattr(f, "task", None) is task and len(f.tasks) > 2:
        # the loop monitor (Firmware.run's third task) would count the time spent at
        # the prompt as a stall: a fresh one starts its clock now
        _replace(f, 2, f._loop_monitor())
    pause = [asyncio.create_task(_pause(ms)), False] if ms is not None else None
    if _watch and _watcher is None:
        _watcher = asyncio.create_task(_console())
    if _watcher is not None:
        micropython.kbd_intr(-1)            # 0x03 reaches the watcher as a byte
    _running = True
    try:
        return True, asyncio.get_event_loop().run_until_complete(task)
    except _Pause:
        pause[1] = True
        return False, None
    finally:
        _running = False
        micropython.kbd_intr(_CTRL_C)
        if pause is not None and not pause[1]:
            pause[0].cancel()


def _replace(f, i, coro):
    """Firmware task i ends (cancelled) and coro takes its place."""
    try:
        f.tasks[i].cancel()
    except RuntimeError:        # Ctrl-C ended it inside its own step: nothing to cancel
        pass
    f.tasks[i] = asyncio.create_task(coro)


async def _pause(ms):
    await asyncio.sleep_ms(ms)
    raise _Pause()


def watch_console(on=True):
    """Ctrl-C read from the console by a task stops the loop between tasks."""
    global _watch
    _watch = on


def new_loop():
    """A new event loop for an in-process reboot (the old tasks, watcher included, go)."""
    global _watcher
    _watcher = None
    asyncio.new_event_loop()


async def _console():
    global _watcher, _watch
    import sys
    s = asyncio.StreamReader(getattr(sys.stdin, "buffer", sys.stdin))
    try:
        while True:
            b = await s.read(1)
            if not b:
                _watch = False              # no console (EOF): stop watching
                micropython.kbd_intr(_CTRL_C)
                return
            if (b[0] if isinstance(b, bytes) else ord(b)) == _CTRL_C:
                try:
                    hold(False)             # a board's watchdog: fed while stopped
                except (RuntimeError, ImportError, OSError, ValueError):
                    pass
                raise KeyboardInterrupt
    finally:
        _watcher = None


def hold(show=True):
    """A board's watchdog fed by a timer while the loop is stopped, as long as the safety
    tick runs (Watchdog.check); run() hands it back to the loop task."""
    global _hold
    b = fw().board
    wd = getattr(b, "watchdog", None)
    if wd is None or not wd.started():
        if show:
            print("no watchdog running")
        return False
    if _hold is None:
        from machine import Timer
        tid = getattr(getattr(b, "port", None), "timer_id", -1)
        _hold = Timer(-1 if tid < 0 else tid + 1)   # esp32: the tick has hardware timer 0
        _hold.init(mode=Timer.PERIODIC, period=wd.period_ms, callback=lambda t: wd.check())
    if show:
        print("watchdog fed while the safety tick runs; r.run() hands it back to the loop")
    return True


def unhold():
    global _hold
    if _hold is not None:
        _hold.deinit()
        _hold = None


def set_runner(fn):
    """The entry point's run(ms) (it reboots in-process, as the simulator does)."""
    global _runner
    _runner = fn


def help():
    # docstrings are not kept in .mpy or frozen code: the summary is a string
    print("""from firmware import repl as r
r.status()  r.evse(n)  r.log(n=20)          look (each returns a dict)
r.start(n, tag=None)  r.stop(n)  r.pause(n)  r.resume(n)  r.limit(n, amps)
r.reconnect()                               drop the CSMS link, connect again
r.data_transfer(vendor, message=None, data=None)   DataTransfer to the CSMS
r.run()  r.run(ms)                          continue the loop (Ctrl-C stops it)
r.hold()                                    board: feed the watchdog while stopped
r.plug(n) r.unplug(n) r.fault(n, kind) r.clear(n, kind) r.sim(line)   simulator""")
