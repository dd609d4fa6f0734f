#!/bin/bash
# A flashable MicroPython 1.25 image of one board with the firmware frozen in, by the
# board's own manifest (boards/<board>/manifest.py). Called by `make image`; run from
# the project's root:
#
#   tools/build/image.sh rp2_pico_w RPI_PICO_W   -> build/image/RPI_PICO_W/firmware.{uf2,elf,bin}
#   tools/build/image.sh rp2_pico_w RPI_PICO     -> build/image/RPI_PICO/...  (no radio)
#   tools/build/image.sh esp32_generic ESP32_GENERIC   (needs ESP-IDF: see esp32() below)
#   STOCK=1 tools/build/image.sh rp2_pico_w RPI_PICO   -> build/image/RPI_PICO-stock/...:
#        nothing of ours frozen (tools/build/stock-rp2-manifest.py), to measure against
#
# Environment (the Makefile sets it): MPSRC, the MicroPython source tree that make mp32
# unpacks (Debian's 1.25.0+ds, mbedTLS in lib/mbedtls); APT_STATE, its private apt
# state; DEBIAN_URI, the machine's Debian mirror; THIRD_PARTY, where the files no
# registry serves are looked for first (../shared/third_party); JOBS; MPY_DIR (esp32 only).
#
# rp2, from Debian packages only (trixie): the binary packages pico-sdk-source and
# tinyusb-source (apt-get download + dpkg-deb), the sources of lwip and picotool (the
# orig tarballs, fetched by apt-helper with the Sources index's SHA-256); the bookworm
# toolchain is installed by the Makefile. cyw43-driver (Pico W only) is the one piece
# from elsewhere: THIRD_PARTY, or its pinned upstream archive, SHA-256 checked
# (tools/build/third_party.sha256). Everything is cached under build/image/ and in
# MPSRC/lib; cmake and make run incrementally, so after a change to a frozen .py only
# that module and the frozen-content file are compiled again.
#
# The RPI_PICO_W image is built without Bluetooth (btstack is not packaged, and 1.25
# does not link with btstack v1.6.2): a copy of the port's board folder without its
# Bluetooth lines (build/image/mpboards/RPI_PICO_W) and with the one include folder
# the Bluetooth targets used to bring. micropython-lib is not needed (the
# board manifest require()s nothing); cmake only wants its README, so MICROPY_LIB_DIR
# points at an empty stand-in folder.
set -euo pipefail
T0=$(date +%s)

BOARD=${1:?board folder, e.g. rp2_pico_w}
MPBOARD=${2:?MicroPython board, e.g. RPI_PICO_W}
ROOT=$(pwd)
: "${MPSRC:?MPSRC: the MicroPython source tree (make sets it)}"
MPSRC=$(cd "$MPSRC" && pwd)
# MicroPython names its version after `git describe` of the tree it is built from; the
# Debian tree is no repository, and this project's must not lend it its commit
export GIT_CEILING_DIRECTORIES=$(dirname "$MPSRC")
APT_STATE=${APT_STATE:-$ROOT/build/mpsrc/apt}
THIRD_PARTY=${THIRD_PARTY:-$ROOT/../shared/third_party}
JOBS=${JOBS:-2}
# The ROMFS partition (rp2): two firmware slots of ROMFS_KB/2 each, taken from the
# port's file system; 0 builds the port's layout unchanged (no ROMFS). On by default: the
# emulated Pico runs as fast with it as without (docs/firmware-update.md, "Boards: ROMFS")
ROMFS_KB=${ROMFS_KB:-512}
IMG=$ROOT/build/image
DL=$IMG/dl
OUT=$IMG/$MPBOARD
OBJ=$IMG/obj-$MPBOARD
MANIFEST=$ROOT/boards/$BOARD/manifest.py
if [ -n "${STOCK:-}" ]; then    # the image without our firmware, for size comparisons
    OUT=$IMG/$MPBOARD-stock
    OBJ=$IMG/obj-$MPBOARD-stock
    MANIFEST=$ROOT/tools/build/stock-rp2-manifest.py
fi

# Upstream versions MicroPython 1.25 is built with (the Debian revision may move on)
PICO_SDK_VER=2.1.1              # exactly the SDK MicroPython 1.25 pins
TINYUSB_VER=0.18.0
PICOTOOL_VER=2.1.1              # pico-sdk 2.x makes the UF2 with it
LWIP_VER=2.2.1
CYW43_TAG=v1.1.0
CYW43_TGZ=cyw43-driver-1.1.0.tar.gz
CYW43_URL=https://github.com/georgerobotics/cyw43-driver/archive/refs/tags/$CYW43_TAG.tar.gz

say() { echo "image: $*" >&2; }
die() { echo "image: $*" >&2; exit 1; }

apt_opts() {
    echo -o Dir::Etc::SourceList="$APT_STATE/sources-image.list" \
         -o Dir::Etc::SourceParts=/nonexistent -o Dir::State::Lists="$APT_STATE/lists" \
         -o Dir::Cache="$APT_STATE/cache" -o Dir::State::status="$APT_STATE/status" \
         -o APT::Sandbox::User=root
}

# The trixie package and source indexes, once, in make mp32's private apt state
apt_lists() {
    local want="deb $DEBIAN_URI trixie main
deb-src $DEBIAN_URI trixie main"
    if [ -f "$APT_STATE/.image-lists" ] && [ "$(cat "$APT_STATE/sources-image.list")" = "$want" ]; then
        return
    fi
    [ -n "${DEBIAN_URI:-}" ] || die "no Debian URI (tools/build/debian_uri.py); set DEBIAN_URI=..."
    mkdir -p "$APT_STATE/lists/partial" "$APT_STATE/cache/archives/partial"
    touch "$APT_STATE/status"
    echo "$want" > "$APT_STATE/sources-image.list"
    say "apt-get update (trixie main, private state $APT_STATE)"
    # shellcheck disable=SC2046
    apt-get -qq $(apt_opts) update
    touch "$APT_STATE/.image-lists"
}

# deb PACKAGE UPSTREAM -> path of the downloaded .deb (binary package, arch all)
deb() {
    local pkg=$1 up=$2 ver f
    # shellcheck disable=SC2046
    ver=$(apt-cache $(apt_opts) show "$pkg" 2>/dev/null | sed -n 's/^Version: //p' | head -1)
    [ -n "$ver" ] || die "$pkg: not in trixie's index"
    case "$ver" in "$up"|"$up"[-+~]*) ;; *) die "$pkg: trixie has $ver, the build wants $up";; esac
    f=$DL/${pkg}_${ver/*:/}_all.deb
    if [ ! -f "$f" ]; then
        say "apt-get download $pkg=$ver"
        # shellcheck disable=SC2046
        (cd "$DL" && apt-get -qq $(apt_opts) download "$pkg=$ver") >&2
    fi
    echo "$f"
}

# orig SOURCE UPSTREAM -> path of the source package's upstream tarball. apt-get source
# would want the .dsc and the Debian tarball too, which this mirror does not always
# serve; apt-helper fetches the one file and checks it against the Sources index.
orig() {
    local src=$1 up=$2 rec dir name sha f
    # shellcheck disable=SC2046
    rec=$(apt-cache $(apt_opts) showsrc --only-source "$src" 2>/dev/null | awk 'BEGIN{RS=""} NR==1')
    dir=$(echo "$rec" | sed -n 's/^Directory: //p')
    read -r sha _ name < <(echo "$rec" | sed -n '/^Checksums-Sha256:/,/^[^ ]/p' | grep '\.orig\.tar\.' | head -1)
    [ -n "$dir" ] && [ -n "${name:-}" ] || die "$src: no source package in trixie's index"
    case "$name" in "${src}_$up"[+~.]*) ;; *) die "$src: trixie has $name, the build wants $up";; esac
    f=$DL/$name
    if [ ! -f "$f" ]; then
        say "apt-helper download-file $dir/$name"
        /usr/lib/apt/apt-helper -qq download-file "$DEBIAN_URI/$dir/$name" "$f.part" "SHA256:$sha" >&2
        mv "$f.part" "$f"
    fi
    echo "$f"
}

# The one archive no registry serves: THIRD_PARTY, else the pinned upstream; checked
third_party() {
    local name=$1 url=$2 f=$DL/$1 sum
    sum=$(awk -v n="$name" '$2 == n {print $1}' "$ROOT/tools/build/third_party.sha256")
    [ -n "$sum" ] || die "$name: no checksum in tools/build/third_party.sha256"
    if [ ! -f "$f" ]; then
        if [ -f "$THIRD_PARTY/$name" ]; then
            cp "$THIRD_PARTY/$name" "$f.part"
        else
            say "$name: not in $THIRD_PARTY, downloading $url"
            curl -fsSL -o "$f.part" "$url" || die "$name: download failed ($url)"
        fi
        echo "$sum  $f.part" | sha256sum -c --quiet - >&2 ||
            die "$name: SHA-256 is not $sum (tools/build/third_party.sha256)"
        mv "$f.part" "$f"
    fi
    echo "$f"
}

# unpack ARCHIVE DEST [tar options]: DEST replaced, once per archive (stamp in DEST)
unpack() {
    local src=$1 dest=$2; shift 2
    [ "$(cat "$dest/.from" 2>/dev/null)" = "$(basename "$src")" ] && return
    say "unpack $(basename "$src") -> ${dest#"$ROOT"/}"
    rm -rf "$dest" && mkdir -p "$dest"
    case "$src" in
        *.deb) dpkg-deb --fsys-tarfile "$src" | tar -x -C "$dest" "$@" ;;
        *) tar -x -C "$dest" -f "$src" "$@" ;;
    esac
    basename "$src" > "$dest/.from"
}

rp2_sources() {
    mkdir -p "$DL"
    apt_lists
    unpack "$(deb pico-sdk-source $PICO_SDK_VER)" "$MPSRC/lib/pico-sdk" --strip-components=4 ./usr/src/pico-sdk
    unpack "$(deb tinyusb-source $TINYUSB_VER)" "$MPSRC/lib/tinyusb" --strip-components=4 ./usr/src/tinyusb
    unpack "$(orig picotool $PICOTOOL_VER)" "$IMG/src/picotool" --strip-components=1
    if [ "$MPBOARD" = RPI_PICO_W ]; then
        unpack "$(orig lwip $LWIP_VER)" "$MPSRC/lib/lwip" --strip-components=1
        unpack "$(third_party $CYW43_TGZ "$CYW43_URL")" "$MPSRC/lib/cyw43-driver" --strip-components=1
    fi
}

# picotool for the host, without libusb (only the UF2 and ELF handling is used), once
picotool() {
    local inst=$IMG/picotool
    [ "$(cat "$inst/.from" 2>/dev/null)" = "$(cat "$IMG/src/picotool/.from")" ] && return
    say "picotool $PICOTOOL_VER for the host (about a minute)"
    rm -rf "$IMG/picotool-build" "$inst"
    { cmake -S "$IMG/src/picotool" -B "$IMG/picotool-build" -DPICO_SDK_PATH="$MPSRC/lib/pico-sdk" \
        -DPICOTOOL_NO_LIBUSB=1 -DCMAKE_BUILD_TYPE=Release -DCMAKE_INSTALL_PREFIX="$inst" &&
      make -s -j"$JOBS" -C "$IMG/picotool-build" install; } >"$IMG/picotool.log" 2>&1 ||
        { tail -20 "$IMG/picotool.log"; die "picotool build failed (build/image/picotool.log)"; }
    cp "$IMG/src/picotool/.from" "$inst/.from"
}

# The port's board folder, as cmake will read it (written only when it changes, so
# cmake does not reconfigure): RPI_PICO_W without Bluetooth
board_dir() {
    local src=$MPSRC/ports/rp2/boards/$MPBOARD dst=$IMG/mpboards/$MPBOARD f
    [ -d "$src" ] || die "no board $MPBOARD in the rp2 port"
    mkdir -p "$dst"
    for f in "$src"/*; do
        case "$(basename "$f")" in
            manifest.py) continue ;;     # the frozen manifest is ours
            mpconfigboard.cmake)
                grep -v -e BLUETOOTH -e BTSTACK -e '^# Bluetooth' "$f" > "$dst/.new"
                # the SDK's pico/cyw43_driver.h (its bus driver includes it) reaches the
                # firmware only through the btstack targets: a folder with that header
                # alone (the SDK's folder beside it has a cyw43_configport.h that must
                # not shadow the port's)
                if grep -q NETWORK_CYW43 "$f"; then
                    mkdir -p "$IMG/cyw43-inc/pico"
                    cp "$MPSRC/lib/pico-sdk/src/rp2_common/pico_cyw43_driver/include/pico/cyw43_driver.h" "$IMG/cyw43-inc/pico/"
                    echo "include_directories($IMG/cyw43-inc)" >> "$dst/.new"
                fi ;;
            mpconfigboard.h)
                # a ROMFS partition of ROMFS_KB below the file system, taken from it (the
                # code area stays as it is): two halves, one firmware slot each
                # (docs/firmware-update.md, "Boards: ROMFS")
                local fs
                fs=$(sed -n 's/^#define MICROPY_HW_FLASH_STORAGE_BYTES *(\([0-9]*\) \* 1024)/\1/p' "$f")
                [ -n "$fs" ] || die "$f: no MICROPY_HW_FLASH_STORAGE_BYTES (N * 1024)"
                [ "$fs" -gt "$ROMFS_KB" ] || die "$MPBOARD: file system $fs KiB, no room for ROMFS $ROMFS_KB KiB"
                sed "s/^#define MICROPY_HW_FLASH_STORAGE_BYTES .*/#define MICROPY_HW_FLASH_STORAGE_BYTES          ($((fs - ROMFS_KB)) * 1024)/" "$f" > "$dst/.new"
                printf '\n// MicroEVSE: ROMFS for firmware updates (tools/build/image.sh)\n#define MICROPY_HW_ROMFS_BYTES                  (%d * 1024)\n' "$ROMFS_KB" >> "$dst/.new" ;;
            *) cp "$f" "$dst/.new" ;;
        esac
        if ! cmp -s "$dst/.new" "$dst/$(basename "$f")"; then
            # a changed board configuration (the ROMFS partition, ...) changes which
            # modules and qstrs the port builds: the old build folder is not reusable
            [ -e "$dst/$(basename "$f")" ] && [ "$(basename "$f")" = mpconfigboard.h ] && rm -rf "$OBJ"
            mv "$dst/.new" "$dst/$(basename "$f")"
        fi
        rm -f "$dst/.new"
    done
    echo "$dst"
}

rp2() {
    command -v arm-none-eabi-gcc >/dev/null || die "arm-none-eabi-gcc missing (make image installs gcc-arm-none-eabi)"
    rp2_sources
    picotool
    local bdir mplib=$IMG/micropython-lib
    bdir=$(board_dir)
    mkdir -p "$mplib"
    [ -f "$mplib/README.md" ] || echo "Empty stand-in for micropython-lib: the board manifests require() nothing." > "$mplib/README.md"
    if [ ! -f "$OBJ/Makefile" ]; then
        say "cmake $MPBOARD (frozen: ${MANIFEST#"$ROOT"/})"
        cmake -S "$MPSRC/ports/rp2" -B "$OBJ" -DPICO_BUILD_DOCS=0 \
            -DMICROPY_BOARD="$MPBOARD" -DMICROPY_BOARD_DIR="$bdir" \
            -DMICROPY_FROZEN_MANIFEST="$MANIFEST" \
            -DMICROPY_LIB_DIR="$mplib" -Dpicotool_DIR="$IMG/picotool/lib/cmake/picotool" >"$IMG/cmake-$MPBOARD.log" 2>&1 ||
            { tail -30 "$IMG/cmake-$MPBOARD.log"; rm -f "$OBJ/Makefile"; die "cmake failed (build/image/cmake-$MPBOARD.log)"; }
    fi
    say "make $MPBOARD"
    make -s -j"$JOBS" -C "$OBJ" >"$IMG/make-$MPBOARD.log" 2>&1 ||
        { tail -30 "$IMG/make-$MPBOARD.log"; die "build failed (build/image/make-$MPBOARD.log)"; }
    mkdir -p "$OUT"
    for f in elf bin uf2; do                 # the .uf2 last: it is make's target
        cmp -s "$OBJ/firmware.$f" "$OUT/firmware.$f" ||
            { cp "$OBJ/firmware.$f" "$OUT/.firmware.$f" && mv "$OUT/.firmware.$f" "$OUT/firmware.$f"; }
    done
    # dated when this build began: a source edited while it ran is newer, make runs again
    touch -d "@$T0" "$OUT/firmware.uf2"
    say "$(arm-none-eabi-size "$OUT/firmware.elf" | tail -1 | awk '{print "text " $1 ", data " $2 ", bss " $3}'), firmware.bin $(stat -c %s "$OUT/firmware.bin") B -> ${OUT#"$ROOT"/}/firmware.uf2"
}

# ESP32: MicroPython 1.25 builds with ESP-IDF v5.2, v5.2.2, v5.3 or v5.4 (ports/esp32/
# README.md), none of which any registry this project uses serves, and always with btree
# (lib/berkeley-db-1.xx, which Debian's +ds source drops): MPY_DIR may name an upstream
# v1.25.0 checkout with its esp32 submodules. Checked, then built with the port's own
# Makefile (idf.py); never built here (no ESP-IDF on this machine).
esp32() {
    local missing=() v=""
    local src=${MPY_DIR:-$MPSRC}
    if [ -z "${IDF_PATH:-}" ]; then
        missing+=("ESP-IDF: IDF_PATH is not set (install ESP-IDF v5.2, v5.2.2, v5.3 or v5.4, then '. \$IDF_PATH/export.sh')")
    elif ! command -v idf.py >/dev/null; then
        missing+=("ESP-IDF: idf.py not on PATH (run '. $IDF_PATH/export.sh')")
    else
        v=$(idf.py --version 2>/dev/null | grep -o 'v[0-9][0-9.]*' | head -1)
        case "$v" in
            v5.2|v5.2.*|v5.3|v5.3.*|v5.4|v5.4.*) ;;
            *) missing+=("ESP-IDF: idf.py --version says '${v:-nothing}'; MicroPython 1.25 needs v5.2, v5.2.2, v5.3 or v5.4") ;;
        esac
    fi
    if [ -z "$(ls -A "$src/lib/berkeley-db-1.xx" 2>/dev/null)" ]; then
        missing+=("$src/lib/berkeley-db-1.xx: empty (Debian's micropython 1.25.0+ds source drops it, and the esp32 port always builds btree): set MPY_DIR to a MicroPython v1.25.0 checkout after 'make -C ports/esp32 submodules'")
    fi
    if [ ${#missing[@]} -gt 0 ]; then
        echo "image: cannot build $MPBOARD here. Missing:" >&2
        printf '  - %s\n' "${missing[@]}" >&2
        exit 1
    fi
    local mplib=$IMG/micropython-lib
    mkdir -p "$mplib" "$OUT"
    [ -f "$mplib/README.md" ] || echo "Empty stand-in for micropython-lib: the board manifests require() nothing." > "$mplib/README.md"
    make -C "$src/ports/esp32" BOARD="$MPBOARD" BUILD="$OBJ" \
        FROZEN_MANIFEST="$ROOT/boards/$BOARD/manifest.py" CMAKE_ARGS="-DMICROPY_LIB_DIR=$mplib"
    cp "$OBJ/firmware.bin" "$OBJ/micropython.elf" "$OUT/"
    say "build/image/$MPBOARD/firmware.bin (flash at 0x1000: esptool.py write_flash 0x1000 firmware.bin)"
}

case "$BOARD" in
    rp2_*) rp2 ;;
    esp32_*) esp32 ;;
    *) die "no image for board $BOARD (rp2_pico_w, esp32_generic)" ;;
esac
