"""Raspberry Pi Pico W (RP2040) EVSE board: pins.py (pin map by role, divider constants),
hal.py (the rp2 port differences), main.py (entry point), manifest.py."""
