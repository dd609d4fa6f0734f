"""Control pilot on a real board: 1 kHz PWM out through the +-12 V stage, and the
pilot's high and low levels read back through a divider into one ADC input.

Sampling (OpenEVSE / esp32-evse style, evse-control-notes §1, §6): a burst of ADC reads
spanning more than one PWM period goes into a preallocated buffer; the high level is the
mean of the top-k readings and the low level the mean of the bottom-k, each converted to
pilot millivolts with the board's divider constants:

    pilot_mv = ((reading - off) * mul) >> 16

The burst is bounded by time: reads go on until the window (SAMPLE_WINDOW_US, a PWM
period and a bit) has passed, whatever a read costs at that moment, up to the buffer's
256 readings. A count timed once at start-up is not enough: on an RP2040 a read took
30 us while the board was built (USB interrupts) and 11 us in the tick, so the burst
spanned 384 us; the 10 ms tick is phase-locked to the 1 kHz PWM (one crystal), every
burst saw the same phase, missed the high level, and the relay never closed.

sample() allocates nothing (the safety tick calls it): small-int arithmetic on
preallocated arrays only. X1 (steady +12 V) is duty 100 %, F (steady -12 V) duty 0 %;
`invert` flips both for an inverting +-12 V stage."""
from micropython import const
import array
import time

_N_MAX = const(256)            # readings per burst at most (1 KiB per EVSE)
_FULL = const(65535)
_BIG = const(0x3FFFFFFF)       # above any reading, still a small int
_FREQ = const(1000)
_STEP = const(4)               # reads between two looks at the clock (_N_MAX is a multiple)


class Pilot:
    def __init__(self, pwm, read, off, mul, invert=False, k=3):
        """pwm: a machine.PWM already on the pin (any duty); read: a bound ADC read
        method returning an int (read_uv or read_u16); off, mul: see the module doc."""
        self._pwm = pwm
        self._read = read
        self._off = off
        self._mul = mul
        self._inv = invert
        self._k = k
        self._buf = array.array("i", bytes(4 * _N_MAX))
        self._hi = array.array("i", bytes(4 * k))
        self._lo = array.array("i", bytes(4 * k))
        self._win = 1100        # burst window in us (set by calibrate)
        self.n = 0              # readings of the last burst
        self.span_us = 0        # and the time it took
        self.duty = 1000        # last duty in permille (1000 = X1, 0 = F)

    def calibrate(self, window_us):
        """Sets the burst window (every burst lasts at least window_us, at least 4k
        reads, at most 256) and runs one burst; -> its number of reads. Called once when
        the board is built, never at import."""
        self._win = window_us
        return self._burst()

    def _burst(self):
        # reads until the window has passed (checked every _STEP reads); allocation-free
        b = self._buf
        rd = self._read
        us = time.ticks_us
        diff = time.ticks_diff
        win = self._win
        lo = 4 * self._k
        n = 0
        t0 = us()
        while n < _N_MAX:                   # the burst: nothing else in this loop
            b[n] = rd()
            b[n + 1] = rd()
            b[n + 2] = rd()
            b[n + 3] = rd()
            n += _STEP
            if n >= lo and diff(us(), t0) >= win:
                break
        self.span_us = diff(us(), t0)
        self.n = n
        return n

    # ------------------------------------------------------------ output
    def _out(self, u16):
        if self._inv:
            u16 = _FULL - u16
        self._pwm.duty_u16(u16)

    def pwm(self, duty_permille):
        """1 kHz at duty_permille (0-1000) of +12 V, the rest -12 V."""
        d = duty_permille
        d = 0 if d < 0 else (1000 if d > 1000 else d)
        self.duty = d
        self._out(d * _FULL // 1000)

    def x1(self):
        """Steady +12 V (state X1: no PWM)."""
        self.duty = 1000
        self._out(_FULL)

    def f(self):
        """Steady -12 V (state F: EVSE unavailable)."""
        self.duty = 0
        self._out(0)

    # ------------------------------------------------------------ input
    def sample(self, buf):
        """buf[0] = high level, buf[1] = low level, in pilot mV. Allocates nothing."""
        n = self._burst()
        b = self._buf
        hi = self._hi
        lo = self._lo
        k = self._k
        km1 = k - 1
        for j in range(k):
            hi[j] = -_BIG
            lo[j] = _BIG
        for j in range(n):
            v = b[j]
            if v > hi[km1]:                 # insert into the descending top-k
                i = km1
                while i > 0 and hi[i - 1] < v:
                    hi[i] = hi[i - 1]
                    i -= 1
                hi[i] = v
            if v < lo[km1]:                 # insert into the ascending bottom-k
                i = km1
                while i > 0 and lo[i - 1] > v:
                    lo[i] = lo[i - 1]
                    i -= 1
                lo[i] = v
        sh = 0
        sl = 0
        for j in range(k):
            sh += hi[j]
            sl += lo[j]
        buf[0] = self.to_mv(sh // k)
        buf[1] = self.to_mv(sl // k)
        return buf

    def to_mv(self, reading):
        """One ADC reading -> pilot mV (small ints only: |reading - off| * mul < 2**30)."""
        return ((reading - self._off) * self._mul) >> 16

    def deinit(self):
        self.f()


def make_pwm(pwm_cls, pin, invert=False):
    """A 1 kHz PWM on pin that starts at steady -12 V (state F) until the firmware
    says X1."""
    return pwm_cls(pin, freq=_FREQ, duty_u16=_FULL if invert else 0)
