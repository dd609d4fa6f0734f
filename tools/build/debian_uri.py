#!/usr/bin/env python3
"""Prints the URI of this machine's Debian archive mirror, for the private apt states of
`make mp32`, `mp32f` and `image` (they fetch trixie packages from the same mirror the
machine uses, whatever suite the machine itself runs).

    python3 tools/build/debian_uri.py                # e.g. http://deb.debian.org/debian
    python3 tools/build/debian_uri.py --root /tmp/x  # read <root>/etc/apt/... (tests)

apt is configured one of two ways, and both are read (sources.list(5)):
- deb822 files, /etc/apt/sources.list.d/*.sources (container images have
  debian.sources): stanzas of `Field: value` lines, `URIs:` may list several;
  `Enabled: no` turns a stanza off;
- one-line style, /etc/apt/sources.list (what the Debian 12 installer and debootstrap
  write) and /etc/apt/sources.list.d/*.list:
  `deb [option=value ...] URI suite [component ...]`.

The first entry of the main archive wins, in apt's own order of files (sources.list,
then sources.list.d/ by name), debian.sources before the rest; the security archive
(a debian-security URI, a -security suite) and cdrom: URIs are skipped. CPython only (tools/); exit status 1 and a message on stderr when there is no
usable entry."""
import argparse
import glob
import os
import sys

_SCHEMES = ("http://", "https://", "ftp://", "file:", "mirror+", "tor+")


def _usable(uri, suites):
    if not uri.startswith(_SCHEMES):
        return False
    if "debian-security" in uri:
        return False
    return not suites or any(not s.endswith("-security") for s in suites)


def parse_deb822(text):
    """URIs of the enabled stanzas of a .sources file, in order."""
    out = []
    for stanza in _stanzas(text):
        if stanza.get("enabled", "yes").lower() == "no":
            continue
        if "deb" not in stanza.get("types", "deb").split():
            continue
        suites = stanza.get("suites", "").split()
        for uri in stanza.get("uris", "").split():
            if _usable(uri, suites):
                out.append(uri.rstrip("/"))
    return out


def _stanzas(text):
    cur = {}
    key = None
    for raw in text.splitlines():
        if raw.startswith("#"):
            continue
        line = raw.rstrip()
        if not line:
            if cur:
                yield cur
            cur, key = {}, None
            continue
        if line[0] in " \t" and key is not None:       # continuation line
            cur[key] += " " + line.strip()
            continue
        k, sep, v = line.partition(":")
        if not sep:
            continue
        key = k.strip().lower()
        cur[key] = v.strip()
    if cur:
        yield cur


def parse_one_line(text):
    """URIs of the `deb` lines of a sources.list, in order."""
    out = []
    for raw in text.splitlines():
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        words = line.split()
        if words[0] != "deb":
            continue
        rest = words[1:]
        if rest and rest[0].startswith("["):           # [arch=amd64 signed-by=...]
            while rest and not rest[0].endswith("]"):
                rest = rest[1:]
            rest = rest[1:]
        if len(rest) < 2:
            continue
        uri, suite = rest[0], rest[1]
        if _usable(uri, [suite]):
            out.append(uri.rstrip("/"))
    return out


def files(root="/"):
    """apt's source files in the order they are read, debian.sources first."""
    etc = os.path.join(root, "etc", "apt")
    parts = os.path.join(etc, "sources.list.d")
    out = []
    deb = os.path.join(parts, "debian.sources")
    if os.path.isfile(deb):
        out.append(deb)
    main = os.path.join(etc, "sources.list")
    if os.path.isfile(main):
        out.append(main)
    for f in sorted(glob.glob(os.path.join(parts, "*.sources")) +
                    glob.glob(os.path.join(parts, "*.list"))):
        if f != deb:
            out.append(f)
    return out


def find(root="/"):
    """-> the first usable archive URI, or None."""
    for f in files(root):
        try:
            with open(f, encoding="utf-8", errors="replace") as fh:
                text = fh.read()
        except OSError:
            continue
        uris = parse_deb822(text) if f.endswith(".sources") else parse_one_line(text)
        if uris:
            return uris[0]
    return None


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--root", default="/", help="file system root to read etc/apt from")
    a = ap.parse_args(argv)
    uri = find(a.root)
    if uri is None:
        print("no Debian archive URI in %s (sources.list.d/*.sources or sources.list); "
              "set DEBIAN_URI=http://deb.debian.org/debian" % os.path.join(a.root, "etc/apt"),
              file=sys.stderr)
        return 1
    print(uri)
    return 0


if __name__ == "__main__":
    sys.exit(main())
