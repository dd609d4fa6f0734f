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


def report(title, tool, rows, append=True):
    """Prints rows and, when append, records them as a section (append_section)."""
    for r in rows:
        print("%s: %s (%s)" % r)
    if append:
        append_section(title, tool, rows)
    return rows
