"""The station's own TLS identity on flash (security profile 3): its certificate chain
(leaf first, then sub-CAs) and private key, in one file written atomically
(store.atomic_write), so a power cut leaves the old identity or the new one whole.

    from firmware.security.certs import identity
    identity.load(flash) -> ([leaf_der, sub_der, ...], key_der) | None
    identity.save(flash, chain_ders, key_der)

File <flash>/identity.bin: b"ID1", a count byte, then per certificate and for the
key a big-endian u16 length and the DER bytes. A file that does not parse reads as no
identity (logged): profile 3 then cannot connect, which the caller reports. The key is
never logged or returned over OCPP."""
from micropython import const
import os
import store
from firmware import log

_MAGIC = const(b"ID1")
_MAX_CERTS = const(4)
_MAX_SIZE = const(8192)
_NAME = const("/identity.bin")      # not under certs/: the store's check() owns that directory


def _path(flash):
    return flash + _NAME


def save(flash, chain_ders, key_der):
    """Replaces the identity (atomic). ValueError on an empty chain or key, too many
    certificates or a size over 8 KiB; OSError from the flash propagates."""
    if not chain_ders or not key_der or len(chain_ders) > _MAX_CERTS:
        raise ValueError("identity: 1..%d certificates and a key" % _MAX_CERTS)
    parts = list(chain_ders) + [key_der]
    size = 4 + sum(2 + len(p) for p in parts)
    if size > _MAX_SIZE or any(len(p) > 0xFFFF for p in parts):
        raise ValueError("identity too large")
    buf = bytearray(size)
    buf[0:3] = _MAGIC
    buf[3] = len(chain_ders)
    i = 4
    for p in parts:
        buf[i] = len(p) >> 8
        buf[i + 1] = len(p) & 0xFF
        buf[i + 2:i + 2 + len(p)] = p
        i += 2 + len(p)
    store.atomic_write(_path(flash), buf)


def load(flash):
    try:
        data = store.read(_path(flash), None, _MAX_SIZE)
    except OSError as e:
        log.error("certs", "station identity unreadable: %r", e)
        return None
    if data is None:
        return None
    try:
        if data[:3] != _MAGIC or not 1 <= data[3] <= _MAX_CERTS:
            raise ValueError("header")
        out, i = [], 4
        for _ in range(data[3] + 1):
            n = data[i] << 8 | data[i + 1]
            if not n or i + 2 + n > len(data):
                raise ValueError("length")
            out.append(bytes(data[i + 2:i + 2 + n]))
            i += 2 + n
        if i != len(data):
            raise ValueError("trailing bytes")
    except (ValueError, IndexError) as e:
        log.error("certs", "station identity damaged (%s): ignored", e)
        return None
    return out[:-1], out[-1]


def present(flash):
    """True when an identity file exists (not parsed: cheap)."""
    try:
        os.stat(_path(flash))
        return True
    except OSError:
        return False


# ------------------------------------------------------------ the key of a request in flight
_PENDING = const("/identity.key.new")


def save_pending(flash, key_der):
    """The private key of a signing request in flight (replaced by the next request;
    kept across reboots: the CSMS may answer after one)."""
    store.atomic_write(flash + _PENDING, key_der)


def load_pending(flash):
    try:
        return store.read(flash + _PENDING, None, 512)
    except OSError as e:
        log.error("certs", "pending key unreadable: %r", e)
        return None


def drop_pending(flash):
    store.remove(flash + _PENDING)
