"""The board images `make image` writes (tools/build/image.sh): a well-formed UF2 for the
RP2040, a firmware that fits the flash left beside the port's file system, and every
module of the board's manifest frozen in under its import path, main.py included (the
station starts at boot). `make test` builds the RPI_PICO image first (the emulator's);
the Pico W image is checked when it has been built (`make image BOARD=rp2_pico_w`).
Reads files only: a few milliseconds."""
import os
import shutil
import struct
import subprocess

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
pytestmark = pytest.mark.image        # make test builds the image; make test-fast does not
IMAGE = os.path.join(ROOT, "build", "image")

# UF2 (github.com/microsoft/uf2 README): 512-byte blocks, three magic words, the family
# id of the RP2040 (flag 0x2000), 256-byte payloads for the boot ROM
_MAGIC0, _MAGIC1, _MAGIC_END = 0x0A324655, 0x9E5D5157, 0x0AB16F30
_FAMILY_PRESENT = 0x00002000
_RP2040 = 0xE48BFF56
_XIP = 0x10000000
_FLASH = 2 * 1024 * 1024
# the code area: 2 MiB less MICROPY_HW_FLASH_STORAGE_BYTES of the port's mpconfigboard.h
CODE_AREA = {"RPI_PICO": _FLASH - 1408 * 1024, "RPI_PICO_W": _FLASH - 848 * 1024}
# the packages of boards/manifest.py (lib/ packages frozen by their import name)
# the ROMFS partition tools/build/image.sh puts below the file system (ROMFS_KB)
ROMFS_KIB = int(os.environ.get("ROMFS_KB", "512"))   # tools/build/image.sh's default
LIB_PACKAGES = ("ws", "httpc", "ocppj", "store", "modbus", "x509", "csr", "fwslot")


def _built(board):
    d = os.path.join(IMAGE, board)
    if not os.path.isfile(os.path.join(d, "firmware.uf2")):
        if board == "RPI_PICO":
            pytest.fail("build/image/RPI_PICO missing: make image-pico (make test builds it)")
        pytest.skip("build/image/%s not built (make image BOARD=rp2_pico_w)" % board)
    return d


def frozen_names():
    """Import paths the board manifest freezes (boards/rp2_pico_w/manifest.py)."""
    names = ["main.py", "boot.py", "_boot.py", "rp2.py", "asyncio/core.py", "boards/__init__.py"]
    for top, base in [("firmware", ""), ("boards/common", "")] + \
            [(os.path.join("lib", p), "lib") for p in LIB_PACKAGES]:
        for dirpath, _, files in os.walk(os.path.join(ROOT, top)):
            for f in files:
                if f.endswith(".py"):
                    rel = os.path.relpath(os.path.join(dirpath, f), os.path.join(ROOT, base))
                    names.append(rel)
    names += ["boards/rp2_pico_w/%s" % f for f in ("__init__.py", "pins.py", "hal.py")]
    return sorted(names)


@pytest.mark.parametrize("board", ["RPI_PICO", "RPI_PICO_W"])
def test_uf2_is_well_formed_for_the_rp2040(board):
    d = _built(board)
    with open(os.path.join(d, "firmware.uf2"), "rb") as f:
        uf2 = f.read()
    with open(os.path.join(d, "firmware.bin"), "rb") as f:
        binary = f.read()
    assert len(uf2) % 512 == 0 and uf2
    n = len(uf2) // 512
    image = bytearray()
    for i in range(n):
        blk = uf2[512 * i:512 * (i + 1)]
        m0, m1, flags, addr, size, seq, total, family = struct.unpack_from("<8I", blk)
        (end,) = struct.unpack_from("<I", blk, 508)
        assert (m0, m1, end) == (_MAGIC0, _MAGIC1, _MAGIC_END), i
        assert flags & _FAMILY_PRESENT and family == _RP2040, i
        assert (seq, total, size) == (i, n, 256), i
        assert addr == _XIP + 256 * i, i                     # contiguous from the XIP base
        image += blk[32:32 + size]
    # the UF2 carries the .bin (padded to whole 256-byte pages)
    assert image[:len(binary)] == binary and len(image) - len(binary) < 256
    assert len(binary) <= CODE_AREA[board], (len(binary), CODE_AREA[board])


@pytest.mark.parametrize("board", ["RPI_PICO", "RPI_PICO_W"])
def test_the_manifest_is_frozen_in(board):
    d = _built(board)
    with open(os.path.join(d, "firmware.bin"), "rb") as f:
        binary = f.read()
    missing = [n for n in frozen_names() if b"\0" + n.encode() + b"\0" not in binary]
    assert not missing, missing
    # the network stack only where the board has the radio
    assert (b"CYW43" in binary) == (board == "RPI_PICO_W")


@pytest.mark.skipif(shutil.which("arm-none-eabi-size") is None, reason="no arm toolchain")
@pytest.mark.parametrize("board", ["RPI_PICO", "RPI_PICO_W"])
def test_elf_matches_the_binary(board):
    d = _built(board)
    out = subprocess.run(["arm-none-eabi-size", os.path.join(d, "firmware.elf")],
                         capture_output=True, text=True, check=True).stdout.split("\n")[1]
    text, data, bss = (int(x) for x in out.split()[:3])
    assert text + data == os.path.getsize(os.path.join(d, "firmware.bin"))
    assert bss < 64 * 1024


def _flash_objects(elf, binary):
    """{name: (flash_base, flash_size)} of the port's rp2.Flash objects (rp2_flash.c:
    rp2_flash_obj, the file system; rp2_flash_romfs_obj, the ROMFS partition), read from
    their initial values in the image (.data, loaded from flash)."""
    nm = subprocess.run(["arm-none-eabi-nm", "-S", elf], capture_output=True, text=True,
                        check=True).stdout
    hdr = subprocess.run(["arm-none-eabi-objdump", "-h", elf], capture_output=True,
                         text=True, check=True).stdout.split()
    i = hdr.index(".data")
    vma, lma = int(hdr[i + 2], 16), int(hdr[i + 3], 16)
    out = {}
    for ln in nm.splitlines():
        f = ln.split()
        if len(f) == 4 and f[3] in ("rp2_flash_obj", "rp2_flash_romfs_obj"):
            off = int(f[0], 16) - vma + lma - _XIP
            out[f[3]] = struct.unpack_from("<II", binary, off + 4)    # after the type pointer
    return out


@pytest.mark.skipif(shutil.which("arm-none-eabi-nm") is None, reason="no arm toolchain")
@pytest.mark.parametrize("board", ["RPI_PICO", "RPI_PICO_W"])
def test_romfs_partition_below_the_file_system(board):
    """tools/build/image.sh: ROMFS_KB (512 KiB: two firmware slots) taken from the top of
    the port's file system, the code area as it was (docs/firmware-update.md)."""
    d = _built(board)
    with open(os.path.join(d, "firmware.bin"), "rb") as f:
        binary = f.read()
    objs = _flash_objects(os.path.join(d, "firmware.elf"), binary)
    fs_base, fs_size = objs["rp2_flash_obj"]
    if not ROMFS_KIB:       # ROMFS_KB=0: no partition, the port's own layout
        assert "rp2_flash_romfs_obj" not in objs
        assert fs_base == CODE_AREA[board] and fs_base + fs_size == _FLASH
        return
    rom_base, rom_size = objs["rp2_flash_romfs_obj"]
    assert rom_size == ROMFS_KIB * 1024
    assert rom_base == CODE_AREA[board] and rom_base + rom_size == fs_base
    assert fs_base + fs_size == _FLASH
    assert len(binary) <= rom_base
