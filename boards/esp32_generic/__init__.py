"""ESP32-WROOM-32 (ESP32 DevKitC class) EVSE board: pins.py (pin map by role, divider
constants), hal.py (the esp32 port differences), main.py (entry point), manifest.py."""
