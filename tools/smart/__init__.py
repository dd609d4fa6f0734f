"""Host tools of smart charging (issue 16): bench.py, the figures `make bench` records."""
