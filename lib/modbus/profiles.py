"""Energy meter register maps, as data (Eastron SDM120 / SDM630 v2 and ABB B23 manuals;
summary in evse-control-notes §5).

A profile is (name, gap, fields). `fields` are the eight quantities of a charger's meter,
in this order: energy import (Wh), total active power (W), voltage L1 L2 L3 (V), current
L1 L2 L3 (A). Each is (function code, register, type, scale) with the value being
raw / 10**scale (modbus.decode.value), or None when the meter has no such quantity (it
reads as 0). `gap`: how many registers between two fields a single read may span (0: only
fields that are truly adjacent share a request; more needs registers the meter defines)."""
from micropython import const
from .decode import U32, S32, U64, F32, words

_HR = const(3)      # read holding registers
_IR = const(4)      # read input registers

# Eastron SDM630 v2 (3 phases), input registers, f32 big-endian; energy in kWh.
# V/I 0x0000-0x000B in one read, then power and energy: 3 requests.
SDM630 = ("SDM630", 0, (
    (_IR, 0x0048, F32, -3),
    (_IR, 0x0034, F32, 0),
    (_IR, 0x0000, F32, 0), (_IR, 0x0002, F32, 0), (_IR, 0x0004, F32, 0),
    (_IR, 0x0006, F32, 0), (_IR, 0x0008, F32, 0), (_IR, 0x000A, F32, 0),
))

# Eastron SDM120 / SDM230 (1 phase): same layout, L2 and L3 absent: 4 requests.
SDM120 = ("SDM120", 0, (
    (_IR, 0x0048, F32, -3),
    (_IR, 0x000C, F32, 0),
    (_IR, 0x0000, F32, 0), None, None,
    (_IR, 0x0006, F32, 0), None, None,
))

# ABB B23 (3 phases), holding registers: V u32 0.1 V, I u32 0.01 A, P s32 0.01 W,
# energy u64 0.01 kWh (= 10 Wh). 0x5B00-0x5B15 is defined throughout (L-L voltages and
# neutral current fill the gaps), so instantaneous values take one read: 2 requests.
ABB_B23 = ("ABB B23", 6, (
    (_HR, 0x5000, U64, -1),
    (_HR, 0x5B14, S32, 2),
    (_HR, 0x5B00, U32, 1), (_HR, 0x5B02, U32, 1), (_HR, 0x5B04, U32, 1),
    (_HR, 0x5B0C, U32, 2), (_HR, 0x5B0E, U32, 2), (_HR, 0x5B10, U32, 2),
))


def by_name(name):
    """The profile for "sdm630", "sdm120" or "abb_b23" (None if unknown)."""
    return {"sdm630": SDM630, "sdm120": SDM120, "abb_b23": ABB_B23}.get(name.lower())


def plan(profile, max_regs=125):
    """The requests a profile needs: a list of (fc, start, count, parts), where parts are
    (slot, byte offset, type, scale) for the fields that request carries (slot: index in
    the profile's fields). Fields merge when they share the function code and the span
    stays within `gap` and max_regs. Done once, when a meter is set up."""
    gap = profile[1]
    todo = []
    for slot, f in enumerate(profile[2]):
        if f is not None:
            todo.append((f[0], f[1], slot))
    todo.sort()
    out = []
    cur = None
    for fc, reg, slot in todo:
        f = profile[2][slot]
        end = reg + words(f[2])
        if cur is not None and cur[0] == fc and reg - cur[3] <= gap and end - cur[1] <= max_regs:
            cur[3] = max(cur[3], end)
        else:
            cur = [fc, reg, [], end]
            out.append(cur)
        cur[2].append((slot, 2 * (reg - cur[1]), f[2], f[3]))
    return [(c[0], c[1], c[3] - c[1], tuple(c[2])) for c in out]
