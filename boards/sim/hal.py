"""The per-EVSE HAL objects of the simulated board (docs/architecture.md, Board HAL).
They only read and write the world's preallocated slots: Pilot, Relay, Lock and Rcd
allocate nothing, so the safety tick may call them."""
from micropython import const

_ETIMEDOUT = const(110)
_X1 = const(0)                  # boards.sim.world's pilot modes (its pmode slots)
_PWM = const(1)
_F = const(2)
_F_METER = const(8)             # boards.sim.world's fault bit of "meter" (FAULTS index 3)
_VOLTS = const((230.0, 230.0, 230.0))


class Pilot:
    def __init__(self, world, i):
        self._w = world
        self._i = i

    def pwm(self, duty_permille):
        """1 kHz PWM at duty_permille (0-1000) of +12 V / -12 V."""
        d = duty_permille
        self._w.duty[self._i] = 0 if d < 0 else (1000 if d > 1000 else d)
        self._w.pmode[self._i] = _PWM

    def x1(self):
        """Steady +12 V, no PWM."""
        self._w.pmode[self._i] = _X1

    def f(self):
        """Steady -12 V: state F, EVSE unavailable."""
        self._w.pmode[self._i] = _F

    def sample(self, buf=None):
        """(high_mv, low_mv). With buf (2 slots, e.g. array("i", (0, 0))) the levels go
        into buf, nothing is allocated, and buf is returned."""
        if buf is None:
            b = [0, 0]
            self._w.levels(self._i, b)
            return (b[0], b[1])
        return self._w.levels(self._i, buf)


class Relay:
    def __init__(self, world, i):
        self._w = world
        self._i = i

    def set(self, on):
        w, i = self._w, self._i
        if on:
            w.relay_cmd[i] = 1
        elif w.relay_cmd[i]:
            w.open_t[i] = w.clock()       # before opens: the world reads opens first
            w.opens[i] += 1
            w.relay_cmd[i] = 0

    def feedback(self):
        """The auxiliary (mirror) contact: True while the main contacts are closed."""
        return self._w.contacts[self._i] == 1


class Lock:
    def __init__(self, world, i):
        self._w = world
        self._i = i

    def set(self, locked):
        self._w.lock_cmd[self._i] = 1 if locked else 0

    def feedback(self):
        return self._w.lock_fb[self._i] == 1


class Rcd:
    def __init__(self, world, i):
        self._w = world
        self._i = i

    def tripped(self):
        return self._w.rcd[self._i] == 1


class Meter:
    """A three-phase meter on the EVSE's output (in the simulator: the world's physics)."""

    def __init__(self, world, i):
        self._w = world
        self._i = i

    async def read(self):
        """(wh, w, (v1, v2, v3), (a1, a2, a3)); OSError(ETIMEDOUT) while the `meter`
        fault is injected (no answer on the bus)."""
        w, i = self._w, self._i
        if w.faults[i] & _F_METER:
            raise OSError(_ETIMEDOUT)
        for _ in range(8):                    # seqlock: retry while the world writes
            s = w.seq[i]
            e_mj, ma, p = w.energy_mj[i], w.ma[i], w.watts[i]
            if not s & 1 and w.seq[i] == s:
                break
        a = ma / 1000
        return ((e_mj // 360000) / 10, p, _VOLTS, (a, a, a))
