"""The firmware's version: "" in the source tree (the configuration's firmware_version is
reported); a firmware bundle (tools/fwupd/bundle.py) carries its own version here, the
manifest's, which BootNotification then reports."""
VERSION = ""
