"""The rp2 port's part of the HAL; everything else is boards.common.

- Pilot ADC: ADC(Pin(26)) read with read_u16() (the rp2 ADC has no read_uv and no
  attenuation: 0-3.3 V = 0-65535, 12 bits), so the divider constants are in counts.
- PWM: slices are shared by GPIO pairs (see pins.py); duty_u16 at 1 kHz ~16 bit.
- Safety tick: soft timer -1. WDT at most 8388 ms.
- Wi-Fi (CYW43): power saving off on the station link; the setup AP gets SSID and key
  before active(True).
- temp_c: the RP2040's own sensor (ADC.CORE_TEMP): die temperature, a stand-in for a
  sensor at the contactor (fit an NTC for real over-temperature protection).

    from boards.rp2_pico_w.hal import make_board
    board = make_board()
"""
from machine import ADC, Pin, WDT
from boards.common.board import MachineBoard
from boards.rp2_pico_w import pins as PINS


class Rp2Port:
    hard_pin_irq = True         # Pin.irq(hard=True): the RCD opens its relay from the IRQ

    def __init__(self, pins):
        self.timer_id = pins.TICK_TIMER
        self._pins = pins
        self._core = ADC(ADC.CORE_TEMP)

    def adc_read(self, gpio):
        """The pilot's reading function: 0-65535 counts of VREF."""
        return ADC(Pin(gpio)).read_u16

    def make_wdt(self, timeout_ms):
        return WDT(timeout=timeout_ms)

    def sta_tune(self, sta):
        """Mains-powered: CYW43 power saving off (it delays and drops frames)."""
        import network
        sta.config(pm=network.WLAN.PM_NONE)

    def ap_up(self, ap, ssid, key):
        """CYW43 takes SSID and key before the AP starts; with a key it runs WPA2-AES."""
        ap.config(ssid=ssid, key=key)
        ap.active(True)

    def root_vfs(self):
        """The file system at "/", as the port's _boot.py makes it (rp2.Flash, 256-byte
        programs): boards.common.board remounts it after a failed flash write."""
        import vfs
        import rp2
        return vfs.VfsLfs2(rp2.Flash(), progsize=256)

    def temp_c(self, i):
        """RP2040 datasheet 4.9.5: T = 27 - (V - 0.706) / 0.001721."""
        v = self._core.read_u16() * self._pins.VREF_MV / 65535 / 1000
        return round(27 - (v - 0.706) / 0.001721, 1)


def make_board(meters=True, pins=PINS):
    board = MachineBoard(pins, Rp2Port(pins), meters)
    from boards.common import hostlink
    hostlink.attach(board)          # a test rig's console link, only if /flash/hostlink exists
    return board
