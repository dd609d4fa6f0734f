"""OCPP-J RPC exceptions and the CALLERROR code spelled per protocol version.

Error codes: OCPP-J 1.6 Table 7 (its misspellings "FormationViolation" and
"OccurenceConstraintViolation" are the wire values, J16 errata 5.1/5.2) and
OCPP 2.0.1 Part 4 Table 8."""
from micropython import const


class Error(Exception):
    """Base of the ocppj exceptions."""


class CallError(Error):
    """A CALLERROR: raised by a handler to answer with it, or by Rpc.call() when the CSMS
    answered one (or its CALLRESULT failed the schema)."""

    def __init__(self, code, description="", details=None):
        super().__init__(code, description)
        self.code = code
        self.description = description
        self.details = details


class Timeout(Error):
    """No answer to our CALL in time."""


class Disconnected(Error):
    """No link, or the link was lost while our CALL waited."""


# Index into the tables below: the payload-check kinds of check.py come first.
TYPE = const(0)
OCCUR = const(1)
FORMAT = const(2)
PROP = const(3)
FRAME = const(4)          # malformed JSON, not a list, unreadable message id
MSGTYPE = const(5)        # unknown MessageTypeId (None: ignore, 1.6 J16 4.1.3)

_V16 = const(("TypeConstraintViolation", "OccurenceConstraintViolation", "FormationViolation",
              "PropertyConstraintViolation", "FormationViolation", None))
_V201 = const(("TypeConstraintViolation", "OccurrenceConstraintViolation", "FormatViolation",
               "PropertyConstraintViolation", "RpcFrameworkError", "MessageTypeNotSupported"))


def codes(version):
    """The code table for "1.6" or "2.0.1"; raises ValueError for anything else."""
    if version == "1.6":
        return _V16
    if version == "2.0.1":
        return _V201
    raise ValueError("OCPP version")
