"""Is build/mpy current? tools/harness/sim runs the stations from it by default when it
is (docs/architecture.md), and tools/fleet copies it for a run. Stdlib only: the sim
script imports it on every station start."""
import os

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
_TREES = ("firmware", "lib", "boards")


def current_mpy(root=ROOT):
    """root/build/mpy when it holds exactly the modules `make check` compiles from root's
    firmware/, lib/ and boards/ (every .py but manifest.py), none older than its source;
    else None. A few hundred stat calls, a few ms: a stale or half-made tree (`make
    check` running) is never run, the sources are."""
    top = os.path.join(root, "build", "mpy")
    if not os.path.isdir(top):
        return None
    n = 0
    for tree in _TREES:
        for d, _, files in os.walk(os.path.join(root, tree)):
            rel = os.path.relpath(d, root)
            for f in files:
                if not f.endswith(".py") or f == "manifest.py":
                    continue
                n += 1
                try:
                    if os.stat(os.path.join(top, rel, f[:-3] + ".mpy")).st_mtime < \
                            os.stat(os.path.join(d, f)).st_mtime:
                        return None
                except OSError:
                    return None
    m = sum(1 for tree in _TREES for _, _, files in os.walk(os.path.join(top, tree))
            for f in files if f.endswith(".mpy"))
    return top if m == n else None
