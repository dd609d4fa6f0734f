"""Reply markers, errors and records shared by the CSMS modules.

`CallErrorReply` and `NO_REPLY` are what a test hands to `set_reply`; `CallError`,
`SchemaViolation` and `Violation` are what the CSMS hands back.
"""
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Optional


def utc_now():
    """Now as OCPP wants it: UTC, ISO 8601, milliseconds, `Z` (2.0.1 P2 §2.1.4)."""
    t = datetime.now(timezone.utc)
    return t.strftime("%Y-%m-%dT%H:%M:%S.") + "%03dZ" % (t.microsecond // 1000)


class _NoReply:
    """Never answer the CALL (the station has to time out)."""

    def __repr__(self):
        return "NO_REPLY"

    def __copy__(self):
        return self

    def __deepcopy__(self, memo):
        return self


NO_REPLY = _NoReply()


@dataclass(frozen=True)
class CallErrorReply:
    """Answer the CALL with `[4, id, code, description, details]`."""

    code: str
    description: str = ""
    details: dict = field(default_factory=dict)


class CallError(Exception):
    """The station answered our CALL with a CALLERROR."""

    def __init__(self, code, description="", details=None):
        super().__init__("%s: %s" % (code, description))
        self.code = code
        self.description = description
        self.details = details if details is not None else {}


class SchemaViolation(Exception):
    """The station's CALLRESULT to our CALL failed the JSON schema (also in violations)."""

    def __init__(self, violation):
        super().__init__("%s: %s" % (violation.code, violation.description))
        self.violation = violation
        self.code = violation.code
        self.description = violation.description
        self.payload = violation.payload


@dataclass(frozen=True)
class Violation:
    """A station message that broke the rules.

    kind: "call" (a CALL failing its request schema), "result" (a CALLRESULT to our
    CALL failing its response schema) or "frame" (not an OCPP-J message at all).
    code/description: the ocpp package's error for it (what a CALLERROR would carry).
    payload: the payload dict, or the raw text for kind "frame".
    """

    kind: str
    action: Optional[str]
    code: str
    description: str
    payload: Any
