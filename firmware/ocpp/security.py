"""Security events and the secrets rule, shared by both OCPP adapters (1.6 security
extension SW16, 2.0.1 A): SecurityEventNotification with guaranteed delivery for the
critical events, TLS handshake failures as events, frames with secrets masked in the
log; each event also goes to the security log on flash (firmware.diag.flashlog)."""
from micropython import const
from firmware import log
from firmware.diag import flashlog

_SEC_KEEP = const(8)
_SECRETS = const(("AuthorizationKey", "BasicAuthPassword", "PRIVATE KEY"))
_TLS_BAD_VERSION = const(-0x6E80)    # MBEDTLS_ERR_SSL_BAD_PROTOCOL_VERSION
_TLS_FATAL_ALERT = const(-0x7780)    # MBEDTLS_ERR_SSL_FATAL_ALERT_MESSAGE (from the server)
# critical security events (SW16 section 8 / 2.0.1 Appendix 1, both spellings)
_CRITICAL = const(("FirmwareUpdated", "SettingSystemTime", "StartupOfTheDevice", "ResetOrReboot",
                   "SecurityLogWasCleared", "MemoryExhaustion", "AttemptedReplayAttacks",
                   "TamperDetectionActivated", "InvalidFirmwareSignature",
                   "InvalidFirmwareSigningCertificate", "InvalidCsmsCertificate",
                   "InvalidCentralSystemCertificate", "InvalidChargingStationCertificate",
                   "InvalidChargePointCertificate", "InvalidTLSVersion", "InvalidTLSCipherSuite"))


def redact(frame):
    """A frame as it may be logged: the payload of one that carries a password or a
    key (1.6 AuthorizationKey, 2.0.1 BasicAuthPassword, a private key) is masked."""
    if isinstance(frame, (bytes, bytearray)):
        try:
            t = frame.decode()
        except UnicodeError:     # a hostile binary frame: logged, then refused by ocppj
            return "<%d bytes, not UTF-8>" % len(frame)
    else:
        t = frame
    for word in _SECRETS:
        if word in t:
            i = t.find("{")
            return (t[:i] if i > 0 else "") + "<redacted: %s>" % word
    return t


def _tls_kind(e, profile):
    """The security event type of a failed connect, or None (not a TLS matter). The
    texts and codes are mbedTLS's, as MicroPython's ssl raises them. A fatal alert from
    the server does not say which (MicroPython does not surface the alert type): with
    no client certificate in play (profile 2) it is the cipher suites; with profile 3
    it may be our certificate as well, so it is only logged."""
    if isinstance(e, ValueError):
        t = str(e)
        if "certificate" in t or "CN" in t or "expired" in t:
            return "InvalidCsmsCertificate"
        return None
    if isinstance(e, OSError) and e.args:
        code = e.args[0]
        if code == _TLS_BAD_VERSION:
            return "InvalidTLSVersion"
        if code == _TLS_FATAL_ALERT and profile == 2:
            return "InvalidTLSCipherSuite"
    return None


class SecurityMixin:
    def security_event(self, kind, info=None):
        """SecurityEventNotification (1.6 security extension, 2.0.1 A04), always logged.
        Critical ones go through the transaction journal: delivered in order, kept
        across reboots, retried (A04.FR.02); the others are sent when online, the last
        _SEC_KEEP kept meanwhile."""
        p = {"type": kind[:50], "timestamp": self.clock.iso()}
        if info:
            p["techInfo"] = info[:255]
        log.warn("security", "%s %s", kind, info or "")
        flashlog.note("%s %s %s" % (p["timestamp"], p["type"], info or ""))   # the security log
        if kind in _CRITICAL:
            self.txq.put("SecurityEventNotification", p)
            return
        q = self._sec_q
        if len(q) >= _SEC_KEEP:
            q.pop(0)
        q.append(p)
        self._wake.set()

    async def _send_security(self):
        q = self._sec_q
        while q:
            await self.send("SecurityEventNotification", q[0])
            q.pop(0)

    def _tls_failed(self, e):
        """A failed TLS handshake as a security event (SW16 / 2.0.1 A00): the CSMS
        certificate (untrusted, expired, wrong host), the protocol version, the cipher
        suites. Raised once until a connection succeeds: a station retrying every few
        seconds must not fill its journal."""
        kind = _tls_kind(getattr(e, "cause", None) or e, self.settings.get("SecurityProfile"))
        if kind is None or kind == self._tls_latched:
            return
        self._tls_latched = kind
        if kind == "InvalidCsmsCertificate" and self.VERSION == "1.6":
            kind = "InvalidCentralSystemCertificate"
        self.security_event(kind, str(e).strip()[:255])

