"""The simulated board for the unix port (docs/architecture.md, Board HAL).

Modules: flash (littlefs image in a file, power-cut injection), world (EV, pilot wiring,
relay, lock, RCD, meter physics, faults; its own thread), board (SimBoard: the HAL as
firmware sees it, the per-EVSE HAL objects, safety-tick thread, the control -> firmware
input ring), control (the TCP control channel), commands (its rarer commands)."""


class Reset(BaseException):
    """Raised by SimBoard.reset(): the entry point catches it and reboots the firmware
    in-process while the world keeps running. A BaseException on purpose: MicroPython's
    asyncio lets it out of asyncio.run() from any task at once, as a hardware reset
    would, without running the firmware's cleanup (the entry point calls
    SimBoard.reboot() to put the outputs in their power-on state)."""

    def __init__(self, reason="reset"):
        super().__init__(reason)
        self.reason = reason
