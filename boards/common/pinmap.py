"""Checks a board's pin map (its pins.py module) before any pin is touched: every role
the HAL needs is present, no pin is used twice, and the port's rules hold (ADC-capable
pilot input, no output on an input-only pin, no reserved pin, and on the RP2040 no two
PWM roles on one slice). Returns a list of error strings (empty = good)."""
from micropython import const

EVSE_ROLES = ("pilot_pwm", "pilot_adc", "relay", "relay_feedback", "lock_a", "lock_b",
              "lock_feedback", "rcd")
REQUIRED = ("pilot_pwm", "pilot_adc", "relay")        # these may not be None
STATION_ROLES = ("meter_tx", "meter_rx", "meter_de", "led", "button")
OUTPUTS = ("pilot_pwm", "relay", "lock_a", "lock_b", "meter_tx", "meter_de", "led")
PWM_ROLES = ("pilot_pwm",)
ADC_ROLES = ("pilot_adc", "ntc")
_NOT_PINS = const(("meter_unit",))


def pwm_slice(gpio):
    """RP2040: GPIO -> (slice, channel 0=A 1=B). GPIO 2m and 2m+1 share a slice, and
    GPIO n and n+16 are the same slice and channel."""
    return (gpio >> 1) & 7, gpio & 1


def roles(pins):
    """[(name, pin)] for every wired role; EVSE roles are named "evseN.role"."""
    out = []
    for n, ev in enumerate(pins.EVSE):
        for k in ev:
            if k not in _NOT_PINS and ev[k] is not None:
                out.append(("evse%d.%s" % (n + 1, k), ev[k]))
    for k in pins.STATION:
        if pins.STATION[k] is not None:
            out.append((k, pins.STATION[k]))
    return out


def _role(name):
    return name.split(".")[-1]


def check(pins):
    errors = []
    if not pins.EVSE:
        errors.append("no EVSE in the pin map")
    for n, ev in enumerate(pins.EVSE):
        for r in EVSE_ROLES:
            if r not in ev:
                errors.append("evse%d: role %s missing" % (n + 1, r))
        for r in REQUIRED:
            if ev.get(r) is None:
                errors.append("evse%d: role %s must be wired" % (n + 1, r))
        if (ev.get("lock_a") is None) != (ev.get("lock_b") is None):
            errors.append("evse%d: lock_a and lock_b go together" % (n + 1))
    for r in STATION_ROLES:
        if r not in pins.STATION:
            errors.append("station: role %s missing" % r)
    seen = {}
    slices = {}
    for name, pin in roles(pins):
        if pin in seen:
            errors.append("pin %r used twice: %s and %s" % (pin, seen[pin], name))
        seen[pin] = name
        r = _role(name)
        if pin in pins.RESERVED:
            errors.append("%s: pin %r is reserved on this board" % (name, pin))
        if r in OUTPUTS and pin in pins.INPUT_ONLY:
            errors.append("%s: pin %r is input-only" % (name, pin))
        if r in ADC_ROLES and pin not in pins.ADC_PINS:
            errors.append("%s: pin %r has no usable ADC" % (name, pin))
        if pins.PWM_SLICES and r in PWM_ROLES and isinstance(pin, int):
            s = pwm_slice(pin)[0]
            if s in slices:
                errors.append("%s: PWM slice %d already used by %s" % (name, s, slices[s]))
            slices[s] = name
    return errors
