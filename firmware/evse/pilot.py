"""Control-pilot classification and PWM duty (IEC 61851-1 Annex A).

Pure functions, no allocation: called from the safety tick."""
from micropython import const

CP_A = const(1)      # +12 V: no vehicle
CP_B = const(2)      # +9 V: vehicle connected
CP_C = const(3)      # +6 V: ready, charging allowed
CP_D = const(4)      # +3 V: ready, ventilation required
CP_E = const(5)      # 0 V: short / EVSE off
CP_F = const(6)      # -12 V: EVSE unavailable
CP_FAULT = const(7)  # outside every band
NAMES = "?ABCDEFX"


def classify(mv, prev):
    """High level of the pilot in mV -> CP state, with hysteresis bands that depend on
    the previous state (IEC 61851-1 Table A.4 bands, as chargebyte's CPUtils applies
    them): 10-11 V reads A only coming from A, 7-8 V B only coming from A/B, 4-5 V C only
    coming from A/B/C, -2..-1 V E only coming from E, -11..-10 V F only coming from F."""
    if mv > 13000:
        return CP_FAULT
    if mv >= 11000:
        return CP_A
    if mv >= 10000:
        return CP_A if prev == CP_A else CP_B
    if mv >= 8000:
        return CP_B
    if mv >= 7000:
        return CP_B if prev == CP_A or prev == CP_B else CP_C
    if mv >= 5000:
        return CP_C
    if mv >= 4000:
        return CP_C if CP_A <= prev <= CP_C else CP_D
    if mv >= 2000:
        return CP_D
    if mv >= -1000:
        return CP_E
    if mv >= -2000:
        return CP_E if prev == CP_E else CP_FAULT
    if -13000 <= mv <= -11000:
        return CP_F
    if -11000 < mv <= -10000:
        return CP_F if prev == CP_F else CP_FAULT
    return CP_FAULT


def duty_permille(amps):
    """Offered current -> PWM duty in 0.1 %: 6-51 A: A/0.6 %; 51-80 A: A/2.5 + 64 %
    (IEC 61851-1 Table A.8). Below 6 A there is nothing valid to offer: 0."""
    if amps < 6:
        return 0
    if amps <= 51:
        return (amps * 100 + 3) // 6            # A / 0.6 %, in permille, rounded
    if amps > 80:
        amps = 80
    return amps * 4 + 640                        # (A / 2.5 + 64) % in permille


def amps_from_permille(d):
    """Inverse of duty_permille for 10-96 %."""
    if d < 100 or d > 960:
        return 0
    if d <= 850:
        return d * 6 // 100
    return (d - 640) * 25 // 100
