"""Injectable clock: monotonic milliseconds and wall time in Unix seconds.

Boards differ in epoch (2000 on esp32, 1970 on rp2 and unix) and ticks_ms wraps after
about 12 days on boards, so every time computation goes through here and tests can
hand in their own clock."""
from micropython import const
import time

_DAYS_BEFORE = const((0, 31, 59, 90, 120, 151, 181, 212, 243, 273, 304, 334))


def _days_from_civil(y, m, d):
    # Days since 1970-01-01 of a proleptic Gregorian date (no time.mktime epoch games).
    y -= m <= 2
    era = y // 400
    yoe = y - era * 400
    mp = (m + 9) % 12
    doy = (153 * mp + 2) // 5 + d - 1
    doe = yoe * 365 + yoe // 4 - yoe // 100 + doy
    return era * 146097 + doe - 719468


def parse_iso(s):
    """'2026-11-22T08:10:00.123Z' or with +hh:mm offset -> Unix seconds (int).
    Raises ValueError on anything else."""
    try:
        y = int(s[0:4]); mo = int(s[5:7]); d = int(s[8:10])
        h = int(s[11:13]); mi = int(s[14:16]); sec = int(s[17:19])
    except (ValueError, IndexError, TypeError):
        raise ValueError("bad datetime")
    if s[4] != "-" or s[10] not in "Tt " or not (1 <= mo <= 12 and 1 <= d <= 31):
        raise ValueError("bad datetime")
    rest = s[19:]
    if rest.startswith("."):
        k = 1
        while k < len(rest) and rest[k].isdigit():
            k += 1
        rest = rest[k:]
    off = 0
    if rest in ("Z", "z", ""):
        pass
    elif len(rest) == 6 and rest[0] in "+-" and rest[3] == ":":
        off = (int(rest[1:3]) * 60 + int(rest[4:6])) * 60
        if rest[0] == "+":
            off = -off
    else:
        raise ValueError("bad datetime")
    return _days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + sec + off


def iso(t):
    """Unix seconds -> 'YYYY-MM-DDTHH:MM:SSZ'."""
    t = int(t)
    days, rem = divmod(t, 86400)
    # civil_from_days
    z = days + 719468
    era = z // 146097
    doe = z - era * 146097
    yoe = (doe - doe // 1460 + doe // 36524 - doe // 146096) // 365
    y = yoe + era * 400
    doy = doe - (365 * yoe + yoe // 4 - yoe // 100)
    mp = (5 * doy + 2) // 153
    d = doy - (153 * mp + 2) // 5 + 1
    m = mp + 3 if mp < 10 else mp - 9
    y += m <= 2
    return "%04d-%02d-%02dT%02d:%02d:%02dZ" % (y, m, d, rem // 3600, rem // 60 % 60, rem % 60)


class Clock:
    """Wall time = the board's RTC seconds + an offset set from the CSMS."""

    def __init__(self, ticks_ms=None, seconds=None):
        self.ticks_ms = ticks_ms or time.ticks_ms
        self._seconds = seconds or time.time
        # Unix seconds of the port's epoch: 946684800 on esp32 (2000), 0 elsewhere.
        self._epoch = 946684800 if time.gmtime(0)[0] == 2000 else 0
        self._offset = 0
        self.synced = False

    def ms(self):
        return self.ticks_ms()

    def since(self, t0):
        return time.ticks_diff(self.ticks_ms(), t0)

    def now(self):
        """Unix seconds."""
        return self._seconds() + self._epoch + self._offset

    def set(self, unix_s):
        """Set wall time; returns the jump in seconds."""
        jump = unix_s - self.now()
        self._offset += jump
        self.synced = True
        return jump

    def iso(self, t=None):
        return iso(self.now() if t is None else t)
