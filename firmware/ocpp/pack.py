"""Shrinks queued OCPP messages on flash: the long keys and enum values every
transaction message repeats become two-byte tokens (\\x01 + a letter). JSON text never
holds a raw control character (json.dumps escapes them), so the mapping is lossless.
A 2.0.1 TransactionEvent shrinks to about half, which doubles the sessions a journal
holds offline."""
from micropython import const

_WORDS = const((
    b'"transactionInfo"', b'"transactionId"', b'"chargingState"', b'"triggerReason"',
    b'"eventType"', b'"timestamp"', b'"seqNo"', b'"meterValue"', b'"sampledValue"',
    b'"measurand"', b'"unitOfMeasure"', b'"context"', b'"value"', b'"phase"',
    b'"connectorId"', b'"evse"', b'"idToken"', b'"type"', b'"offline"', b'"stoppedReason"',
    b'"Energy.Active.Import.Register"', b'"Power.Active.Import"', b'"Current.Import"',
    b'"Voltage"', b'"Transaction.Begin"', b'"Transaction.End"', b'"Sample.Periodic"',
    b'"Sample.Clock"', b'"Started"', b'"Updated"', b'"Ended"', b'"Charging"',
    b'"SuspendedEV"', b'"SuspendedEVSE"', b'"EVConnected"', b'"ChargingStateChanged"',
    b'"MeterValuePeriodic"', b'"EVCommunicationLost"', b'"Authorized"', b'"unit"',
    b'"TransactionEvent"', b'"StartTransaction"', b'"StopTransaction"', b'"MeterValues"',
    b'"meterStart"', b'"meterStop"', b'"idTag"', b'"reason"', b'"transactionData"',
    b'"EVDisconnected"', b'"remoteStartId"', b'"ISO14443"',
))


def pack(b):
    for i in range(len(_WORDS)):
        b = b.replace(_WORDS[i], b"\x01" + bytes((65 + i,)))
    return b


def unpack(b):
    if b"\x01" not in b:
        return b
    for i in range(len(_WORDS)):
        b = b.replace(b"\x01" + bytes((65 + i,)), _WORDS[i])
    return b
