"""Configuration keys (OCPP 1.6) and variables (OCPP 2.0.1) in one table, with values
persisted on flash.

One row per setting: the 1.6 key and the 2.0.1 component/variable[/instance] it is known
by, its type, default, bounds and access. Values that differ from the default live in
a JSON file written atomically; a damaged file falls back to defaults and is reported."""
from micropython import const
import store

RO = const(1)        # read-only for the CSMS
WO = const(2)        # write-only (passwords): never returned
REBOOT = const(4)    # a change takes effect after a reboot

# types
INT = const(0)
BOOL = const(1)
STR = const(2)
CSL = const(3)       # comma-separated list of measurands
TXP = const(4)       # comma-separated list of transaction start/stop points (2.0.1 E01)

MEASURANDS = ("Energy.Active.Import.Register", "Power.Active.Import", "Current.Import",
              "Voltage", "Current.Offered")
_CSL_MAX = const(8)
TX_POINTS = ("ParkingBayOccupancy", "EVConnected", "Authorized", "DataSigned",
             "PowerPathClosed", "EnergyTransfer")

# name, 1.6 key, (2.0.1 component, variable, instance), type, default, flags, lo, hi
TABLE = (
    ("HeartbeatInterval", "HeartbeatInterval", ("OCPPCommCtrlr", "HeartbeatInterval", None), INT, 300, 0, 0, 86400),
    ("WebSocketPingInterval", "WebSocketPingInterval", ("OCPPCommCtrlr", "WebSocketPingInterval", None), INT, 60, 0, 0, 3600),
    ("MessageTimeout", None, ("OCPPCommCtrlr", "MessageTimeout", "Default"), INT, 30, 0, 1, 600),
    ("OfflineThreshold", None, ("OCPPCommCtrlr", "OfflineThreshold", None), INT, 60, 0, 0, 86400),
    # connection profiles (firmware/netprof.py): attempts before the fall-back; 2.0.1 slot order
    ("NetworkProfileConnectionAttempts", None, ("OCPPCommCtrlr", "NetworkProfileConnectionAttempts", None), INT, 3, 0, 1, 100),
    ("NetworkConfigurationPriority", None, ("OCPPCommCtrlr", "NetworkConfigurationPriority", None), STR, "0", REBOOT, 1, 40),
    ("RetryBackOffWaitMinimum", None, ("OCPPCommCtrlr", "RetryBackOffWaitMinimum", None), INT, 3, 0, 0, 3600),
    ("RetryBackOffRandomRange", None, ("OCPPCommCtrlr", "RetryBackOffRandomRange", None), INT, 10, 0, 0, 3600),
    ("RetryBackOffRepeatTimes", None, ("OCPPCommCtrlr", "RetryBackOffRepeatTimes", None), INT, 5, 0, 0, 100),
    ("ResetRetries", "ResetRetries", ("OCPPCommCtrlr", "ResetRetries", None), INT, 1, 0, 0, 10),
    ("TransactionMessageAttempts", "TransactionMessageAttempts", ("OCPPCommCtrlr", "MessageAttempts", "TransactionEvent"), INT, 3, 0, 0, 100),
    ("TransactionMessageRetryInterval", "TransactionMessageRetryInterval", ("OCPPCommCtrlr", "MessageAttemptInterval", "TransactionEvent"), INT, 60, 0, 0, 86400),
    ("MeterValueSampleInterval", "MeterValueSampleInterval", ("SampledDataCtrlr", "TxUpdatedInterval", None), INT, 60, 0, 0, 86400),
    ("MeterValuesSampledData", "MeterValuesSampledData", ("SampledDataCtrlr", "TxUpdatedMeasurands", None), CSL, "Energy.Active.Import.Register,Power.Active.Import", 0, 0, 0),
    ("MeterValuesSampledDataMaxLength", "MeterValuesSampledDataMaxLength", None, INT, _CSL_MAX, RO, 0, 0),
    ("StopTxnSampledData", "StopTxnSampledData", ("SampledDataCtrlr", "TxEndedMeasurands", None), CSL, "Energy.Active.Import.Register", 0, 0, 0),
    ("SampledDataEnabled", None, ("SampledDataCtrlr", "Enabled", None), BOOL, True, 0, 0, 0),
    ("ClockAlignedDataInterval", "ClockAlignedDataInterval", ("AlignedDataCtrlr", "Interval", None), INT, 0, 0, 0, 86400),
    ("MeterValuesAlignedData", "MeterValuesAlignedData", ("AlignedDataCtrlr", "Measurands", None), CSL, "Energy.Active.Import.Register", 0, 0, 0),
    ("MeterValuesAlignedDataMaxLength", "MeterValuesAlignedDataMaxLength", None, INT, _CSL_MAX, RO, 0, 0),
    ("StopTxnAlignedData", "StopTxnAlignedData", ("AlignedDataCtrlr", "TxEndedMeasurands", None), CSL, "", 0, 0, 0),
    ("AlignedDataEnabled", None, ("AlignedDataCtrlr", "Enabled", None), BOOL, True, 0, 0, 0),
    ("ConnectionTimeOut", "ConnectionTimeOut", ("TxCtrlr", "EVConnectionTimeOut", None), INT, 60, 0, 1, 3600),
    ("StopTransactionOnEVSideDisconnect", "StopTransactionOnEVSideDisconnect", ("TxCtrlr", "StopTxOnEVSideDisconnect", None), BOOL, True, 0, 0, 0),
    ("StopTransactionOnInvalidId", "StopTransactionOnInvalidId", ("TxCtrlr", "StopTxOnInvalidId", None), BOOL, True, 0, 0, 0),
    ("UnlockConnectorOnEVSideDisconnect", "UnlockConnectorOnEVSideDisconnect", None, BOOL, True, 0, 0, 0),
    ("AuthorizeRemoteTxRequests", "AuthorizeRemoteTxRequests", ("AuthCtrlr", "AuthorizeRemoteStart", None), BOOL, False, 0, 0, 0),
    ("LocalAuthorizeOffline", "LocalAuthorizeOffline", ("AuthCtrlr", "LocalAuthorizeOffline", None), BOOL, True, 0, 0, 0),
    ("LocalPreAuthorize", "LocalPreAuthorize", ("AuthCtrlr", "LocalPreAuthorize", None), BOOL, False, 0, 0, 0),
    ("AllowOfflineTxForUnknownId", "AllowOfflineTxForUnknownId", ("AuthCtrlr", "OfflineTxForUnknownIdEnabled", None), BOOL, False, 0, 0, 0),
    ("AuthorizationCacheEnabled", "AuthorizationCacheEnabled", ("AuthCacheCtrlr", "Enabled", None), BOOL, True, 0, 0, 0),
    ("TxStartPoint", None, ("TxCtrlr", "TxStartPoint", None), TXP, "PowerPathClosed", 0, 0, 0),
    ("TxStopPoint", None, ("TxCtrlr", "TxStopPoint", None), TXP, "EVConnected,Authorized", 0, 0, 0),
    ("LocalAuthListEnabled", "LocalAuthListEnabled", ("LocalAuthListCtrlr", "Enabled", None), BOOL, True, 0, 0, 0),
    ("LocalAuthListMaxLength", "LocalAuthListMaxLength", ("LocalAuthListCtrlr", "Entries", None), INT, 256, RO, 0, 0),
    ("SendLocalListMaxLength", "SendLocalListMaxLength", ("LocalAuthListCtrlr", "ItemsPerMessage", None), INT, 64, RO, 0, 0),
    ("ConnectorPhaseRotation", "ConnectorPhaseRotation", None, STR, "NotApplicable", 0, 0, 500),
    ("MinimumStatusDuration", "MinimumStatusDuration", None, INT, 0, 0, 0, 3600),
    ("GetConfigurationMaxKeys", "GetConfigurationMaxKeys", None, INT, 64, RO, 0, 0),
    ("SupportedFeatureProfiles", "SupportedFeatureProfiles", None, STR, "Core,RemoteTrigger,LocalAuthListManagement", RO, 0, 0),
    ("ItemsPerMessageGetVariables", None, ("DeviceDataCtrlr", "ItemsPerMessage", "GetVariables"), INT, 16, RO, 0, 0),
    ("ItemsPerMessageSetVariables", None, ("DeviceDataCtrlr", "ItemsPerMessage", "SetVariables"), INT, 16, RO, 0, 0),
    ("ItemsPerMessageGetReport", None, ("DeviceDataCtrlr", "ItemsPerMessage", "GetReport"), INT, 16, RO, 0, 0),
    ("TimeSource", None, ("ClockCtrlr", "TimeSource", None), STR, "Heartbeat", RO, 0, 0),
    ("SecurityProfile", "SecurityProfile", ("SecurityCtrlr", "SecurityProfile", None), INT, 0, RO, 0, 3),
    ("OrganizationName", "CpoName", ("SecurityCtrlr", "OrganizationName", None), STR, "", 0, 0, 50),
    ("BasicAuthPassword", "AuthorizationKey", ("SecurityCtrlr", "BasicAuthPassword", None), STR, "", WO | REBOOT, 16, 40),
    # certificate store (firmware/certs): the 2.0.1 SecurityCtrlr.CertificateEntries is the
    # number installed, with this as its maxLimit (firmware/ocpp/v201/certs.py)
    ("CertificateStoreMaxLength", "CertificateStoreMaxLength", None, INT, 24, RO, 0, 0),
    # certificate signing (firmware/ocpp/sign.py): SignCertificate again when no
    # CertificateSigned came within the wait, doubled each time (2.0.1 A02.FR.17-19)
    ("CertSigningWaitMinimum", None, ("SecurityCtrlr", "CertSigningWaitMinimum", None), INT, 60, 0, 1, 86400),
    ("CertSigningRepeatTimes", None, ("SecurityCtrlr", "CertSigningRepeatTimes", None), INT, 3, 0, 0, 100),
    ("AdditionalRootCertificateCheck", "AdditionalRootCertificateCheck", ("SecurityCtrlr", "AdditionalRootCertificateCheck", None), BOOL, False, RO, 0, 0),
)

# Settings computed from the station at read time (read-only): name -> provider key.
DYNAMIC = (
    ("NumberOfConnectors", "NumberOfConnectors", None),
    ("DateTime", None, ("ClockCtrlr", "DateTime", None)),
)


def render(typ, v):
    if typ == BOOL:
        return "true" if v else "false"
    return str(v)


def parse(row, text):
    """Text from the CSMS -> typed value, or raise ValueError."""
    typ, lo, hi = row[3], row[6], row[7]
    if not isinstance(text, str):
        raise ValueError("not a string")
    if typ == INT:
        t = text.strip()
        if not t or not (t.isdigit() or (t[0] == "-" and t[1:].isdigit())):
            raise ValueError("not an integer")
        v = int(t)
        if v < lo or (hi and v > hi):
            raise ValueError("out of range")
        return v
    if typ == BOOL:
        t = text.strip().lower()
        if t not in ("true", "false"):
            raise ValueError("not a boolean")
        return t == "true"
    if typ == CSL or typ == TXP:
        allowed = MEASURANDS if typ == CSL else TX_POINTS
        items = [x.strip() for x in text.split(",")] if text.strip() else []
        if len(items) > _CSL_MAX or (typ == TXP and not items):
            raise ValueError("bad list length")
        for x in items:
            if x not in allowed:
                raise ValueError("unsupported value " + x)
        return ",".join(items)
    if (lo and len(text) < lo) or (hi and len(text) > hi):
        raise ValueError("bad length")
    return text


class Settings:
    def __init__(self, path, defaults=None):
        self.path = path
        self._values = {}
        self._defaults = defaults or {}     # board/config-specific defaults by name
        self.damaged = False
        self.listeners = []

    def load(self):
        """Returns True when the stored file was usable (absent counts as usable)."""
        data, ok = store.load_json(self.path, {})
        self.damaged = not ok
        self._values = {}
        if isinstance(data, dict):
            for row in TABLE:
                if row[0] in data and _type_ok(row[3], data[row[0]]):
                    self._values[row[0]] = data[row[0]]
        return ok

    def row(self, name):
        for r in TABLE:
            if r[0] == name:
                return r
        return None

    def get(self, name):
        if name in self._values:
            return self._values[name]
        if name in self._defaults:
            return self._defaults[name]
        r = self.row(name)
        if r is None:
            raise KeyError(name)
        return r[4]

    def text(self, name):
        return render(self.row(name)[3], self.get(name))

    def measurands(self, name):
        v = self.get(name)
        return v.split(",") if v else []

    def set(self, name, value, persist=True):
        """Set a typed value (already validated). Persists and notifies listeners. A
        failed flash write keeps the value in RAM (in force until a reboot), logged;
        the next successful save writes it: never an exception into the caller's task."""
        self._values[name] = value
        if persist:
            self.save()
        for fn in self.listeners:
            fn(name)

    def save(self):
        """True when written; False (logged) when the flash refused it."""
        try:
            store.save_json(self.path, self._values)
            return True
        except OSError as e:
            from firmware import log
            log.error("settings", "not saved (%r): kept in RAM until the next save", e)
            return False

    def set_text(self, row, text, force=False):
        """Set from CSMS text: returns "Accepted", "RebootRequired" or "Rejected".
        Read-only rows are Rejected unless force (local provisioning)."""
        if row[5] & RO and not force:
            return "Rejected"
        try:
            v = parse(row, text)
        except ValueError:
            return "Rejected"
        self.set(row[0], v)
        return "RebootRequired" if row[5] & REBOOT else "Accepted"


def _type_ok(typ, v):
    if typ == INT:
        return isinstance(v, int) and not isinstance(v, bool)
    if typ == BOOL:
        return isinstance(v, bool)
    return isinstance(v, str)


def find16(key):
    for r in TABLE:
        if r[1] == key:
            return r
    return None


def find201(component, variable, instance=None):
    for r in TABLE:
        c = r[2]
        if c and c[0] == component and c[1] == variable and c[2] == instance:
            return r
    return None
