"""Recording a section of figures in BENCHMARKS.md (the bench tools run by `make bench`)."""
import os
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def section_text(title, tool, rows, notes=()):
    stamp = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    text = ("## %s\n\nMeasured by `%s` (run by `make bench`) on %s.\n\n"
            % (title, tool, stamp))
    for n in notes:
        text += n + "\n\n"
    text += "| figure | value | how |\n|---|---|---|\n"
    for r in rows:
        text += "| %s | %s | %s |\n" % r
    return text


def append_section(title, tool, rows, notes=()):
    """rows: (figure, value, how) triples, as a table under '## title'; notes: paragraphs
    before it. A section of that title already in the file is replaced where it stands
    (a part of the bench run alone, e.g. `tools/bench/bench.py --only images`, leaves the
    others as they are), else the section is appended."""
    path = os.path.join(ROOT, "BENCHMARKS.md")
    try:
        with open(path) as f:
            old = f.read()
    except OSError:
        old = "# Benchmarks\n"
    new = section_text(title, tool, rows, notes)
    head = "## %s\n" % title
    lines = old.splitlines(keepends=True)
    if head in lines:
        i = lines.index(head)
        j = i + 1
        while j < len(lines) and not lines[j].startswith("## "):
            j += 1
        out = "".join(lines[:i]) + new + ("\n" + "".join(lines[j:]) if j < len(lines) else "")
    else:
        out = old.rstrip("\n") + "\n\n" + new
    with open(path + ".tmp", "w") as f:
        f.write(out)
    os.replace(path + ".tmp", path)


def report(title, tool, rows, append=True, notes=()):
    """Prints rows and, when append, records them as a section (append_section)."""
    for r in rows:
        print("%s: %s (%s)" % r)
    if append:
        append_section(title, tool, rows, notes)
    return rows
