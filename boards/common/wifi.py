"""Wi-Fi: the station link with reconnect and back-off, and the setup access point.

The WLAN objects are handed in (network.WLAN on a board, fakes in tests); so are the
port's differences (tune the station, bring the AP up) and the status codes that mean
"this attempt failed" (network.STAT_* differ between esp32 and rp2). Nothing blocks:
step(now) is one non-blocking move of the state machine, and run() calls it every
poll_ms from asyncio, so connect, drop and back-off are tested with a fake clock.

    NONE        no SSID configured: the setup AP runs until a configuration is written
    CONNECTING  connect() issued; isconnected() polled, at most connect_ms
    UP          isconnected() (station associated and holding an IP address)
    DOWN        the link dropped or an attempt failed: the next attempt after a
                back-off of backoff_min_ms << failures (capped at backoff_max_ms) plus
                up to a quarter of it at random, so stations behind one AP that
                rebooted do not all come back in the same second

The setup AP runs beside the station link (both ports can do both at once): always
with no SSID configured, or for hold_ms after ap_on(hold_ms) (the long button press)."""
from micropython import const
import asyncio
import random
import time
from firmware import log

NONE = const(0)
CONNECTING = const(1)
UP = const(2)
DOWN = const(3)
STATE_NAMES = ("none", "connecting", "up", "down")


class Wifi:
    # bounds, per instance so tests can shrink them
    poll_ms = 250
    connect_ms = 20000
    backoff_min_ms = 2000
    backoff_max_ms = 120000
    error_ms = 5000

    def __init__(self, sta, ap, ssid, password, ap_ssid, ap_key, port=None, fail_codes=None,
                 clock=None, rand=None):
        """sta, ap: WLAN objects (station, access point); port: object with
        sta_tune(sta) and ap_up(ap, ssid, key), or None (tests); fail_codes: {status():
        reason} of statuses that end an attempt at once (wrong password, no AP)."""
        self._sta = sta
        self._ap = ap
        self.ssid = ssid
        self._pw = password
        self.ap_ssid = ap_ssid
        self._ap_key = ap_key
        self._port = port
        self._fail = fail_codes or {}
        self._clock = clock or time.ticks_ms
        self._rand = rand
        self.state = NONE
        self.fails = 0              # failed attempts since the link was last up
        self.attempts = 0
        self.drops = 0
        self.why = None             # why the last attempt failed (None once up)
        self.ip = None
        self.ap_active = False
        self._ap_until = None       # ticks when a held AP goes off; None: no expiry
        self._t = 0                 # CONNECTING: attempt start; DOWN: next attempt
        self._task = None
        self._started = False

    # ------------------------------------------------------------ lifecycle
    def start(self):
        """Interfaces up (may block briefly: the radio firmware loads on first use)."""
        if self._started:
            return
        if not self.ssid:
            log.warn("wifi", "no network configured (wifi_ssid)")
            self.ap_on()
        else:
            self._sta.active(True)
            if self._port is not None:
                self._port.sta_tune(self._sta)
            self.state = DOWN
            self._t = self._clock()         # first attempt at once
        self._started = True

    async def run(self):
        """start() and step() every poll_ms; a radio error (OSError from the driver) is
        logged and retried after error_ms, never the end of the task."""
        while True:
            try:
                self.start()
                self.step(self._clock())
            except OSError as e:
                log.error("wifi", "radio: %r", e)
                await asyncio.sleep_ms(self.error_ms)
            await asyncio.sleep_ms(self.poll_ms)

    def deinit(self):
        """Stops the task (if run() was started with start_task) and both interfaces."""
        t = self._task
        self._task = None
        if t is not None:
            t.cancel()
        self.ap_off()
        if self._started and self.ssid:
            try:
                self._sta.disconnect()
            except OSError as e:            # not connected: nothing to undo
                log.debug("wifi", "disconnect: %r", e)
            self._sta.active(False)
        self._started = False
        self.state = NONE
        self.ip = None

    def start_task(self):
        if self._task is None:
            self._task = asyncio.create_task(self.run())
        return self._task

    @property
    def up(self):
        return self.state == UP

    # ------------------------------------------------------------ the state machine
    def step(self, now):
        u = self._ap_until
        if u is not None and time.ticks_diff(now, u) >= 0:
            log.info("wifi", "setup access point hold over")
            self.ap_off()
        st = self.state
        if st == NONE:
            return
        sta = self._sta
        if st == UP:
            if not sta.isconnected():
                self.drops += 1
                self.ip = None
                log.warn("wifi", "link to %s lost (status %r)", self.ssid, self._status())
                self._down(now)
        elif st == CONNECTING:
            if sta.isconnected():
                self._up()
                return
            why = self._fail.get(self._status())
            if why is None and time.ticks_diff(now, self._t) >= self.connect_ms:
                why = "no link after %d ms" % self.connect_ms
            if why is not None:
                self.fails += 1
                self.why = why
                self._down(now)
                log.warn("wifi", "connect to %s failed: %s; next try in %d ms", self.ssid, why,
                         time.ticks_diff(self._t, now))
        elif time.ticks_diff(now, self._t) >= 0:      # DOWN, back-off over
            self._begin(now)

    def backoff_ms(self, fails):
        base = self.backoff_min_ms << (fails if fails < 16 else 16)
        if base > self.backoff_max_ms or base <= 0:
            base = self.backoff_max_ms
        r = self._rand() if self._rand is not None else random.getrandbits(16)
        return base + r % (base // 4 + 1)

    def _down(self, now):
        self.state = DOWN
        self._t = time.ticks_add(now, self.backoff_ms(self.fails))

    def _begin(self, now):
        self.attempts += 1
        sta = self._sta
        try:
            sta.disconnect()        # a stale association (esp32) makes connect() fail
        except OSError as e:
            log.debug("wifi", "disconnect: %r", e)
        try:
            sta.connect(self.ssid, self._pw)
        except OSError as e:
            self.fails += 1
            self.why = "refused"
            self._down(now)
            log.warn("wifi", "connect to %s refused: %r", self.ssid, e)
            return
        self.state = CONNECTING
        self._t = now
        log.info("wifi", "connecting to %s (attempt %d)", self.ssid, self.attempts)

    def _up(self):
        self.state = UP
        self.fails = 0
        self.why = None
        try:
            self.ip = self._sta.ipconfig("addr4")[0]
        except (OSError, ValueError, TypeError) as e:
            self.ip = "?"
            log.debug("wifi", "ipconfig: %r", e)
        log.info("wifi", "connected to %s, address %s", self.ssid, self.ip)

    def _status(self):
        try:
            return self._sta.status()
        except OSError:
            return None

    # ------------------------------------------------------------ setup access point
    def ap_on(self, hold_ms=None):
        """Setup AP on; hold_ms: off again after that long (None: until ap_off). With
        no SSID configured the AP stays on whatever hold_ms says."""
        if not self.ssid:
            hold_ms = None
        self._ap_until = None if hold_ms is None else time.ticks_add(self._clock(), hold_ms)
        if self.ap_active:
            return
        if self._port is not None:
            self._port.ap_up(self._ap, self.ap_ssid, self._ap_key)
        else:
            self._ap.config(ssid=self.ap_ssid, key=self._ap_key)
            self._ap.active(True)
        self.ap_active = True
        log.warn("wifi", "setup access point %s on%s", self.ap_ssid,
                 "" if hold_ms is None else " for %d s" % (hold_ms // 1000))

    def ap_ip(self):
        return self._ap.ipconfig("addr4")[0]

    def ap_off(self):
        self._ap_until = None
        if self.ap_active:
            self._ap.active(False)
            self.ap_active = False
            log.info("wifi", "setup access point off")
