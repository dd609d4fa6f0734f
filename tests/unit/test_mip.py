"""lib/*/package.json: every lib package installs with mip from this checkout, no index.

Each package under lib/ carries a mip package.json: "urls" maps every file to its path
under the install target, relative to the package.json ("ws/client.py" <- "client.py"),
plus "version" and, when it needs another package, "deps". Two installers read it:

- mpremote (host side) opens a local path that ends in ".json" and copies the files to
  the device:   mpremote mip install --target lib lib/ws/package.json
- the unix port's own mip (frozen, micropython-lib mip 0.4.2) fetches everything with
  `requests`, http(s) only. It has no local-path branch: a path is taken for an index
  package name (test_unix_mip_sends_a_local_path_to_the_index). From a checkout it
  installs over loopback HTTP instead:
      python3 -m http.server -b 127.0.0.1 8000 -d lib &
      micropython -m mip install --target DIR http://127.0.0.1:8000/ws/

The tests install each package into its own scratch directory and import it from there
with MICROPYPATH=.frozen:<scratch> only (.frozen: the interpreter's own frozen modules,
asyncio among them), so a file missing from package.json, or an undeclared dependency
on another lib package, fails here."""
import http.server
import json
import os
import pty
import select
import socket
import subprocess
import threading
import tty

import pytest

from tests.mp import MICROPYTHON, ROOT

LIB = os.path.join(ROOT, "lib")
MPREMOTE = os.path.join(os.path.dirname(MICROPYTHON), "mpremote")
# x509 and csr come last, when they exist (they may depend on the others)
ORDER = ("ws", "httpc", "ocppj", "store", "modbus", "x509", "csr")


def packages():
    """Every package directory under lib/: one that holds a .py file."""
    names = [d for d in os.listdir(LIB) if d != "__pycache__" and not d.startswith(".")
             and os.path.isdir(os.path.join(LIB, d))
             and any(f.endswith(".py") for f in os.listdir(os.path.join(LIB, d)))]
    return sorted(names, key=lambda n: (ORDER.index(n) if n in ORDER else len(ORDER), n))


PACKAGES = packages()


def sources(pkg):
    """The package's files that must be installed, as paths relative to lib/<pkg>."""
    base = os.path.join(LIB, pkg)
    out = []
    for d, dirs, files in os.walk(base):
        dirs[:] = sorted(x for x in dirs if x != "__pycache__")
        for f in files:
            if f.endswith(".py"):
                out.append(os.path.relpath(os.path.join(d, f), base).replace(os.sep, "/"))
    return sorted(out)


def manifest(pkg):
    with open(os.path.join(LIB, pkg, "package.json")) as f:
        return json.load(f)


def modules(pkg):
    """Importable module names of a package, from its package.json."""
    out = []
    for dest, _ in manifest(pkg)["urls"]:
        name = dest[:-3].replace("/", ".")
        out.append(name[:-len(".__init__")] if name.endswith(".__init__") else name)
    return out


# ------------------------------------------------------------------ package.json drift
@pytest.mark.parametrize("pkg", PACKAGES)
def test_package_json_lists_every_file(pkg):
    pj = manifest(pkg)
    assert set(pj) <= {"urls", "version", "deps"}, pj.keys()
    ver = pj["version"].split(".")
    assert len(ver) == 3 and all(v.isdigit() for v in ver), pj["version"]
    urls = pj["urls"]
    listed = [src for _, src in urls]
    assert len(listed) == len(set(listed)), "a file listed twice"
    missing = sorted(set(sources(pkg)) - set(listed))
    assert not missing, "lib/%s/package.json lacks %s" % (pkg, missing)
    for dest, src in urls:
        assert dest == pkg + "/" + src, (dest, src)       # installed at its lib path
        assert os.path.isfile(os.path.join(LIB, pkg, src)), "listed, not there: " + src
        assert not src.startswith(("/", "..")) and "\\" not in src   # relative to the json
    for dep in pj.get("deps", ()):
        assert isinstance(dep, list) and len(dep) == 2 and all(isinstance(x, str) for x in dep)


def test_every_lib_package_is_covered():
    for pkg in PACKAGES:
        assert os.path.isfile(os.path.join(LIB, pkg, "package.json")), pkg
    assert {"ws", "ocppj", "store", "modbus"} <= set(PACKAGES)


# ------------------------------------------------------------------ loopback HTTP
class _Quiet(http.server.SimpleHTTPRequestHandler):
    seen = None

    def log_message(self, *args):
        pass

    def do_GET(self):
        self.seen.append(self.path)
        super().do_GET()


@pytest.fixture(scope="module")
def http_lib():
    """lib/ served on 127.0.0.1; .seen records every path asked for. /index/... does not
    exist: an index lookup gets a 404 and shows up in .seen."""
    seen = []
    handler = type("H", (_Quiet,), {"seen": seen})
    srv = http.server.ThreadingHTTPServer(
        ("127.0.0.1", 0), lambda *a, **kw: handler(*a, directory=LIB, **kw))
    t = threading.Thread(target=srv.serve_forever, daemon=True)
    t.start()
    srv.seen = seen
    srv.url = "http://127.0.0.1:%d" % srv.server_address[1]
    try:
        yield srv
    finally:
        srv.shutdown()
        srv.server_close()


def mp_env(path):
    return {"MICROPYPATH": path, "PATH": os.environ.get("PATH", ""), "HOME": "/nonexistent"}


def unix_mip(args, cwd):
    return subprocess.run([MICROPYTHON, "-m", "mip", "install"] + list(args),
                          capture_output=True, text=True, timeout=60, cwd=str(cwd),
                          env=mp_env(".frozen"))


def same_tree(pkg, site):
    """The installed files are the sources, byte for byte, and nothing else."""
    got = []
    for d, _, files in os.walk(os.path.join(site, pkg)):
        got += [os.path.relpath(os.path.join(d, f), os.path.join(site, pkg)) for f in files]
    assert sorted(got) == sources(pkg)
    for rel in got:
        with open(os.path.join(site, pkg, rel), "rb") as a, \
                open(os.path.join(LIB, pkg, rel), "rb") as b:
            assert a.read() == b.read(), rel


# ------------------------------------------------------------------ smoke calls
# Each sets `out` (printed as OUT + JSON); code, or a function that returns code.
# They run with only .frozen and the scratch dir on the path.
# The smoke call of each package: tests/mp/mip_smoke.py (run with only .frozen and the
# install directory on the path).
EXPECT = {
    "ws": {"quote": "CP%201%2F%C3%A4", "split": [True, "csms", 8443, "/ocpp"],
           # RFC 6455 5.7: a masked text frame "Hello"
           "frame": "818537fa213d7f9f4d5158"},
    "ocppj": {"sent": ['[3,"a",{"currentTime":"2025-01-01T00:00:00Z"}]',
                       '[4,"b","NotSupported","no Reset",{}]']},
    "store": {"cfg": [{"a": 1}, True], "removed": 1, "pending": [[2, {"m": 2}]],
              "records": 1},
    "modbus": {"crc": 0x4B37, "volts": 230.0, "request": "01040000000271cb"},
    "httpc": {"err": "HTTP 404: GET /fw.bin", "net": "timeout"},
    "x509": {"cn": "MicroEVSE Test CA", "ca": True, "alg": "SHA256", "pem": True,
             "hash": ["hashAlgorithm", "issuerKeyHash", "issuerNameHash", "serialNumber"]},
}


def smoke(pkg, site, cwd):
    """Imports every module of pkg (each must come from site) and runs its smoke call."""
    data = {"site": site, "modules": modules(pkg)}
    if pkg == "x509":
        from tests.certs import make_ca       # a CA certificate made now, with cryptography
        data["der"] = make_ca().cert_der.hex()
    path = os.path.join(str(cwd), "smoke-%s.json" % pkg)
    with open(path, "w") as f:
        json.dump(data, f)
    prog = os.path.join(ROOT, "tests", "mp", "mip_smoke.py")
    p = subprocess.run([MICROPYTHON, prog, pkg, path], capture_output=True, text=True,
                       timeout=60, cwd=str(cwd), env=mp_env(".frozen:" + site))
    os.remove(path)
    assert p.returncode == 0, p.stdout + p.stderr
    line = [ln for ln in p.stdout.splitlines() if ln.startswith("OUT")][-1]
    return json.loads(line[3:])


# ------------------------------------------------------------------ the unix port's mip
@pytest.mark.parametrize("pkg", PACKAGES)
def test_unix_mip_installs_and_imports(pkg, http_lib, tmp_path):
    site = str(tmp_path / "site")
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    del http_lib.seen[:]
    # index: a path the server does not have, so an index lookup would show (and fail)
    p = unix_mip(["--target", site, "--index", http_lib.url + "/index",
                  http_lib.url + "/" + pkg + "/"], tmp_path)
    assert p.returncode == 0 and "Done" in p.stdout and "partially" not in p.stdout, \
        p.stdout + p.stderr
    assert not [s for s in http_lib.seen if s.startswith("/index")], http_lib.seen
    same_tree(pkg, site)
    deps = manifest(pkg).get("deps", ())
    if not deps:
        assert sorted(os.listdir(site)) == [pkg]
    got = smoke(pkg, site, run_dir)
    if pkg in EXPECT:
        assert got == EXPECT[pkg]


def test_unix_mip_sends_a_local_path_to_the_index(http_lib, tmp_path):
    """What the unix port lacks: its mip has no local-file branch (mpremote's has one in
    _install_package/_download_file). A path, with or without package.json, becomes an
    index package name: <index>/package/<mpy>/<path>/latest.json."""
    del http_lib.seen[:]
    local = os.path.join(LIB, "ws", "package.json")
    p = unix_mip(["--target", str(tmp_path / "site"), "--index", http_lib.url + "/index",
                  local], tmp_path)
    assert "Package not found" in p.stdout, p.stdout + p.stderr
    assert not os.path.exists(tmp_path / "site")
    assert len(http_lib.seen) == 1, http_lib.seen
    asked = http_lib.seen[0]
    assert asked.startswith("/index/package/") and asked.endswith(local + "/latest.json")


# ------------------------------------------------------------------ mpremote, local paths
def _quickack(c):
    # mpremote sends a script, then Ctrl-D, as two small segments: without an immediate
    # ACK, Nagle + delayed ACK cost 40 ms per command (45 s instead of 8 s here). Linux.
    if hasattr(socket, "TCP_QUICKACK"):
        c.setsockopt(socket.IPPROTO_TCP, socket.TCP_QUICKACK, 1)


class Bridge:
    """`micropython -i` on a pty, reachable as socket://127.0.0.1:port for mpremote (what
    socat does in docs: PTY <-> TCP), one client, until close()."""

    def __init__(self, cwd):
        master, slave = pty.openpty()
        tty.setraw(slave)
        self._proc = subprocess.Popen([MICROPYTHON, "-i"], stdin=slave, stdout=slave,
                                      stderr=slave, cwd=str(cwd), env=mp_env(".frozen"))
        os.close(slave)
        self._master = master
        self._ls = socket.socket()
        self._ls.bind(("127.0.0.1", 0))
        self._ls.listen(1)
        self.port = self._ls.getsockname()[1]
        self._stop = False
        self._t = threading.Thread(target=self._pump, daemon=True)
        self._t.start()

    def _pump(self):
        self._ls.settimeout(30)
        try:
            c, _ = self._ls.accept()
        except OSError:
            return
        with c:
            c.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            while not self._stop:
                r, _, _ = select.select([c, self._master], [], [], 0.2)
                try:
                    if c in r:
                        d = c.recv(4096)
                        if not d:
                            return
                        _quickack(c)
                        os.write(self._master, d)
                    if self._master in r:
                        d = os.read(self._master, 4096)
                        if not d:
                            return
                        c.sendall(d)
                except OSError:
                    return

    def close(self):
        self._stop = True
        self._proc.kill()
        self._proc.wait(timeout=10)
        self._t.join(timeout=5)
        self._ls.close()
        os.close(self._master)


@pytest.mark.slow
def test_mpremote_mip_installs_from_local_paths(tmp_path):
    site = str(tmp_path / "site")
    bridge = Bridge(tmp_path)
    try:
        jsons = ["lib/%s/package.json" % pkg for pkg in PACKAGES]
        p = subprocess.run([MPREMOTE, "connect", "socket://127.0.0.1:%d" % bridge.port,
                            "resume", "mip", "install", "--target", site] + jsons,
                           capture_output=True, text=True, timeout=120, cwd=ROOT)
    finally:
        bridge.close()
    assert p.returncode == 0 and p.stdout.count("Done") == len(PACKAGES), p.stdout + p.stderr
    for pkg in PACKAGES:
        same_tree(pkg, site)
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    got = smoke("modbus", site, run_dir)
    assert got == EXPECT["modbus"]
