"""Diagnostics: the logs on flash (flashlog: written all the time; reader: read for
an upload). The OCPP side (GetDiagnostics, GetLog) is firmware/ocpp/diag.py."""
