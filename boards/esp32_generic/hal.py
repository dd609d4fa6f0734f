"""The esp32 port's part of the HAL; everything else is boards.common.

- Pilot ADC: ADC(pin, atten=ADC.ATTN_11DB) on ADC1 (Wi-Fi blocks ADC2), read with
  read_uv(): eFuse-calibrated microvolts, so the divider constants are in uV.
- PWM: duty_u16 at 1 kHz is 16-bit exact on the ESP32 (LEDC).
- Safety tick: hardware timer 0.
- Wi-Fi: the IDF's own reconnects off (boards.common.wifi backs off); the setup AP is
  configured after active(True), with WPA2 asked for explicitly.
- temp_c: an NTC on an ADC1 pin per EVSE (pins.NTC), None when open or shorted.

    from boards.esp32_generic.hal import make_board
    board = make_board()
"""
from micropython import const
import math
from machine import ADC, Pin, WDT
from boards.common.board import MachineBoard
from boards.esp32_generic import pins as PINS

_T0_K = const(298.15)


class Esp32Port:
    hard_pin_irq = False        # 1.25 schedules every pin interrupt; Pin.irq takes no hard=

    def __init__(self, pins):
        self.timer_id = pins.TICK_TIMER
        self._pins = pins
        self._ntc = [None if ev.get("ntc") is None else self.adc(ev["ntc"]) for ev in pins.EVSE]

    def adc(self, gpio):
        return ADC(Pin(gpio), atten=ADC.ATTN_11DB)

    def adc_read(self, gpio):
        """The pilot's reading function: calibrated microvolts."""
        return self.adc(gpio).read_uv

    def make_wdt(self, timeout_ms):
        return WDT(timeout=timeout_ms)

    def root_vfs(self):
        """The file system at "/", as the port's _boot.py/inisetup make it (the "vfs"
        data partition): boards.common.board remounts it after a failed flash write."""
        import vfs
        import esp32
        part = esp32.Partition.find(esp32.Partition.TYPE_DATA, label="vfs")[0]
        return vfs.VfsLfs2(part)

    def sta_tune(self, sta):
        """The station link's own reconnects off: boards.common.wifi retries with back-off."""
        sta.config(reconnects=0)

    def ap_up(self, ap, ssid, key):
        """ESP-IDF's soft AP is open unless told otherwise, whatever key it is given:
        WPA2 explicitly, after active(True) (the interface must be started)."""
        import network
        ap.active(True)
        ap.config(ssid=ssid, key=key, security=network.WLAN.SEC_WPA2)

    def temp_c(self, i):
        """NTC from the ADC pin to GND with a pull-up to VREF (pins.NTC = (R25, B,
        R_pullup)); None if not fitted, open or shorted."""
        adc = self._ntc[i] if i < len(self._ntc) else None
        if adc is None or not self._pins.NTC:
            return None
        r25, beta, rup = self._pins.NTC
        v = adc.read_uv() / 1000
        vref = self._pins.VREF_MV
        if v < 50 or v > vref - 50:
            return None
        r = rup * v / (vref - v)
        return round(1 / (1 / _T0_K + math.log(r / r25) / beta) - 273.15, 1)


def make_board(meters=True, pins=PINS):
    return MachineBoard(pins, Esp32Port(pins), meters)
