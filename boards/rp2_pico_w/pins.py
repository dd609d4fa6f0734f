"""Raspberry Pi Pico W EVSE board: pins by role, active levels, pilot divider constants.
Data only (read by boards.common.board at boot, and by tests).

RP2040 PWM slices: GPIO n belongs to slice (n >> 1) & 7, channel A (even) or B (odd), so
GPIO 2m and 2m+1 share a slice's frequency, and GPIO n and n+16 are the same slice AND
channel. The pilot PWM is on GPIO16 = slice 0 A: do not run any other PWM on GPIO 0, 1,
17 (the same slice; GPIO0/1 are used here as UART0, which is fine: only PWM conflicts).
The check in boards.common.pinmap rejects two PWM roles on one slice.
Pico W: GPIO23, 24, 25 and 29 belong to the CYW43 radio (WL_ON, SPI, VSYS/3 sense); the
user LED is the radio's GPIO0, Pin("LED"). ADC inputs: GPIO26-28 (ADC0-2).

Pilot read-back divider (ASSUMED circuit; change the constants with the hardware):

    CP (after the +-12 V stage) --R1 100k--+--R2 24.3k-- 3.3 V
                                           +--R3 31.6k-- GND
                                           +-- GPIO26 (ADC0)

    V_adc = G * V_cp + V_off,  G = 0.120776,  V_off = 1.640169 V
    -12 V -> 0.191 V, 0 V -> 1.640 V, +12 V -> 3.090 V (ADC range 0-3.3 V = ADC_VREF).
    The rp2 port has read_u16() only (12-bit scaled to 0-65535), so:
      pilot_mv = ((counts - PILOT_OFF) * PILOT_MUL) >> 16
      PILOT_OFF = V_off * 65535 / 3.3 V = 32572 counts
      PILOT_MUL = 65536 / (G * 65535 / 3300 mV) = 27324  (pilot mV per count x 65536)
"""

NAME = "rp2_pico_w"
PORT = "rp2"

EVSE = (
    {
        "pilot_pwm": 16,        # slice 0 A, 1 kHz, drives the +-12 V stage
        "pilot_adc": 26,        # ADC0, through the divider above
        "relay": 15,            # contactor coil driver (default-off, external pull-down)
        "relay_feedback": 14,   # auxiliary (mirror) contact
        "lock_a": 10,           # H-bridge input A (lock)
        "lock_b": 11,           # H-bridge input B (unlock)
        "lock_feedback": 12,    # lock switch
        "rcd": 13,              # 6 mA DC residual-current monitor output
        "ntc": None,            # none: temp_c() reads the RP2040's own sensor
        "meter_unit": 1,
    },
)
STATION = {
    "meter_tx": 0,              # UART0 TX -> RS-485 transceiver DI
    "meter_rx": 1,              # UART0 RX <- RS-485 transceiver RO
    "meter_de": 2,              # RS-485 DE/RE (high = transmit)
    "led": "LED",               # CYW43 GPIO0
    "button": 22,               # to GND, internal pull-up
}
METER = {"uart": 0, "baud": 9600, "profile": "sdm630"}

RELAY_FEEDBACK_ACTIVE = 1
LOCK_FEEDBACK_ACTIVE = 1
RCD_ACTIVE = 0
PILOT_INVERT = False            # non-inverting +-12 V stage: GPIO high -> +12 V
LOCK_PULSE_MS = 500

PILOT_R = (100000, 24300, 31600)
VREF_MV = 3300
PILOT_OFF = 32572                   # read_u16() counts for 0 V on the pilot
PILOT_MUL = 27324
PILOT_UNIT_UV = 0                   # 0: readings are read_u16() counts of VREF_MV
SAMPLE_WINDOW_US = 1100
SAMPLE_K = 3

NTC = None

WDT_MS = 8000                       # the RP2040 watchdog allows at most 8388 ms
TICK_TIMER = -1                     # soft timer
MAX_CURRENT_A = 32

ADC_PINS = (26, 27, 28)
INPUT_ONLY = ()
RESERVED = (23, 24, 25, 29)         # CYW43 radio on the Pico W
PWM_SLICES = True
