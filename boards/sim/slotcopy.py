"""The simulator's stand-in for running an application slot from flash (lib/fwslot).

A board imports a slot's modules straight from littlefs. The unix port cannot: its
importer finds a file on a mounted VFS but then reads it with the host's open(2) (a
crash). So at each boot the simulator copies the slot chosen from the flash image to a
host folder beside the image, <image>.fw/<slot>/, and imports from there: a cache of
the slot, made afresh from the flash each boot; what is valid is still judged on the
flash (the manifest, the sizes)."""
from micropython import const
import os

_DIR = const(0x4000)


def _mkdir(p):
    try:
        os.mkdir(p)
    except OSError:
        pass


def _copy(src, dst, buf):
    _mkdir(dst)
    for ent in list(os.ilistdir(src)):
        s, d = src + "/" + ent[0], dst + "/" + ent[0]
        if ent[1] == _DIR:
            _copy(s, d, buf)
            continue
        with open(s, "rb") as f, open(d, "wb") as o:
            while True:
                n = f.readinto(buf)
                if not n:
                    break
                o.write(memoryview(buf)[:n])


def placer(root, image):
    """-> place(slot) for fwslot.choose: copies <root>/fw/<slot> to <image>.fw/<slot>
    (what was there before goes) and returns that folder."""
    host = image + ".fw"

    def place(slot):
        d = host + "/" + slot
        import store            # looked up at the call: a bundle may bring its own store
        store.rmtree(d)
        _mkdir(host)
        _copy(root + "/fw/" + slot, d, bytearray(1024))
        return d
    return place


def where(image):
    """-> place(slot) that copies nothing: the folder a slot was copied to (to take its
    paths off sys.path again)."""
    return lambda slot: image + ".fw/" + slot
