"""Firmware update host tools: bundle.py builds and signs an update (make bundle)."""
