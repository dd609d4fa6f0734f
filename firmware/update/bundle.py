"""A firmware bundle: the file an update downloads (docs/firmware-update.md).

    b"MEVB" 0x01 | manifest length (4 octets, big-endian) | manifest (JSON) | the files

The manifest is {"version": "...", "files": [[path, size, sha256 hex], ...]} with the
files' bodies following in that order; paths are relative (firmware/..., lib/...), of
[A-Za-z0-9_./-] only, never "..". A signed update's signature is ECDSA P-256 over the
SHA-256 of the whole file, as OCPP's SHA256withECDSA firmware signature is.

    r = await check(path, flash, now, sig_b64, cert_pem)   # None (good) or a reason:
        "size" | "manifest" | "hash" (the file is not what it says)
        "certificate" (signing certificate unreadable, expired, or not issued by a
        ManufacturerRootCertificate of the store) | "signature"
    await install(path, root, slot)                        # unpacks into <root>/fw/<slot>,
                                                           # the manifest written last
Both read the file in 1 KB pieces and yield to the loop between pieces.

On a board with a ROMFS partition (lib/fwslot/rom.py) the bundle is a ROMFS image
(tools/fwupd/bundle.py --romfs), downloaded straight into a half of the partition:

    r = await check_rom(rom, slot, size, flash, now, sig_b64, cert_pem)   # as check()"""
from micropython import const
import asyncio
import json
import os
from binascii import hexlify
from hashlib import sha256
import fwslot
import store

MAGIC = b"MEVB\x01"
_HEAD = const(9)
_MAX_MANIFEST = const(16384)
_MAX_FILES = const(256)
_PIECE = const(1024)
_OK = const("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_./-")


def _path_ok(p):
    if not isinstance(p, str) or not 0 < len(p) <= 96 or p[0] == "/" or ".." in p:
        return False
    for ch in p:
        if ch not in _OK:
            return False
    return True


def read_manifest(f):
    """The manifest of the open bundle f (positioned at 0) -> (manifest, body offset);
    raises ValueError when the head or the manifest is malformed."""
    head = f.read(_HEAD)
    if len(head) != _HEAD or head[:5] != MAGIC:
        raise ValueError("not a bundle")
    n = int.from_bytes(head[5:], "big")
    if n > _MAX_MANIFEST:
        raise ValueError("manifest too large")
    m = json.loads(f.read(n))
    files = m.get("files") if isinstance(m, dict) else None
    if not isinstance(m.get("version"), str) or not isinstance(files, list) or \
            not 0 < len(files) <= _MAX_FILES:
        raise ValueError("manifest")
    for ent in files:
        if not (isinstance(ent, list) and len(ent) == 3 and _path_ok(ent[0])
                and isinstance(ent[1], int) and ent[1] >= 0 and isinstance(ent[2], str)):
            raise ValueError("manifest entry")
    return m, _HEAD + n


async def _pieces(f, n, buf, h1, h2=None, out=None):
    """Reads n bytes of f in pieces into buf, hashing them (h1, h2) and writing them to
    out; raises ValueError when the file ends early."""
    mv = memoryview(buf)
    while n > 0:
        k = f.readinto(mv[:min(n, _PIECE)])
        if not k:
            raise ValueError("size")
        h1.update(mv[:k])
        if h2 is not None:
            h2.update(mv[:k])
        if out is not None:
            out.write(mv[:k])
        n -= k
        await asyncio.sleep_ms(0)


async def check(path, flash, now=0, sig_b64=None, cert_pem=None):
    """None when the bundle at path is whole (sizes, each file's SHA-256) and, if a
    signature is given, signed by cert_pem's key, cert_pem chaining to a
    ManufacturerRootCertificate; else the reason (see the module's docstring)."""
    buf = bytearray(_PIECE)
    whole = sha256()
    try:
        size = os.stat(path)[6]
        with open(path, "rb") as f:
            try:
                m, off = read_manifest(f)
            except (ValueError, KeyError, TypeError):
                return "manifest"
            f.seek(0)
            await _pieces(f, off, buf, whole)
            total = off
            for name, n, digest in m["files"]:
                h = sha256()
                await _pieces(f, n, buf, whole, h)
                if hexlify(h.digest()).decode() != digest:
                    return "hash"
                total += n
            if total != size:
                return "size"
    except ValueError:
        return "size"
    if sig_b64 is None:
        return None
    return signed_by(flash, now, whole.digest(), sig_b64, cert_pem)


async def check_rom(rom, slot, size, flash, now=0, sig_b64=None, cert_pem=None):
    """check() of a ROMFS bundle written into a half of the partition, read back from
    the flash: its length is the download's, its manifest is there, each file of the
    manifest is whole (read through the image mounted aside), and, if a signature is
    given, the SHA-256 of the whole image (from flash) is signed as check() requires."""
    if rom.size(slot) != size:
        return "size"
    m = rom.manifest(slot)
    if m is None or not isinstance(m.get("files"), list) or len(m["files"]) > _MAX_FILES:
        return "manifest"
    buf = bytearray(_PIECE)
    point = rom.mount(slot, "/fwchk")[1]
    import vfs
    try:
        for ent in m["files"]:
            if not (isinstance(ent, list) and len(ent) == 3 and _path_ok(ent[0])):
                return "manifest"
            h = sha256()
            try:
                with open(point + "/" + ent[0], "rb") as f:
                    await _pieces(f, ent[1], buf, h)
            except (OSError, ValueError, TypeError):
                return "hash"
            if hexlify(h.digest()).decode() != ent[2]:
                return "hash"
    finally:
        vfs.umount(point)
    if sig_b64 is None:
        return None
    whole = sha256()
    a = rom.area(slot)
    for i in range(0, size, _PIECE):
        whole.update(a[i:min(size, i + _PIECE)])
        await asyncio.sleep_ms(0)
    return signed_by(flash, now, whole.digest(), sig_b64, cert_pem)


def signed_by(flash, now, digest, sig_b64, cert_pem):
    """None if sig_b64 (base64 DER ECDSA) verifies digest with cert_pem's key and
    cert_pem is valid now and issued by a ManufacturerRootCertificate of the store,
    else "certificate" or "signature"."""
    import x509
    from binascii import a2b_base64
    from firmware.security import certs
    from firmware.security.certs.sig import ecdsa_digest
    with certs.scope():
        try:
            c = x509.load(cert_pem)
        except (x509.Invalid, ValueError):
            return "certificate"
        if now > 1600000000 and not x509.valid_at(c, now):
            return "certificate"        # a clock never set cannot judge validity
        if certs.open_store(flash, False).issuer_of(c, certs.MF) is None:
            return "certificate"
        try:
            sig = a2b_base64(sig_b64)
        except ValueError:
            return "signature"
        return None if ecdsa_digest(c, digest, sig) is True else "signature"


def clear(root, slot):
    """Empties a slot: its manifest goes first, so a cut leaves no slot that looks whole."""
    d = fwslot.slot_dir(root, slot)
    try:
        os.remove(d + "/manifest.json")
    except OSError:
        pass
    store.rmtree(d)


async def install(path, root, slot):
    """Unpacks the (checked) bundle at path into the slot, each file checked again as it
    is written; the manifest last. Raises ValueError (a file not as checked) or OSError."""
    clear(root, slot)
    d = fwslot.slot_dir(root, slot)
    buf = bytearray(_PIECE)
    with open(path, "rb") as f:
        m, off = read_manifest(f)
        f.seek(off)
        for name, n, digest in m["files"]:
            fwslot.mkdirs(d + "/" + name[:name.rfind("/")] if "/" in name else d)
            h = sha256()
            with open(d + "/" + name, "wb") as out:
                await _pieces(f, n, buf, h, None, out)
            if hexlify(h.digest()).decode() != digest:
                raise ValueError("hash")
    with open(d + "/manifest.tmp", "w") as f:
        f.write(json.dumps(m))
    os.rename(d + "/manifest.tmp", d + "/manifest.json")
    return m


def cert_ok(flash, now, cert_pem):
    """The signing certificate of an update request, checked when the request comes
    (2.0.1 L01.FR.02, 1.6 security whitepaper): readable, valid now (when the clock
    was set) and issued by a ManufacturerRootCertificate of the store. -> True/False."""
    import x509
    from firmware.security import certs
    with certs.scope():
        try:
            c = x509.load(cert_pem)
        except (x509.Invalid, ValueError):
            return False
        if now > 1600000000 and not x509.valid_at(c, now):
            return False
        return certs.open_store(flash, False).issuer_of(c, certs.MF) is not None
