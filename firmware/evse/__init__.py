"""The charging kernel: Evse (one connector's IEC 61851-1 state machine) and Station."""
