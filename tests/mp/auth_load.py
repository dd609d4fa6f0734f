"""A 256-entry local list loads in a small heap from precompiled code, as on a board
(tests/unit/test_auth.py): run with MICROPYPATH holding only the .mpy files of
firmware/auth, firmware/log and store, after auth_store.py's `make` filled DIR.

argv: DIR CASE_INSENSITIVE (1 or 0)"""
import sys

from firmware.auth.store import AuthStore
from out import report

b = AuthStore(sys.argv[1], case_insensitive=sys.argv[2] == "1")
b.load()
report({"n": [b.list_count, b.damaged]})
