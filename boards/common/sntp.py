"""Time from the network: a small SNTP client (RFC 4330, the RFC 5905 on-wire format)
over UDP, the RTC it sets, and the rule that no TLS handshake happens before the clock
is plausible (Mbed TLS checks the CSMS certificate's validity against the RTC: a board
that booted at 2000-01-01 or 2021-01-01 would reject a good certificate, or accept an
expired one).

Request: 48 bytes, LI 0, version 4, mode 3 (client), with 8 random bytes in the
transmit timestamp; the reply must be mode 4 (server), version 3 or 4, LI not 3
(unsynchronised), stratum 1-15 (0 is a kiss-o'-death: RATE, DENY, RSTR... -> back off),
and echo those 8 bytes as its originate timestamp (RFC 4330 section 5: an answer to
someone else's question, or a forged one, is dropped). Time = the server's transmit
timestamp + half the round trip. NTP seconds are 32 bits and wrap on 2036-02-07: a
value with the top bit clear is taken as era 1 (RFC 4330 section 3), so this works
until 2104.

Epochs: time.time() counts from 2000 on esp32 and from 1970 on rp2 and unix
(time.gmtime(0) tells which). The RTC is set with calendar fields (RTC.datetime), which
no epoch affects; only reading the clock back as Unix seconds adds the port's epoch.

Plausible = at least TIME_FLOOR (raise it at each release): TimeSync.time_ok. A reply
that says earlier is rejected, not written to the RTC."""
from micropython import const
import asyncio
import os
import socket
import struct
import time
from errno import EAGAIN
from firmware import log

TIME_FLOOR = 1793491200        # 2026-11-01T00:00:00Z: no valid clock is earlier than this build
NTP_PORT = const(123)
_PKT = const(48)
_NTP_1970 = const(2208988800)  # NTP era 0 seconds at the Unix epoch
_ERA = const(4294967296)       # 2**32: one NTP era
_EPOCH_2000 = const(946684800)
_RECV_POLL_MS = const(20)


class SntpError(Exception):
    """kind: "timeout", "refused", "kod" (detail = the kiss code), "bad" (detail = why),
    "dns", "io" (a socket error), "implausible"."""

    def __init__(self, kind, detail=""):
        super().__init__(kind, detail)
        self.kind = kind
        self.detail = detail


def ntp_to_unix(secs):
    """32-bit NTP seconds -> Unix seconds, era 0 (1968-2036) or era 1 (2036-2104)."""
    if secs & 0x80000000:
        return secs - _NTP_1970
    return secs + _ERA - _NTP_1970


def request(buf, nonce):
    """An SNTP v4 client request into buf (48 bytes), nonce (8 bytes) as its transmit
    timestamp."""
    for i in range(_PKT):
        buf[i] = 0
    buf[0] = 0x23               # LI 0, VN 4, mode 3
    buf[40:48] = nonce


def parse(buf, nonce):
    """A server reply -> (unix seconds, milliseconds) of its transmit timestamp.
    Raises SntpError("bad" | "kod")."""
    if len(buf) < _PKT:
        raise SntpError("bad", "short reply (%d bytes)" % len(buf))
    b0 = buf[0]
    if b0 & 7 != 4:
        raise SntpError("bad", "mode %d" % (b0 & 7))
    if (b0 >> 3) & 7 not in (3, 4):
        raise SntpError("bad", "version %d" % ((b0 >> 3) & 7))
    if bytes(buf[24:32]) != bytes(nonce):
        raise SntpError("bad", "originate timestamp mismatch")
    stratum = buf[1]
    if stratum == 0:
        raise SntpError("kod", "".join(chr(c) if 32 <= c < 127 else "?" for c in buf[12:16]))
    if b0 >> 6 == 3:
        raise SntpError("bad", "server not synchronised")
    if stratum > 15:
        raise SntpError("bad", "stratum %d" % stratum)
    secs, frac = struct.unpack_from("!II", buf, 40)
    if secs == 0 and frac == 0:
        raise SntpError("bad", "no transmit timestamp")
    return ntp_to_unix(secs), (frac >> 16) * 1000 >> 16


def civil(unix_s):
    """Unix seconds -> the RTC.datetime tuple (y, m, d, weekday Mon=0, h, min, s, 0)."""
    days, rem = divmod(unix_s, 86400)
    z = days + 719468
    era = z // 146097
    doe = z - era * 146097
    yoe = (doe - doe // 1460 + doe // 36524 - doe // 146096) // 365
    doy = doe - (365 * yoe + yoe // 4 - yoe // 100)
    mp = (5 * doy + 2) // 153
    d = doy - (153 * mp + 2) // 5 + 1
    m = mp + 3 if mp < 10 else mp - 9
    y = yoe + era * 400 + (1 if m <= 2 else 0)
    return (y, m, d, (days + 3) % 7, rem // 3600, rem // 60 % 60, rem % 60, 0)


async def query(host, port=NTP_PORT, timeout_ms=2000, tries=3, rand=None):
    """Asks host; -> Unix seconds (rounded, half the round trip added). Each try waits
    at most timeout_ms for its answer, polling a non-blocking socket. Raises SntpError.
    The name lookup (getaddrinfo) blocks, as everywhere in MicroPython: an IP address
    avoids it."""
    try:
        addr = socket.getaddrinfo(host, port, 0, socket.SOCK_DGRAM)[0][-1]
    except OSError as e:
        raise SntpError("dns", "%s: %r" % (host, e))
    rand = rand or os.urandom
    buf = bytearray(_PKT)
    err = SntpError("timeout", "%s: no answer in %d x %d ms" % (host, tries, timeout_ms))
    for _ in range(tries):
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            s.setblocking(False)
            s.connect(addr)             # the stack drops datagrams from anyone else
            nonce = rand(8)
            request(buf, nonce)
            t0 = time.ticks_ms()
            s.send(buf)
            while True:
                rtt = time.ticks_diff(time.ticks_ms(), t0)
                if rtt >= timeout_ms:
                    break
                try:
                    data = s.recv(_PKT + 16)
                except OSError as e:
                    if e.errno == EAGAIN:
                        await asyncio.sleep_ms(_RECV_POLL_MS)
                        continue
                    err = SntpError("refused", "%s: %r" % (host, e))
                    break
                try:
                    secs, ms = parse(data, nonce)
                except SntpError as e:
                    if e.kind == "kod":
                        raise
                    err = e
                    log.debug("sntp", "reply dropped: %s", e.detail)
                    continue            # keep listening until this try's time is up
                ms += rtt // 2
                return secs + (ms + 500) // 1000
        finally:
            s.close()
        await asyncio.sleep_ms(_RECV_POLL_MS)
    raise err


class TimeSync:
    """Keeps the RTC set from SNTP while the link is up: at once when it comes up,
    again every resync_s, after a failure with a back-off (retry_min_ms doubling to
    retry_max_ms; a kiss-o'-death goes straight to the maximum).

    time_ok: the RTC reads at least `floor` (already true at boot when the RTC kept a
    plausible time, e.g. across a soft reset on esp32); `ok` is an asyncio.Event set
    with it."""
    timeout_ms = 2000
    tries = 3
    resync_s = 86400
    retry_min_ms = 5000
    retry_max_ms = 600000
    link_poll_ms = 500

    def __init__(self, rtc, host, link_up, port=NTP_PORT, floor=TIME_FLOOR, epoch_s=None,
                 seconds=None, rand=None):
        """rtc: machine.RTC(); link_up(): whether the network is up; seconds(): the
        port's time.time() (tests: a fake RTC's); epoch_s: Unix seconds at the port's
        epoch (None: from time.gmtime(0))."""
        self._rtc = rtc
        self.host = host
        self._port = port
        self._link_up = link_up
        self.floor = floor
        if epoch_s is None:
            epoch_s = _EPOCH_2000 if time.gmtime(0)[0] == 2000 else 0
        self._epoch = epoch_s
        self._seconds = seconds or time.time
        self._rand = rand
        self.ok = asyncio.Event()
        self.time_ok = False
        self.syncs = 0
        self.fails = 0
        self.last_error = None
        self._task = None
        self._check()

    def unix_now(self):
        return int(self._seconds()) + self._epoch

    def _check(self):
        self.time_ok = self.unix_now() >= self.floor
        if self.time_ok:
            self.ok.set()
        return self.time_ok

    def set(self, unix_s):
        """Writes the RTC; refuses (SntpError "implausible") a time before the floor."""
        if unix_s < self.floor:
            raise SntpError("implausible", "time %d before the floor %d" % (unix_s, self.floor))
        before = self.unix_now()
        self._rtc.datetime(civil(unix_s))
        self._check()
        return unix_s - before

    async def sync(self):
        """One query round; -> True when the RTC was set."""
        try:
            try:
                t = await query(self.host, self._port, self.timeout_ms, self.tries, self._rand)
            except OSError as e:            # no socket, no route: the stack's own errors
                raise SntpError("io", repr(e))
            jump = self.set(t)
        except SntpError as e:
            self.fails += 1
            self.last_error = e
            log.warn("sntp", "%s %s: %s", self.host, e.kind, e.detail)
            return False
        self.syncs += 1
        self.fails = 0
        self.last_error = None
        if jump > 2 or jump < -2:
            log.info("sntp", "clock set from %s, step %d s", self.host, jump)
        return True

    def retry_ms(self):
        if self.last_error is not None and self.last_error.kind == "kod":
            return self.retry_max_ms
        n = self.fails - 1 if self.fails > 0 else 0
        w = self.retry_min_ms << (n if n < 16 else 16)
        return w if 0 < w <= self.retry_max_ms else self.retry_max_ms

    async def run(self):
        while True:
            while not self._link_up():
                await asyncio.sleep_ms(self.link_poll_ms)
            if await self.sync():
                await asyncio.sleep(self.resync_s)
            else:
                await asyncio.sleep_ms(self.retry_ms())

    def start_task(self):
        if self._task is None:
            self._task = asyncio.create_task(self.run())
        return self._task

    def deinit(self):
        t = self._task
        self._task = None
        if t is not None:
            t.cancel()

    def guard(self, ctx):
        """ctx (a tls.SSLContext or None) behind the clock rule; None stays None."""
        return None if ctx is None else TlsGuard(ctx, self)


class TlsGuard:
    """Stands in for the SSLContext handed to the WebSocket client: wrap_socket() refuses
    (OSError, which the client reports as a failed connect, not a certificate problem)
    while the clock is not plausible, so no handshake ever runs against a wrong RTC."""

    def __init__(self, ctx, ts):
        self._ctx = ctx
        self._ts = ts
        self.verify_mode = getattr(ctx, "verify_mode", None)
        self.refused = 0

    def wrap_socket(self, sock, **kw):
        if not self._ts.time_ok:
            self.refused += 1
            raise OSError("clock not set from NTP yet: no TLS")
        return self._ctx.wrap_socket(sock, **kw)
