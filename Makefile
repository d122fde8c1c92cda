# ITS Portal dev loop.  `make run` · `make stop` · `make test` · `make lint` · `make bench`
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
PYTEST_ARGS ?=
BENCH_ARGS ?=
# make run REPLICAS=2: that many processes of every service behind the gateway (devtools/replicas.py); default 1.
REPLICAS ?=
LINT_DIRS := $(wildcard shared rules services devtools itsctl clients tests bench)
# `stop`/`status` use only the standard library: they work before the venv exists.
STACK_PY = $(if $(wildcard $(PY)),$(PY),$(PYTHON))

.PHONY: help venv infra run stop status test test-unit test-integration test-e2e test-api test-faults test-scale lint bench screenshots clean

help:
	@echo "make run      install, start PostgreSQL/RabbitMQ if needed, migrate, start the stack (REPLICAS=2: two of each)"
	@echo "make stop     stop what 'make run' started      make status   what runs"
	@echo "make test     the whole suite (PYTEST_ARGS=... to pass options)"
	@echo "make test-unit | test-integration | test-e2e"
	@echo "make test-api     schemathesis against every service's OpenAPI document"
	@echo "make test-faults  the fault experiments: servers stopped and killed, services killed mid-batch"
	@echo "make test-scale   two replicas of every service behind nginx under load, one of each killed: counts exact"
	@echo "make lint     ruff + mypy --strict               make bench    benchmarks (BENCH_ARGS=portal_pages: one)"
	@echo "make screenshots  browser tests, screenshots of each page into var/screenshots/"
	@echo "make clean    stop, drop the stack's database, remove var/ and caches (keeps .venv)"

venv: $(STAMP)

# Reinstall when a pyproject.toml is newer than the last install. The client package (clients/python, its-client)
# is installed editable beside the portal: itsctl's download runs its engine, and the tests run its command.
$(STAMP): pyproject.toml clients/python/pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -e '.[dev]' -e ./clients/python
	@touch $(STAMP)

infra:
	@bash scripts/ensure-infra.sh

run: venv infra
	ITS_STACK_REPLICAS=$(REPLICAS) $(PY) -m devtools.stack up

stop:
	@$(STACK_PY) -m devtools.stack down

status:
	@$(STACK_PY) -m devtools.stack status

test: venv infra
	$(PY) -m pytest $(PYTEST_ARGS)

test-unit: venv
	$(PY) -m pytest tests/unit $(PYTEST_ARGS)

test-integration: venv infra
	$(PY) -m pytest tests/integration $(PYTEST_ARGS)

test-e2e: venv infra
	$(PY) -m pytest tests/e2e $(PYTEST_ARGS)

# schemathesis against every service's OpenAPI document: a few minutes of generated requests, so `make test` leaves
# it out (tests/conftest.py) and CI runs it after it.
test-api: venv infra
	$(PY) -m pytest tests/contract/test_schemathesis.py $(PYTEST_ARGS)

# tests/faults start servers of their own to stop and kill (a PostgreSQL cluster, RabbitMQ nodes) and kill
# services mid-batch; minutes long, so `make test` leaves them out (tests/conftest.py) and CI runs them after it. -s:
# each experiment prints its figures (sent, accepted, effects, lost, doubled, recovery) into the log.
test-faults: venv infra
	$(PY) -m pytest tests/faults -s $(PYTEST_ARGS)

# tests/scale: two replicas of every service behind the gateway, under load, one replica of each killed and restarted;
# a few minutes, so `make test` leaves it out (tests/conftest.py) and CI runs it after the fault experiments. -s: the
# test's summary line (sent, accepted, retried, lost, doubled, recovery) is in the log.
test-scale: venv infra
	$(PY) -m pytest tests/scale -s $(PYTEST_ARGS)

lint: venv
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy --strict $(LINT_DIRS)

# wrk is the load generator of the HTTP benchmark; without it a Python generator stands in.
bench: venv infra
	@command -v wrk >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    echo "bench: installing wrk"; export DEBIAN_FRONTEND=noninteractive; \
	    apt-get install -y -q wrk >/dev/null 2>&1 || { apt-get update -q >/dev/null 2>&1; apt-get install -y -q wrk >/dev/null 2>&1; } \
	    || echo "bench: wrk unavailable; using the Python load generator"; \
	  else echo "bench: wrk not found; using the Python load generator"; fi; }
	$(PY) -m bench $(BENCH_ARGS)

screenshots: venv infra
	rm -rf var/screenshots
	ITS_SCREENSHOTS_DIR=$(CURDIR)/var/screenshots $(PY) -m pytest tests/e2e -k browser $(PYTEST_ARGS)
	@echo "screenshots in var/screenshots/"

# The stack's database goes with var/: its releases, signed-metadata roots and attachments name files under var/.
clean:
	@if [ -x $(PY) ]; then $(PY) -m devtools.stack clean; elif [ -d var/run ]; then $(STACK_PY) -m devtools.stack down; fi
	rm -rf var .pytest_cache .mypy_cache .ruff_cache
