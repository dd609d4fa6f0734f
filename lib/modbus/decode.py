"""Register decoders. Registers are big-endian 16-bit words (application protocol 4.2);
multi-word values are most significant word first unless `swap` (least significant word
first, e.g. Carlo Gavazzi "LWF"). `buf` is the register data, `off` a byte offset.

Types for data tables (profiles): U16 S16 U32 S32 U64 F32, optionally | SWAP."""
from micropython import const
import struct

U16 = const(1)
S16 = const(2)
U32 = const(3)
S32 = const(4)
U64 = const(5)
F32 = const(6)
SWAP = const(0x10)
_KIND = const(0x0F)


def words(kind):
    """Registers a value of this type occupies."""
    k = kind & _KIND
    return 1 if k <= S16 else (4 if k == U64 else 2)


def u16(buf, off=0):
    return (buf[off] << 8) | buf[off + 1]


def s16(buf, off=0):
    v = (buf[off] << 8) | buf[off + 1]
    return v - 0x10000 if v & 0x8000 else v


def u32(buf, off=0, swap=False):
    hi = (buf[off] << 8) | buf[off + 1]
    lo = (buf[off + 2] << 8) | buf[off + 3]
    return (lo << 16) | hi if swap else (hi << 16) | lo


def s32(buf, off=0, swap=False):
    v = u32(buf, off, swap)
    return v - 0x100000000 if v & 0x80000000 else v


def u64(buf, off=0, swap=False):
    v = 0
    for i in range(4):
        j = off + 2 * (3 - i if swap else i)
        v = (v << 16) | (buf[j] << 8) | buf[j + 1]
    return v


def f32(buf, off=0, swap=False):
    """IEEE 754 single precision."""
    if not swap:
        return struct.unpack_from(">f", buf, off)[0]
    return struct.unpack(">f", struct.pack(">I", u32(buf, off, True)))[0]


def value(buf, off, kind, scale=0):
    """The value of type `kind` at buf[off:], divided by 10**scale (scale < 0 multiplies:
    kWh -> Wh is -3; integers stay integers when scale <= 0)."""
    sw = bool(kind & SWAP)
    k = kind & _KIND
    if k == F32:
        v = f32(buf, off, sw)
    elif k == U16:
        v = u16(buf, off)
    elif k == S16:
        v = s16(buf, off)
    elif k == U32:
        v = u32(buf, off, sw)
    elif k == S32:
        v = s32(buf, off, sw)
    elif k == U64:
        v = u64(buf, off, sw)
    else:
        raise ValueError("data type %d" % kind)
    if scale > 0:
        return v / 10 ** scale
    if scale < 0:
        return v * 10 ** -scale
    return v
