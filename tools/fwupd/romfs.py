"""A ROMFS image (MicroPython >= 1.25, vfs.VfsRom) of a list of files, written from the
format's description in MicroPython's extmod/vfs_rom.c:

    varuint: big-endian, 7 bits a byte, the high bit set on every byte but the last
    record:  varuint kind | varuint payload length | payload
    the image: record 0x14A6B1 ("RM1" once encoded) whose payload is the top directory's
    records; a directory: record 4, payload varuint name length | name | its records;
    a file: record 5, payload varuint name length | name | record 2 (the data, verbatim)

The whole image must be of even length: when it is not, the image's own length is
written with one more (0x80) byte, which the format allows. Files are stored verbatim,
unaligned: bytecode .mpy needs no alignment (native code would).

    image([("firmware/main.mpy", b"..."), ("manifest.json", b"...")]) -> bytes
    files(image) -> {path: bytes}    (the reader, for tests)
"""
_FS = 0x14A6B1
_DATA = 2
_DIR = 4
_FILE = 5


def varuint(n, pad=0):
    out = [n & 0x7F]
    n >>= 7
    while n:
        out.append(0x80 | (n & 0x7F))
        n >>= 7
    return bytes([0x80] * pad + out[::-1])


def record(kind, payload, pad=0):
    return varuint(kind) + varuint(len(payload), pad) + payload


def _named(kind, name, body):
    n = name.encode()
    return record(kind, varuint(len(n)) + n + body)


def _tree(files):
    """{name: bytes | subtree} of [(path, bytes)]."""
    top = {}
    for path, data in files:
        parts = path.split("/")
        if not path or path[0] == "/" or ".." in parts or "" in parts:
            raise ValueError("bad path %r" % path)
        d = top
        for p in parts[:-1]:
            d = d.setdefault(p, {})
            if not isinstance(d, dict):
                raise ValueError("%r: a file is in the way" % path)
        if parts[-1] in d:
            raise ValueError("%r twice" % path)
        d[parts[-1]] = bytes(data)
    return top


def _records(tree):
    out = b""
    for name in sorted(tree):
        v = tree[name]
        if isinstance(v, dict):
            out += _named(_DIR, name, _records(v))
        else:
            out += _named(_FILE, name, record(_DATA, v))
    return out


def image(files):
    body = _records(_tree(files))
    img = record(_FS, body)
    if len(img) % 2:
        img = record(_FS, body, pad=1)
    return img


def _decode(b, i):
    n = 0
    while True:
        c = b[i]
        i += 1
        n = (n << 7) | (c & 0x7F)
        if not c & 0x80:
            return n, i


def _walk(b, i, end, prefix, out):
    while i < end:
        kind, i = _decode(b, i)
        n, i = _decode(b, i)
        nxt = i + n
        if kind in (_DIR, _FILE):
            ln, j = _decode(b, i)
            name = prefix + b[j:j + ln].decode()
            j += ln
            if kind == _DIR:
                _walk(b, j, nxt, name + "/", out)
            else:
                while j < nxt:
                    k, j = _decode(b, j)
                    m, j = _decode(b, j)
                    if k == _DATA:
                        out[name] = bytes(b[j:j + m])
                    j += m
        i = nxt


def files(img):
    """{path: bytes} of a ROMFS image (verbatim data records only)."""
    kind, i = _decode(img, 0)
    if kind != _FS:
        raise ValueError("not a ROMFS image")
    n, i = _decode(img, i)
    out = {}
    _walk(img, i, i + n, "", out)
    return out
