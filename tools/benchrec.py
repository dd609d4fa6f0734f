"""Appending a section of figures to BENCHMARKS.md (the bench tools run by `make bench`)."""
import os
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def append_section(title, tool, rows):
    """rows: (figure, value, how) triples, as a table under '## title'."""
    stamp = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    with open(os.path.join(ROOT, "BENCHMARKS.md"), "a") as f:
        f.write("\n## %s\n\nMeasured by `%s` (run by `make bench`) on %s.\n\n"
                "| figure | value | how |\n|---|---|---|\n" % (title, tool, stamp))
        for r in rows:
            f.write("| %s | %s | %s |\n" % r)
