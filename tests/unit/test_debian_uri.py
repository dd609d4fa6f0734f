"""tools/build/debian_uri.py: the Debian mirror for the private apt states of make mp32,
mp32f and image, from either way apt is configured (issue 15: an installer-made Debian 12
has only the one-line /etc/apt/sources.list)."""
import os
import subprocess
import sys

from tools.build import debian_uri

SCRIPT = os.path.join(os.path.dirname(debian_uri.__file__), "debian_uri.py")

DEB822 = """Types: deb
# http://snapshot.debian.org/archive/debian/20250520T000000Z
URIs: http://deb.debian.org/debian
Suites: bookworm bookworm-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: http://deb.debian.org/debian-security
Suites: bookworm-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
"""

# what debootstrap and the Debian 12 installer write (security first, as the installer does)
ONE_LINE = """#deb cdrom:[Debian GNU/Linux 12.5.0 _Bookworm_]/ bookworm main

deb http://security.debian.org/debian-security bookworm-security main
deb [arch=amd64 signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://ftp.de.debian.org/debian/ bookworm main
deb-src http://ftp.de.debian.org/debian/ bookworm main
"""


def _etc(tmp_path, files):
    for rel, text in files.items():
        p = tmp_path / "etc" / "apt" / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(text)
    return str(tmp_path)


def _run(root):
    return subprocess.run([sys.executable, SCRIPT, "--root", root],
                          capture_output=True, text=True)


def test_deb822_debian_sources(tmp_path):
    root = _etc(tmp_path, {"sources.list.d/debian.sources": DEB822})
    p = _run(root)
    assert p.returncode == 0 and p.stdout == "http://deb.debian.org/debian\n"


def test_one_line_sources_list(tmp_path):
    root = _etc(tmp_path, {"sources.list": ONE_LINE})
    p = _run(root)
    assert p.returncode == 0 and p.stdout == "http://ftp.de.debian.org/debian\n"


def test_minimal_debootstrap_line(tmp_path):
    root = _etc(tmp_path, {"sources.list": "deb http://deb.debian.org/debian bookworm main\n"})
    assert debian_uri.find(root) == "http://deb.debian.org/debian"


def test_debian_sources_wins_over_sources_list(tmp_path):
    root = _etc(tmp_path, {"sources.list.d/debian.sources": DEB822,
                           "sources.list": "deb http://mirror.example/debian bookworm main\n"})
    assert debian_uri.find(root) == "http://deb.debian.org/debian"


def test_disabled_stanza_and_empty_sources_list(tmp_path):
    off = DEB822.replace("Types: deb\n#", "Types: deb\nEnabled: no\n#", 1)
    root = _etc(tmp_path, {"sources.list.d/debian.sources": off,
                           "sources.list": "# deb http://deb.debian.org/debian bookworm main\n"})
    p = _run(root)
    assert p.returncode == 1 and p.stdout == ""
    assert "no Debian archive URI" in p.stderr


def test_other_list_files(tmp_path):
    root = _etc(tmp_path, {"sources.list.d/mirror.list":
                           "deb [trusted=yes] https://mirror.example/debian trixie main\n"})
    assert debian_uri.find(root) == "https://mirror.example/debian"
