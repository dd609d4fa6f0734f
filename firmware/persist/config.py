"""The station's configuration file on flash (provisioning: CSMS URL, identity, OCPP
version, security profile, EVSEs, currents). Validated on load: a bad file gives clear
messages and the station keeps running on defaults where it safely can, never a boot
loop."""
import store

DEFAULTS = {
    "csms": "ws://127.0.0.1:9000/ocpp",
    "id": "MicroEVSE-1",
    "ocpp": "1.6",
    "profile": 0,
    "password": "",
    "evses": 1,
    "max_current": 32,
    "voltage": 230,
    "phases": 3,
    "vendor": "MicroEVSE",
    "model": "MicroEVSE",
    "serial": "",
    "firmware_version": "0.1.0",
    "fw_trial_s": 600,
    "auth": "free",
    "ventilation": False,
    "meter_loss_pause": True,
    "max_message": 8192,
    "ca": "",
    "board": "sim",
    "wifi_ssid": "",
    "wifi_password": "",
    "ntp": "pool.ntp.org",
    "setup_password": "",
}
# key -> (type, check) ; check returns an error string or None


def _url(v):
    if not (v.startswith("ws://") or v.startswith("wss://")):
        return "must start with ws:// or wss://"
    return None


def _ident(v):
    if not 1 <= len(v) <= 48 or ":" in v:
        return "1-48 characters, no ':'"
    return None


def _wpa_key(v):
    # WPA2-PSK: a passphrase of 8-63 characters or 64 hex digits; "" = open / derived
    if v == "" or 8 <= len(v) <= 63:
        return None
    if len(v) == 64 and all(c in "0123456789abcdefABCDEF" for c in v):
        return None
    return "empty, 8-63 characters or 64 hex digits"


_RULES = {
    "csms": (str, _url),
    "id": (str, _ident),
    "ocpp": (str, lambda v: None if v in ("1.6", "2.0.1") else "1.6 or 2.0.1"),
    "profile": (int, lambda v: None if 0 <= v <= 3 else "0-3"),
    "password": (str, lambda v: None if len(v) <= 40 else "at most 40 characters"),
    "evses": (int, lambda v: None if 1 <= v <= 4 else "1-4"),
    "max_current": (int, lambda v: None if 6 <= v <= 80 else "6-80 A"),
    # the supply: nominal phase-to-neutral voltage and phases wired (W -> A of charging
    # profiles, the device model's SupplyPhases and Power maxLimit)
    "voltage": (int, lambda v: None if 100 <= v <= 277 else "100-277 V"),
    "phases": (int, lambda v: None if v in (1, 3) else "1 or 3"),
    "vendor": (str, lambda v: None if 1 <= len(v) <= 20 else "1-20 characters"),
    "model": (str, lambda v: None if 1 <= len(v) <= 20 else "1-20 characters"),
    "serial": (str, lambda v: None if len(v) <= 25 else "at most 25 characters"),
    "firmware_version": (str, lambda v: None if len(v) <= 50 else "at most 50 characters"),
    # a new firmware not Accepted by the CSMS within this time goes back (firmware.update.boot)
    "fw_trial_s": (int, lambda v: None if 10 <= v <= 86400 else "10-86400 s"),
    "auth": (str, lambda v: None if v in ("free", "ocpp") else "free or ocpp"),
    "ventilation": (bool, None),
    "meter_loss_pause": (bool, None),
    "max_message": (int, lambda v: None if 1024 <= v <= 65536 else "1024-65536"),
    "ca": (str, None),
    "board": (str, None),
    # Wi-Fi (boards): no SSID = no network, the setup access point runs instead
    "wifi_ssid": (str, lambda v: None if len(v.encode()) <= 32 else "at most 32 bytes"),
    "wifi_password": (str, _wpa_key),
    "ntp": (str, lambda v: None if 1 <= len(v) <= 64 and " " not in v else "a host name or address"),
    "setup_password": (str, _wpa_key),
}


def validate(data):
    """-> (config dict with defaults filled in, list of error strings). Bad values are
    replaced by defaults; unknown keys are reported."""
    cfg = dict(DEFAULTS)
    errors = []
    if not isinstance(data, dict):
        return cfg, ["configuration is not a JSON object"]
    for k, v in data.items():
        rule = _RULES.get(k)
        if rule is None:
            errors.append("%s: unknown key" % k)
            continue
        typ, check = rule
        if typ is int and (isinstance(v, bool) or not isinstance(v, int)) or \
                typ is not int and not isinstance(v, typ):
            errors.append("%s: wrong type %s" % (k, type(v).__name__))
            continue
        msg = check(v) if check else None
        if msg:
            errors.append("%s: %s" % (k, msg))
            continue
        cfg[k] = v
    if cfg["profile"] >= 2 and not cfg["csms"].startswith("wss://"):
        errors.append("profile %d needs a wss:// URL" % cfg["profile"])
    return cfg, errors


def load(path):
    """-> (config, errors)."""
    data, ok = store.load_json(path, None)
    if data is None:
        return dict(DEFAULTS), ([] if ok else ["%s is damaged" % path])
    return validate(data)


def save(path, cfg):
    store.save_json(path, cfg)
