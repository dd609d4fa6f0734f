"""Kernel -> OCPP mappings both versions share."""
from firmware.evse import evse as K

# Kernel error bit -> OCPP 1.6 ChargePointErrorCode, most severe first.
ERROR_CODES = (
    (K.ERR_RCD, "GroundFailure"),
    (K.ERR_WELD, "PowerSwitchFailure"),
    (K.ERR_RELAY, "PowerSwitchFailure"),
    (K.ERR_OVERCURRENT, "OverCurrentFailure"),
    (K.ERR_OVERTEMP, "HighTemperature"),
    (K.ERR_LOCK, "ConnectorLockFailure"),
    (K.ERR_DIODE, "EVCommunicationError"),
    (K.ERR_PILOT, "EVCommunicationError"),
    (K.ERR_VENT, "OtherError"),
    (K.ERR_METER, "PowerMeterFailure"),
)


def error_code(bits):
    for bit, code in ERROR_CODES:
        if bits & bit:
            return code
    return "NoError"


def faulted(e):
    """Faulted: an error that blocks charging. A lost meter only pauses it (the
    connector is SuspendedEVSE with PowerMeterFailure), so it never counts here."""
    return bool(e.errors & e.blocking & ~K.ERR_METER)
