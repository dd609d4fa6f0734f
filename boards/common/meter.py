"""The energy meter(s): boards.common.modbusmeter.ModbusMeter over a modbus.Master on the
board's UART, with the RS-485 driver-enable pin. One bus for the station; one Modbus unit
id per EVSE. The HAL meter interface (docs/architecture.md):

    await meter.read() -> (wh, w, (v1, v2, v3), (a1, a2, a3))   or raises OSError

modbus and boards.common.modbusmeter are imported here, lazily, when the board is built:
a build without them (or a board without a meter) gets NoMeter, whose reads fail, so the
kernel reports the meter lost (and pauses charging unless meter_loss_pause is off)."""
from micropython import const
from firmware import log

_ENODEV = const(19)


class NoMeter:
    def __init__(self, why):
        self.why = why

    async def read(self):
        raise OSError(_ENODEV)


def make_meters(pins, uart_cls, pin_cls):
    """One meter object per EVSE of the pin map."""
    n = len(pins.EVSE)
    m = pins.METER
    st = pins.STATION
    if not m or st.get("meter_tx") is None:
        return [NoMeter("no meter wired") for _ in range(n)]
    try:
        from modbus import Master
        from modbus.profiles import by_name
        from boards.common.modbusmeter import ModbusMeter
    except ImportError as e:
        log.error("meter", "no Modbus support in this build (%s): meter reads fail", e)
        return [NoMeter("no modbus") for _ in range(n)]
    profile = by_name(m["profile"])
    if profile is None:
        log.error("meter", "unknown meter profile %r: meter reads fail", m["profile"])
        return [NoMeter("unknown profile") for _ in range(n)]
    uart = uart_cls(m["uart"], baudrate=m["baud"], bits=8, parity=None, stop=1,
                    tx=pin_cls(st["meter_tx"]), rx=pin_cls(st["meter_rx"]))
    de = pin_cls(st["meter_de"], pin_cls.OUT, value=0)
    master = Master(uart, baud=m["baud"], de=de)
    return [ModbusMeter(master, profile, ev["meter_unit"]) for ev in pins.EVSE]
