"""What the real boards share (esp32_generic, rp2_pico_w): the Board HAL of
docs/architecture.md over machine.Pin/PWM/ADC/UART/Timer/WDT. Each board folder holds
only data (pins.py, board.json, manifest.py) and its port differences (hal.py).

    pinmap    pin map checks: roles present, no pin twice, port rules, rp2 PWM slices
    pilot     control pilot: PWM out, burst sampling with top/bottom-k levels
    io        relay (+ feedback), connector lock (H-bridge pulse), RCD input
    watchdog  machine.WDT fed only while the safety tick and the asyncio loop progress
    meter     the meters on the board's UART (modbusmeter imported lazily)
    modbusmeter  ModbusMeter: the HAL meter interface over lib/modbus (was firmware/meter.py)
    board     MachineBoard: the HAL object the firmware gets, the safety-tick timer
    wifi      station link with reconnect and back-off, the setup access point
    sntp      SNTP client, the RTC, time_ok and the TLS guard (no TLS before the clock)
    net       bring-up from the configuration: Wifi + TimeSync, board.ready()
    ui        status LED patterns and the push button (short: stop, long: setup AP)
    setup     the setup page served on the setup access point (writes config.json)
    boot      the entry point: config, HAL, network, firmware, reset; safe mode on bad
              config (with the setup access point)
"""
