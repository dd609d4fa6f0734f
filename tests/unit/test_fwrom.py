"""The boards' firmware bundle: a ROMFS image (tools/fwupd/romfs.py, bundle.py --romfs)
written into one half of a ROMFS partition and run from it (lib/fwslot/rom.py,
tests/mp/fwrom.py on the unix port, whose vfs.VfsRom is the boards')."""
import hashlib
import json

import pytest

from tests.mp import run_file
from tools.fwupd import bundle as B
from tools.fwupd import romfs

HALF_KIB = 256      # tools/build/image.sh: ROMFS_KB 512, two halves


def test_romfs_image_layout():
    img = romfs.image([("a/b/c.mpy", b"x" * 200), ("a/d.mpy", b""), ("e.json", b"{}")])
    assert img[:3] == b"\xd2\xcd\x31"              # "RM1": the ROMFS record's kind
    assert len(img) % 2 == 0
    assert romfs.files(img) == {"a/b/c.mpy": b"x" * 200, "a/d.mpy": b"", "e.json": b"{}"}
    odd = romfs.image([("f", b"12")])
    assert len(odd) % 2 == 0 and romfs.files(odd) == {"f": b"12"}
    for bad in ([("/abs", b"")], [("a/../b", b"")], [("a", b""), ("a/b", b"")],
                [("a", b""), ("a", b"")]):
        with pytest.raises(ValueError):
            romfs.image(bad)


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    d = tmp_path_factory.mktemp("fwrom")
    return B.build(str(d), "0.9.1", key_path=str(d / "key" / "dev-key.pem"), rom=True)


def test_romfs_bundle_holds_the_firmware_and_its_manifest(built):
    with open(built["path"], "rb") as f:
        img = f.read()
    files = romfs.files(img)
    m = json.loads(files.pop("manifest.json"))
    assert m["version"] == "0.9.1"
    assert sorted(files) == sorted(p for p, _, _ in m["files"])
    for p, size, digest in m["files"]:
        assert len(files[p]) == size and hashlib.sha256(files[p]).hexdigest() == digest
    assert "firmware/main.mpy" in files and "lib/fwslot/rom.mpy" in files
    assert len(img) <= HALF_KIB * 1024, "the firmware outgrew a ROMFS half"
    print("ROMFS bundle %d bytes (%d KiB half)" % (len(img), HALF_KIB))


def test_romfs_slot_written_verified_mounted_and_run(built, tmp_path):
    r = run_file("fwrom", str(tmp_path / "flash.img"), built["path"], HALF_KIB, timeout=120)
    assert r["half"] == HALF_KIB * 1024 and r["empty"] == [None, None]
    assert r["size"] == built["size"] and r["digest_ok"] and r["a_untouched"]
    assert r["writes"] == (built["size"] + 4095) // 4096      # whole blocks, once each
    assert r["version"] == "0.9.1" and r["before"] is None
    assert r["run"] == "b" and r["path"] == ["/fwrom/lib", "/fwrom"]
    assert r["imported"] == "0.9.1" and r["from"] == "/fwrom/firmware/version.mpy"
    assert r["bad_files"] == 0
    assert r["commit"] is True and r["state"]["active"] == "b"
    assert r["too_large"] == 28 and r["b_intact"]             # ENOSPC, the other half kept
    assert r["damaged"] is None and r["after"] is None          # back to the base firmware
