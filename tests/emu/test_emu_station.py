"""The station on the emulated Pico (issue 15): the RPI_PICO image with the firmware
frozen, on rp2040js, wired by boards/rp2_pico_w's data. One emulator boot serves the
whole module: boot, a full session A->B->C->B->A, every fault the hardware model can
produce (each in its own session, the station back to Idle in between), then the
watchdog resetting a hung loop. Time limits are in EMULATED time (the chip's), from the
kernel's tables (docs/kernel.md); the figures go to build/emu/figures.json for
BENCHMARKS.md."""
from tests.emu.emuctl import record

ERR_RCD, ERR_WELD, ERR_LOCK, ERR_METER, ERR_DIODE, ERR_OVERTEMP = 1, 2, 4, 8, 16, 32
TICK_MS = 10                   # the safety tick's period (firmware.evse.station)


def ev(s):
    return s["evses"][0]


def errors(s):
    return ev(s).get("errors") or 0


def idle(emu):
    """Unplugged, every fault cleared, back to Idle with no error and the relay open."""
    emu.ok("unplug 1")
    return emu.until(lambda s: ev(s).get("state") == "Idle" and not errors(s)
                     and not ev(s)["relay"] and not ev(s)["contacts"], emu_ms=20000,
                     what="Idle, no error")


def charging(emu):
    emu.ok("plug 1")
    return emu.until(lambda s: ev(s)["relay"] and ev(s)["current_a"] > 0
                     and ev(s).get("state") == "Charging", what="charging")


def test_boot_to_station(emu):
    s = emu.until(lambda s: ev(s).get("state") == "Idle" and s.get("heap_used"),
                  what="the station idle, its status published")
    e = ev(s)
    assert s["boots"] == 1          # one power-on (the flash provisioned before: emu_template)
    assert e["pilot"] == "A" and e["pwm"] == "x1" and not e["relay"] and not e["lock"]
    assert e["ocpp_status"] == "Available" and e["tx_id"] is None
    assert s["tick_n"] > 0          # the safety tick runs (machine.Timer)
    # heap after boot, the firmware frozen (the spike measured about 199 KB free)
    assert s["mem_free"] > 120 * 1024, s["mem_free"]
    record("heap_free_after_boot", s["mem_free"])
    record("heap_used_after_boot", s["heap_used"])
    s = emu.until(lambda s: s["meter_answers"] > 0 and ev(s).get("meter_fail") is False,
                  what="the meter read over UART0")
    b = emu.ok("bursts")
    assert b["bursts"] > 10 and b["reads_min"] > 50, b     # pilot samples per tick


def test_session_a_b_c_b_a(emu):
    emu.ok("draw 1 16")
    closes0 = len(ev(emu.status())["relay_closed_in"])
    emu.ok("plug 1")
    s = emu.until(lambda s: ev(s)["pwm"] == "pwm", what="PWM offered in B")
    assert ev(s)["ev"] == "B" and not ev(s)["relay"]
    assert abs(ev(s)["offered_a"] - 16) < 0.5
    s = emu.until(lambda s: ev(s)["relay"], what="relay closed")
    assert ev(s)["relay_closed_in"][closes0:] == ["C"]     # closed only in C
    low = s["mem_free"]
    # energy from the Modbus meter over the emulated UART, as the kernel read it
    s = emu.until(lambda s: (ev(s).get("meter_wh") or 0) > 1.0, emu_ms=20000,
                  what="energy counted from the meter")
    e = ev(s)
    assert e["tx_id"] is not None and e["ocpp_status"] == "Charging"
    assert e["meter_w"] > 10000                             # 3 x 230 V x 16 A
    assert 0 < e["meter_wh"] <= e["energy_wh"] + 0.5
    for _ in range(5):
        emu.run_ms(300)
        s = emu.status()
        low = min(low, s["mem_free"])
    record("heap_free_session_min", low)
    # the safety tick's own duration per call (emulated us) and its pilot burst
    record("tick_us_mean", round(s["tick_us"] / s["tick_n"], 1))
    record("tick_us_max", s["tick_max_us"])
    b = emu.ok("bursts")
    record("burst_reads_mean", round(b["reads_mean"], 1))
    record("burst_span_us_mean", round(b["span_us_mean"], 1))
    record("burst_span_us_max", round(b["span_us_max"], 1))
    record("emu_speed_vs_real_time", round(s["emu_ms"] / max(1, s["wall_ms"]), 3))
    record("heap_peak_live", s["heap_peak"])
    assert low > 100 * 1024, low
    emu.ok("ev 1 B")
    s = emu.until(lambda s: not ev(s)["relay"], what="relay open on C->B")
    e = ev(s)
    assert e["relay_closed_in"][closes0:] == ["C"]
    assert e["ev_to_open_ms"] < 10 * TICK_MS, e["ev_to_open_ms"]
    record("c_to_b_relay_open_ms", e["ev_to_open_ms"])
    emu.ok("ev 1 A")
    s = emu.until(lambda s: ev(s).get("state") == "Idle" and ev(s)["tx_id"] is None,
                  what="session over")
    assert not ev(s)["relay"]
    emu.ok("ev 1 auto")
    idle(emu)


def test_rcd_through_the_interrupt_with_the_loop_stalled(emu):
    charging(emu)
    stall0 = emu.status().get("loop_stall_max_ms", 0)
    emu.ok("stall 3000")
    emu.run_ms(300)                    # the firmware took the stall: its loop is blocked
    emu.ok("fault 1 rcd between-ticks")  # 4 ms after a burst began: no tick runs now
    s = emu.until(lambda s: ev(s)["fault_to_open_ms"] is not None, emu_ms=2000,
                  what="relay open after the RCD trip")
    # the pin interrupt opened it: the next tick was still about 6 ms away
    assert ev(s)["fault_to_open_ms"] < 1.0, ev(s)["fault_to_open_ms"]
    record("rcd_fault_to_open_ms", ev(s)["fault_to_open_ms"])
    s = emu.until(lambda s: s.get("loop_stall_max_ms", 0) >= 2500 and errors(s) & ERR_RCD,
                  emu_ms=10000, what="the stall over, RCD error raised")
    assert s["loop_stall_max_ms"] > stall0
    emu.ok("clear 1 rcd")
    idle(emu)


def test_diode_missing(emu):
    charging(emu)
    emu.ok("fault 1 diode")
    s = emu.until(lambda s: errors(s) & ERR_DIODE and not ev(s)["relay"]
                  and ev(s)["fault_to_open_ms"] is not None, what="diode fault")
    # two bursts in a row see no -12 V: within a few ticks
    assert ev(s)["fault_to_open_ms"] < 5 * TICK_MS, ev(s)["fault_to_open_ms"]
    record("diode_fault_to_open_ms", ev(s)["fault_to_open_ms"])
    emu.ok("clear 1 diode")
    idle(emu)


def test_overtemperature(emu):
    charging(emu)
    emu.ok("fault 1 overtemp")        # 85 C on the die sensor (ADC4): >= 71 C stops
    s = emu.until(lambda s: errors(s) & ERR_OVERTEMP and not ev(s)["relay"]
                  and ev(s)["fault_to_open_ms"] is not None, emu_ms=15000,
                  what="over-temperature stop")
    # stopping: X1, the EV goes to B and the relay opens then, at the latest after 6 s
    assert ev(s)["fault_to_open_ms"] < 6000 + 2000, ev(s)["fault_to_open_ms"]
    record("overtemp_fault_to_open_ms", ev(s)["fault_to_open_ms"])
    emu.ok("clear 1 overtemp")
    s = emu.until(lambda s: not errors(s) & ERR_OVERTEMP, emu_ms=15000,
                  what="over-temperature cleared")
    idle(emu)


def test_weld(emu):
    charging(emu)
    emu.ok("fault 1 weld")            # the contacts stay closed once closed
    emu.ok("ev 1 B")
    s = emu.until(lambda s: errors(s) & ERR_WELD, emu_ms=10000, what="weld detected")
    e = ev(s)
    assert not e["relay"] and e["contacts"]     # coil off, contacts welded
    assert e["pilot"] == "F" or e.get("state") != "Charging"
    emu.ok("ev 1 auto")
    emu.ok("clear 1 weld")
    idle(emu)


def test_lock_failure(emu):
    closes0 = len(ev(emu.status())["relay_closed_in"])
    emu.ok("fault 1 lock")            # the actuator does not move
    emu.ok("plug 1")
    s = emu.until(lambda s: errors(s) & ERR_LOCK, emu_ms=15000, what="lock failure")
    e = ev(s)
    assert not e["relay"] and not e["lock"]
    assert len(e["relay_closed_in"]) == closes0  # never closed without the lock
    emu.ok("clear 1 lock")
    idle(emu)


def test_meter_loss_and_back(emu):
    charging(emu)
    emu.ok("fault 1 meter")           # the meter answers nothing
    s = emu.until(lambda s: ev(s).get("meter_fail") and errors(s) & ERR_METER
                  and not ev(s)["relay"], emu_ms=20000, what="meter lost: paused")
    wh = ev(s)["meter_wh"]
    emu.ok("clear 1 meter")
    s = emu.until(lambda s: not ev(s).get("meter_fail") and ev(s)["relay"]
                  and ev(s)["meter_wh"] > wh, emu_ms=20000, what="meter back: charging again")
    idle(emu)


def test_watchdog_resets_a_hung_loop(emu):
    """rp2040js models the RP2040 watchdog: a loop blocked past wdt_ms (8 s) is reset."""
    s = emu.status()
    boots, resets = s["boots"], s["watchdog_resets"]
    emu.ok("stall 20000")
    s = emu.until(lambda s: s["boots"] > boots, emu_ms=15000, what="watchdog reset")
    assert s["watchdog_resets"] == resets + 1 and s["boot_reason"] == "watchdog"
    emu.until(lambda s: ev(s).get("state") == "Idle", emu_ms=10000, what="station back")
