"""Configuration keys (OCPP 1.6) and variables (OCPP 2.0.1) in one table, with values
persisted on flash.

One row per setting: the 1.6 key and the 2.0.1 component/variable[/instance] it is known
by, its type, default, bounds and access. Values that differ from the default live in
a JSON file written atomically; a damaged file falls back to defaults and is reported."""
from micropython import const
from collections import namedtuple
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
SRC = const(5)       # sequence of time sources (2.0.1 ClockCtrlr.TimeSource)

MEASURANDS = ("Energy.Active.Import.Register", "Power.Active.Import", "Current.Import",
              "Voltage", "Current.Offered")
_CSL_MAX = const(8)     # also the MaxLength rows' default in _ROWS below
# the TxStartPoint / TxStopPoint members this station can honour (E01): no parking-bay
# sensor (ParkingBayOccupancy), no signed meter data (DataSigned)
TX_POINTS = ("EVConnected", "Authorized", "PowerPathClosed", "EnergyTransfer")
# the time sources it has (ClockCtrlr.TimeSource, ReadWrite as OCTT TC_B_53 wants): the
# CSMS's Heartbeat / BootNotification answers only, no NTP, GPS or real-time clock
TIME_SOURCES = ("Heartbeat",)

# The table, one line per setting (parsed when a row is asked for: a 2.7 KB string costs
# far less heap than 51 tuples of 8 objects each):
#   name|1.6 key|component|variable|instance|type|default|flags|lo|hi
# 1.6 key: "=" the name, "" none; component: a letter, index into COMPONENTS ("" none: no
# 2.0.1 variable); variable: "=" the name; type and flags: the numbers above; booleans 1/0.
COMPONENTS = ("OCPPCommCtrlr", "SampledDataCtrlr", "AlignedDataCtrlr", "TxCtrlr", "AuthCtrlr",
              "AuthCacheCtrlr", "LocalAuthListCtrlr", "DeviceDataCtrlr", "ClockCtrlr",
              "SecurityCtrlr", "ReservationCtrlr", "SmartChargingCtrlr", "ChargingStation")
_ROWS = const(
    "\n"
    "HeartbeatInterval|=|A|=||0|300|0|0|86400\n"
    "WebSocketPingInterval|=|A|=||0|60|0|0|3600\n"
    "MessageTimeout||A|=|Default|0|30|1|1|600\n"
    "OfflineThreshold||A|=||0|60|0|0|86400\n"
    # connection profiles (firmware/security/netprof.py): attempts before the fall-back; 2.0.1 slot order
    "NetworkProfileConnectionAttempts||A|=||0|3|0|1|100\n"
    "NetworkConfigurationPriority||A|=||2|0|4|1|40\n"
    "RetryBackOffWaitMinimum||A|=||0|3|0|0|3600\n"
    "RetryBackOffRandomRange||A|=||0|10|0|0|3600\n"
    "RetryBackOffRepeatTimes||A|=||0|5|0|0|100\n"
    "ResetRetries|=|A|=||0|1|0|0|10\n"
    "TransactionMessageAttempts|=|A|MessageAttempts|TransactionEvent|0|3|0|0|100\n"
    "TransactionMessageRetryInterval|=|A|MessageAttemptInterval|TransactionEvent|0|60|0|0|86400\n"
    "MeterValueSampleInterval|=|B|TxUpdatedInterval||0|60|0|0|86400\n"
    "MeterValuesSampledData|=|B|TxUpdatedMeasurands||3|Energy.Active.Import.Register,Power.Active.Import|0|0|0\n"
    "MeterValuesSampledDataMaxLength|=||||0|8|1|0|0\n"
    "StopTxnSampledData|=|B|TxEndedMeasurands||3|Energy.Active.Import.Register|0|0|0\n"
    "TxStartedMeasurands||B|=||3|Energy.Active.Import.Register|0|0|0\n"
    "TxEndedInterval||B|=||0|0|0|0|86400\n"
    "SampledDataEnabled||B|Enabled||1|1|0|0|0\n"
    "ClockAlignedDataInterval|=|C|Interval||0|0|0|0|86400\n"
    "MeterValuesAlignedData|=|C|Measurands||3|Energy.Active.Import.Register|0|0|0\n"
    "MeterValuesAlignedDataMaxLength|=||||0|8|1|0|0\n"
    "StopTxnAlignedData|=|C|TxEndedMeasurands||3||0|0|0\n"
    "AlignedTxEndedInterval||C|TxEndedInterval||0|0|0|0|86400\n"
    "AlignedDataEnabled||C|Enabled||1|1|0|0|0\n"
    # 2.0.1 J01: true = no clock-aligned values while a transaction runs (TC_J_06)
    "AlignedDataSendDuringIdle||C|SendDuringIdle||1|0|0|0|0\n"
    "ConnectionTimeOut|=|D|EVConnectionTimeOut||0|60|0|1|3600\n"
    "StopTransactionOnEVSideDisconnect|=|D|StopTxOnEVSideDisconnect||1|1|0|0|0\n"
    "StopTransactionOnInvalidId|=|D|StopTxOnInvalidId||1|1|0|0|0\n"
    "MaxEnergyOnInvalidId||D|=||0|0|0|0|1000000000\n"
    "UnlockConnectorOnEVSideDisconnect|=|A|UnlockOnEVSideDisconnect||1|1|0|0|0\n"
    "AuthorizeRemoteTxRequests|=|E|AuthorizeRemoteStart||1|0|0|0|0\n"
    "LocalAuthorizeOffline|=|E|=||1|1|0|0|0\n"
    "LocalPreAuthorize|=|E|=||1|0|0|0|0\n"
    "AllowOfflineTxForUnknownId|=|E|OfflineTxForUnknownIdEnabled||1|0|0|0|0\n"
    "AuthorizationCacheEnabled|=|F|Enabled||1|1|0|0|0\n"
    "TxStartPoint||D|=||4|PowerPathClosed|0|0|0\n"
    "TxStopPoint||D|=||4|EVConnected,Authorized|0|0|0\n"
    "LocalAuthListEnabled|=|G|Enabled||1|1|0|0|0\n"
    # 2.0.1: the maxLimit of LocalAuthListCtrlr.Entries (the ids in the list: variables.py)
    "LocalAuthListMaxLength|=||||0|256|1|0|0\n"
    "SendLocalListMaxLength|=|G|ItemsPerMessage||0|64|1|0|0\n"
    "ConnectorPhaseRotation|=||||2|NotApplicable|0|0|500\n"
    "MinimumStatusDuration|=||||0|0|0|0|3600\n"
    "GetConfigurationMaxKeys|=||||0|64|1|0|0\n"
    "SupportedFeatureProfiles|=||||2|Core,RemoteTrigger,FirmwareManagement,LocalAuthListManagement,Reservation,SmartCharging|1|0|0\n"
    # smart charging (firmware/smart): what a profile may hold, how many are kept; the
    # rate units as 2.0.1 writes them (1.6 GetConfiguration shows Current,Power)
    "ChargeProfileMaxStackLevel|=|L|ProfileStackLevel||0|8|1|0|0\n"
    "ChargingScheduleAllowedChargingRateUnit|=|L|RateUnit||2|A,W|1|0|0\n"
    "ChargingScheduleMaxPeriods|=|L|PeriodsPerSchedule||0|24|1|0|0\n"
    "MaxChargingProfilesInstalled|=||||0|8|1|0|0\n"
    "SmartChargingEnabled||L|Enabled||1|1|1|0|0\n"
    "SmartChargingAvailable||L|Available||1|1|1|0|0\n"
    # K: the change in percent that makes a new limit worth a TransactionEvent
    # (ChargingRateChanged); kept, not yet acted on
    "LimitChangeSignificance||L|=||0|10|0|0|100\n"
    "ItemsPerMessageGetVariables||H|ItemsPerMessage|GetVariables|0|16|1|0|0\n"
    "ItemsPerMessageSetVariables||H|ItemsPerMessage|SetVariables|0|16|1|0|0\n"
    "ItemsPerMessageGetReport||H|ItemsPerMessage|GetReport|0|16|1|0|0\n"
    "TimeSource||I|=||5|Heartbeat|0|0|0\n"
    # what firmware/update and firmware/ocpp/diag fetch and upload with (lib/httpc)
    "FileTransferProtocols|SupportedFileTransferProtocols|A|=||2|HTTP,HTTPS|1|0|0\n"
    # while an install waits for the transactions to end (firmware/update/job.py,
    # 2.0.1 L01.FR.07): false = the idle EVSEs Unavailable meanwhile (1.6 too)
    "AllowNewSessionsPendingFirmwareUpdate||M|=||1|0|0|0|0\n"
    "SecurityProfile|=|J|=||0|0|1|0|3\n"
    "OrganizationName|CpoName|J|=||2||0|0|50\n"
    # in force at the next connection, which follows the change at once (A01, TC_A_09)
    "BasicAuthPassword|AuthorizationKey|J|=||2||2|16|40\n"
    # certificate store (firmware/security/certs): the 2.0.1 SecurityCtrlr.CertificateEntries is the
    # number installed, with this as its maxLimit (firmware/ocpp/v201/variables.py)
    "CertificateStoreMaxLength|=||||0|24|1|0|0\n"
    # certificate signing (firmware/ocpp/sign.py): SignCertificate again when no
    # CertificateSigned came within the wait, doubled each time (2.0.1 A02.FR.17-19)
    "CertSigningWaitMinimum||J|=||0|60|0|1|86400\n"
    "CertSigningRepeatTimes||J|=||0|3|0|0|100\n"
    "AdditionalRootCertificateCheck|=|J|=||1|0|1|0|0\n"
    # reservations (firmware/evse/reserve.py): 1.6 connector 0 = 2.0.1 without evseId
    "ReserveConnectorZeroSupported|=|K|NonEvseSpecific||1|1|1|0|0\n"
    "ReservationEnabled||K|Enabled||1|1|0|0|0\n"
    "ReservationAvailable||K|Available||1|1|1|0|0\n"
)

# Settings computed from the station at read time (read-only): name -> provider key.
DYNAMIC = (
    ("NumberOfConnectors", "NumberOfConnectors", None),
    ("DateTime", None, ("ClockCtrlr", "DateTime", None)),
)


# A parsed row (a tuple with names: no more heap than a plain one, docs/memory.md):
#   name     the setting's name (the key of Settings.get/set)
#   key16    its OCPP 1.6 configuration key, or None
#   var201   Var(component, variable, instance) of OCPP 2.0.1, or None
#   type     INT, BOOL, STR, CSL, TXP or SRC;  default: typed;  flags: RO | WO | REBOOT
#   lo, hi   bounds: of the value (INT), of the length (STR); 0 = none
Row = namedtuple("Row", ("name", "key16", "var201", "type", "default", "flags", "lo", "hi"))
Var = namedtuple("Var", ("component", "variable", "instance"))


def _parse_row(a):
    """The line starting at offset a of _ROWS -> a Row."""
    f = _ROWS[a:_ROWS.find("\n", a)].split("|")
    name, typ = f[0], int(f[5])
    k16 = None if not f[1] else (name if f[1] == "=" else f[1])
    v201 = None
    if f[2]:
        v201 = Var(COMPONENTS[ord(f[2]) - 65], name if f[3] == "=" else f[3], f[4] or None)
    d = f[6]
    d = int(d) if typ == INT else (d == "1" if typ == BOOL else d)
    return Row(name, k16, v201, typ, d, int(f[7]), int(f[8]), int(f[9]))


def rows():
    """Every row, parsed one at a time."""
    a = 1
    n = len(_ROWS)
    while a < n:
        yield _parse_row(a)
        a = _ROWS.find("\n", a) + 1


def row(name):
    if "|" in name or "\n" in name:
        return None
    a = _ROWS.find("\n" + name + "|")
    return None if a < 0 else _parse_row(a + 1)


def render(typ, v):
    if typ == BOOL:
        return "true" if v else "false"
    return str(v)


def parse(row, text):
    """Text from the CSMS -> typed value, or raise ValueError."""
    typ, lo, hi = row.type, row.lo, row.hi
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
    if typ == CSL or typ == TXP or typ == SRC:
        allowed = MEASURANDS if typ == CSL else TX_POINTS if typ == TXP else TIME_SOURCES
        items = [x.strip() for x in text.split(",")] if text.strip() else []
        if len(items) > _CSL_MAX or (typ != CSL and not items):
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
            for name, v in data.items():
                r = row(name) if isinstance(name, str) else None
                if r is not None and _type_ok(r.type, v):
                    self._values[r.name] = v
        return ok

    def row(self, name):
        return row(name)

    def get(self, name):
        if name in self._values:
            return self._values[name]
        if name in self._defaults:
            return self._defaults[name]
        r = self.row(name)
        if r is None:
            raise KeyError(name)
        return r.default

    def text(self, name):
        return render(self.row(name).type, self.get(name))

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
        if row.flags & RO and not force:
            return "Rejected"
        try:
            v = parse(row, text)
        except ValueError:
            return "Rejected"
        self.set(row.name, v)
        return "RebootRequired" if row.flags & REBOOT else "Accepted"


def _type_ok(typ, v):
    if typ == INT:
        return isinstance(v, int) and not isinstance(v, bool)
    if typ == BOOL:
        return isinstance(v, bool)
    return isinstance(v, str)


def _search(needles, match):
    """The first row whose line holds one of needles (tried in order) and match(row)."""
    for needle in needles:
        a = _ROWS.find(needle)
        while a >= 0:
            r = _parse_row(_ROWS.rfind("\n", 0, a + 1) + 1)
            if match(r):
                return r
            a = _ROWS.find(needle, a + 1)
    return None


def find16(key):
    """The row of 1.6 key `key`: its name, or the key field where it differs (CpoName)."""
    return _search(("\n%s|" % key, "|%s|" % key), lambda r: r.key16 == key)


def find201(component, variable, instance=None):
    try:
        c = chr(65 + COMPONENTS.index(component))
    except ValueError:
        return None
    want = (component, variable, instance)
    return _search(("|%s|%s|%s|" % (c, variable, instance or ""), "\n%s|" % variable),
                   lambda r: r.var201 == want)
