"""The RP2040 bootrom (B1) the emulator loads: ../shared/third_party/rp2040-bootrom-b1.bin
when present (developer machines, CI), else build/emu/rp2040-bootrom-b1.bin, downloaded
once from the pinned upstream (the words in rp2040js's demo/bootrom.ts at a fixed commit)
and checked against its SHA-256. Prints the path.

    python3 tools/emu/bootrom.py [--out build/emu/rp2040-bootrom-b1.bin]"""
import argparse
import hashlib
import os
import re
import struct
import sys
import urllib.request

ROOT = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
SHARED = os.path.join(ROOT, "..", "shared", "third_party", "rp2040-bootrom-b1.bin")
SHA256 = "90b31e108faedfa6bbcfcc33ba05dac61e645108cfbbdc385f8dafc71fde44ae"
URL = ("https://raw.githubusercontent.com/wokwi/rp2040js/"
       "8f032378586948687ed54e2309931aa3d543ba79/demo/bootrom.ts")
SIZE = 16384


def words_to_bin(text):
    """The bytes of `new Uint32Array([0x..., ...])` in a TypeScript source (little-endian)."""
    start = text.find("Uint32Array([")
    if start < 0:
        raise ValueError("no Uint32Array in the bootrom source")
    body = text[start:text.index("])", start)]
    words = [int(w, 16) for w in re.findall(r"0x([0-9a-fA-F]{1,8})", body)]
    return struct.pack("<%dI" % len(words), *words)


def check(data):
    if len(data) != SIZE or hashlib.sha256(data).hexdigest() != SHA256:
        raise ValueError("bootrom: %d bytes, SHA-256 %s, expected %d bytes %s"
                         % (len(data), hashlib.sha256(data).hexdigest(), SIZE, SHA256))
    return data


def fetch(out):
    for path in (SHARED, out):
        if os.path.exists(path):
            with open(path, "rb") as f:
                check(f.read())
            return path
    with urllib.request.urlopen(URL, timeout=60) as r:
        data = check(words_to_bin(r.read().decode()))
    os.makedirs(os.path.dirname(out), exist_ok=True)
    with open(out + ".tmp", "wb") as f:
        f.write(data)
    os.replace(out + ".tmp", out)
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default=os.path.join(ROOT, "build", "emu", "rp2040-bootrom-b1.bin"))
    a = ap.parse_args()
    try:
        print(fetch(a.out))
    except (OSError, ValueError) as e:
        print("bootrom: %s" % e, file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
