"""MachineBoard: the Board HAL (docs/architecture.md) over machine.Pin/PWM/ADC/UART/
Timer/WDT, built from a board's pin map (its pins.py) and its port object (its hal.py:
how to read the pilot ADC, the tick timer id, the WDT, the temperature).

The safety tick is a periodic machine.Timer (esp32: hardware timer 0; rp2: soft timer
-1). Its callback runs the firmware's tick, then ends lock pulses that are due and
tells the watchdog the tick is alive. If the firmware's tick raises, every relay opens,
every pilot goes to F, the tick stops counting, and the watchdog, no longer fed, resets
the board. An RCD input also opens its EVSE's relay from a pin interrupt (io.Rcd.arm): a
hard one where the port has them (port.hard_pin_irq: rp2), which does not wait for the
tick."""
from micropython import const
import os
import time
import machine
from machine import Pin, PWM, Timer, UART
from firmware import log
from boards.common import pinmap
from boards.common.pilot import Pilot, make_pwm
from boards.common.io import Relay, Lock, Rcd
from boards.common.meter import NoMeter, make_meters
from boards.common.watchdog import Watchdog

_EEXIST = const(17)


def outputs_off(pins):
    """Relay coils off, lock motors off, pilots at steady -12 V (F), straight from the
    pin map, before any board object exists: the board's frozen boot.py calls it at
    power-on and after every soft reset (Ctrl-D, mpremote without `resume`), which ends
    the safety tick's timer but leaves the GPIOs as they were."""
    for ev in pins.EVSE:
        Pin(ev["relay"], Pin.OUT, value=0)
        for role in ("lock_a", "lock_b"):
            if ev.get(role) is not None:
                Pin(ev[role], Pin.OUT, value=0)
        Pin(ev["pilot_pwm"], Pin.OUT, value=1 if pins.PILOT_INVERT else 0)


class MachineBoard:
    def __init__(self, pins, port, meters=True):
        errors = pinmap.check(pins)
        if errors:
            raise ValueError("pin map %s: %s" % (pins.NAME, "; ".join(errors)))
        self.name = pins.NAME
        self.n_evse = n = len(pins.EVSE)
        self.max_current_a = pins.MAX_CURRENT_A
        self._pins = pins
        self.port = port
        # Outputs first, each in its safe state: coil off, motor off, pilot F.
        self.relay = [self._relay(ev) for ev in pins.EVSE]
        self.pilot = [self._pilot(ev) for ev in pins.EVSE]
        locks = [self._lock(ev) for ev in pins.EVSE]
        self.lock = locks if any(lk is not None for lk in locks) else None
        rcds = [self._rcd(ev) for ev in pins.EVSE]
        self.rcd = rcds if any(r is not None for r in rcds) else None
        for rcd, relay in zip(rcds, self.relay):     # an RCD trip opens its relay at once
            if rcd is not None:
                rcd.arm(relay, port.hard_pin_irq)
        st = pins.STATION
        self.led = Pin(st["led"], Pin.OUT, value=0) if st.get("led") is not None else None
        self.button = self._input(st.get("button"), 0)
        self.meter = make_meters(pins, UART, Pin) if meters else \
            [NoMeter("disabled") for _ in range(n)]
        self.watchdog = Watchdog(port.make_wdt, pins.WDT_MS)
        for p in self.pilot:
            p.calibrate(pins.SAMPLE_WINDOW_US)
        self.net = None                 # boards.common.net.Net once boot brought it up
        self._timer = None
        self._cb = None
        self._on_timer_cb = self._on_timer     # one bound method, made once
        self.tick_failed = False
        self.tick_error = None

    # ------------------------------------------------------------ construction
    def _input(self, gpio, active):
        if gpio is None:
            return None
        if gpio in self._pins.INPUT_ONLY:          # no internal pulls there
            return Pin(gpio, Pin.IN)
        return Pin(gpio, Pin.IN, Pin.PULL_UP if active == 0 else Pin.PULL_DOWN)

    def _relay(self, ev):
        pins = self._pins
        coil = Pin(ev["relay"], Pin.OUT, value=0)
        return Relay(coil, self._input(ev.get("relay_feedback"), pins.RELAY_FEEDBACK_ACTIVE),
                     pins.RELAY_FEEDBACK_ACTIVE)

    def _pilot(self, ev):
        pins = self._pins
        pwm = make_pwm(PWM, Pin(ev["pilot_pwm"], Pin.OUT), pins.PILOT_INVERT)
        p = Pilot(pwm, self.port.adc_read(ev["pilot_adc"]), pins.PILOT_OFF, pins.PILOT_MUL,
                  pins.PILOT_INVERT, pins.SAMPLE_K)
        p.f()
        return p

    def _rcd(self, ev):
        pin = self._input(ev.get("rcd"), self._pins.RCD_ACTIVE)
        return Rcd(pin, self._pins.RCD_ACTIVE) if pin is not None else None

    def _lock(self, ev):
        if ev.get("lock_a") is None:
            return None
        pins = self._pins
        return Lock(Pin(ev["lock_a"], Pin.OUT, value=0), Pin(ev["lock_b"], Pin.OUT, value=0),
                    self._input(ev.get("lock_feedback"), pins.LOCK_FEEDBACK_ACTIVE),
                    pins.LOCK_FEEDBACK_ACTIVE, pins.LOCK_PULSE_MS)

    # ------------------------------------------------------------ safety tick
    def start_tick(self, cb, period_ms):
        """Calls cb() every period_ms from a machine.Timer, independent of asyncio.
        The pilots go from F (held since the board was built) to X1 first: the state
        the kernel assumes when it starts (steady +12 V, no PWM)."""
        self.stop_tick()
        for p in self.pilot:
            p.x1()
        self._cb = cb
        self.tick_failed = False
        t = Timer(self.port.timer_id)
        t.init(mode=Timer.PERIODIC, period=period_ms, callback=self._on_timer_cb)
        self._timer = t

    def stop_tick(self):
        t = self._timer
        self._timer = None
        if t is not None:
            t.deinit()
        self._cb = None
        if self.lock:
            for lk in self.lock:
                if lk is not None:
                    lk.halt()

    def ticking(self):
        """Whether the safety tick runs (started, not stopped, not failed)."""
        return self._timer is not None and not self.tick_failed

    def _on_timer(self, _t):
        """The timer callback: allocation-free while the firmware's tick is. A Ctrl-C at
        the console can raise KeyboardInterrupt in here (the ports run this callback
        between bytecodes of the main program, and would only print what escapes it,
        the tick cut short and ticking on): caught, see _interrupted. All of it is inside
        the try, the first lines too: on the emulated Pico the interrupt landed on them
        (tests/emu/test_emu_defects.py)."""
        try:
            cb = self._cb
            if cb is None or self.tick_failed:
                return
            cb()
            locks = self.lock
            if locks:
                now = time.ticks_ms()
                for lk in locks:
                    if lk is not None:
                        lk.service(now)
            self.watchdog.beat()
        except Exception as e:          # fail safe: power off, stop feeding the WDT
            self._fail(e)
        except KeyboardInterrupt:
            self._interrupted()

    def _fail(self, e):
        self.tick_failed = True
        self.safe_outputs()
        self.tick_error = repr(e)
        # a timer callback, not the asyncio loop: the flash log's wake-up (log.notify)
        # stays off; its writer finds the line within flashlog's _IDLE_MS
        hook = log.notify
        log.notify = None
        try:
            log.error("board", "safety tick failed, outputs off: %r", e)
        finally:
            log.notify = hook

    def _interrupted(self):
        """Ctrl-C cut the tick short: what the kernel had done of it is unknown, so every
        output goes safe and the tick stops for good, as after a failure; the watchdog's
        loop task raises the KeyboardInterrupt again in the asyncio loop (Watchdog.halt),
        so the station ends into the REPL as after a Ctrl-C there (boot.interrupted)."""
        self.tick_failed = True
        self.tick_error = "KeyboardInterrupt"
        for _ in range(3):              # another Ctrl-C meanwhile: once more
            try:
                self.safe_outputs()
                break
            except KeyboardInterrupt:
                pass
        self.watchdog.halt = True

    def safe_outputs(self):
        """Relays open, pilots F (EVSE unavailable), lock motors off."""
        for r in self.relay:
            r.set(False)
        for p in self.pilot:
            p.f()
        if self.lock:
            for lk in self.lock:
                if lk is not None:
                    lk.halt()

    # ------------------------------------------------------------ the rest of the HAL
    def flash_mount(self, path="/flash"):
        """The esp32 and rp2 ports mount littlefs (os.VfsLfs2) on the internal flash at
        "/" before boot.py runs; the firmware keeps its files in the directory `path` on
        it (made when missing), so paths match the simulator's /flash mount."""
        try:
            os.mkdir(path)
        except OSError as e:
            if e.errno != _EEXIST:
                raise
        import store
        store.on_fault = self.flash_remount
        return path

    def flash_remount(self):
        """After a failed flash write (store.fault): littlefs's RAM state may no longer
        match the flash, so "/" is mounted afresh from the same partition before
        anything else is written. Code already imported keeps running."""
        log.error("flash", "write failed: remounting the file system")
        os.umount("/")
        os.mount(self.port.root_vfs(), "/")

    def set_net(self, net):
        """boot: the network bring-up (boards.common.net.Net) this board waits on."""
        self.net = net

    async def ready(self):
        """firmware.main awaits this before the OCPP adapter starts: the Wi-Fi link up
        and the clock plausible (NTP), at most 20 s (boards.common.net.Net.ready);
        -> False at once with no network."""
        net = self.net
        if net is None:
            return False
        return await net.ready()

    def temp_c(self, i):
        return self.port.temp_c(i)

    def reset(self):
        self.safe_outputs()
        machine.reset()
