"""ESP32-WROOM-32 EVSE board: pins by role, active levels, pilot divider constants.
Data only (read by boards.common.board at boot, and by tests).

Pin choices: the pilot ADC is on ADC1 (GPIO32-39) because Wi-Fi blocks ADC2; inputs
without outputs sit on the input-only GPIO34-39 (no internal pulls: the board has
external ones); no output on a strapping pin (0, 2, 5, 12, 15) that drives a load at
boot, none on the flash pins 6-11, and none on GPIO14 (it toggles during boot).

Pilot read-back divider (ASSUMED circuit; change the constants with the hardware):

    CP (after the +-12 V stage) --R1 100k--+--R2 22.1k-- 3.3 V
                                           +--R3 16.9k-- GND
                                           +-- GPIO36 (ADC1_CH0), ATTN_11DB

    Thevenin at the ADC node: V_adc = G * V_cp + V_off
      G     = (1/R1) / (1/R1 + 1/R2 + 1/R3) = 0.087397
      V_off = 3.3 V * (1/R2) / (1/R1 + 1/R2 + 1/R3) = 1.305022 V
    -12 V -> 0.256 V, 0 V -> 1.305 V, +12 V -> 2.354 V: inside 150-2450 mV, the range
    where the ESP32's eFuse-calibrated read_uv() is linear at 11 dB.
    The HAL reads microvolts (read_uv) and converts without floats:
      pilot_mv = ((uv - PILOT_OFF) * PILOT_MUL) >> 16
      PILOT_OFF = V_off in uV = 1305022;  PILOT_MUL = 65536 / (G * 1000 uV/mV) = 750
      (749.87 rounded: 0.02 % gain error, 3 mV at 12 V)
"""

NAME = "esp32_generic"
PORT = "esp32"

# Per EVSE, by role. None = not wired (the HAL then reports no feedback / no lock / no RCD).
EVSE = (
    {
        "pilot_pwm": 25,        # LEDC PWM, 1 kHz, drives the +-12 V stage
        "pilot_adc": 36,        # ADC1_CH0 (VP), through the divider above
        "relay": 26,            # contactor coil driver (default-off, external pull-down)
        "relay_feedback": 39,   # auxiliary (mirror) contact, input only (VN)
        "lock_a": 27,           # H-bridge input A (lock)
        "lock_b": 13,           # H-bridge input B (unlock)
        "lock_feedback": 35,    # lock switch, input only
        "rcd": 34,              # 6 mA DC residual-current monitor output, input only
        "ntc": 33,              # ADC1_CH5: NTC near the contactor (see NTC below)
        "meter_unit": 1,        # Modbus unit id of this EVSE's meter
    },
)
# Shared by the station.
STATION = {
    "meter_tx": 17,             # UART2 TX -> RS-485 transceiver DI
    "meter_rx": 16,             # UART2 RX <- RS-485 transceiver RO
    "meter_de": 4,              # RS-485 DE/RE (high = transmit)
    "led": 2,                   # on-board LED (DevKitC)
    "button": 0,                # BOOT button, active low (external pull-up on DevKitC)
}
METER = {"uart": 2, "baud": 9600, "profile": "sdm630"}

# Active levels (1 = high) and polarity.
RELAY_FEEDBACK_ACTIVE = 1       # mirror contact closed -> high
LOCK_FEEDBACK_ACTIVE = 1        # locked -> high
RCD_ACTIVE = 0                  # open-collector "fault" output: low = tripped
PILOT_INVERT = False            # non-inverting +-12 V stage: GPIO high -> +12 V
LOCK_PULSE_MS = 500             # H-bridge pulse (300-600 ms motor locks)

# Pilot read-back (see the docstring).
PILOT_R = (100000, 22100, 16900)    # R1 series, R2 to VREF, R3 to GND (ohm)
VREF_MV = 3300
PILOT_OFF = 1305022                 # ADC reading (uV) for 0 V on the pilot
PILOT_MUL = 750                     # pilot mV per reading unit, x 65536
PILOT_UNIT_UV = 1                   # one reading unit in uV (read_uv)
SAMPLE_WINDOW_US = 1100             # burst covers more than one 1 kHz period
SAMPLE_K = 2                        # mean of the top/bottom K readings

# NTC: 10 kOhm at 25 C, B = 3950, from the ADC pin to GND, 10 kOhm pull-up to 3.3 V.
NTC = (10000, 3950, 10000)

WDT_MS = 8000
TICK_TIMER = 0                      # hardware timer group 0, timer 0
MAX_CURRENT_A = 32                  # what the contactor, cable and traces are rated for

# Port rules for the pin-map check (boards.common.pinmap).
ADC_PINS = (32, 33, 34, 35, 36, 37, 38, 39)     # ADC1 only: ADC2 is taken by Wi-Fi
INPUT_ONLY = (34, 35, 36, 37, 38, 39)
RESERVED = (6, 7, 8, 9, 10, 11)                 # SPI flash
PWM_SLICES = False                              # LEDC: any output pin, 8 timers
