# Two commands on a fresh machine (Python >= 3.11 and make): `make run` and `make test`.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
export DAGSTER_HOME ?= $(CURDIR)/.dagster_home
PORT ?= 3000

.PHONY: run test lint dev bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# Each stamp reinstalls only when the dependency list changes. `run` and `dev` need the runtime
# dependencies only; `lint` adds the lint extra, `test` and `bench` the test and bench extras.
$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e .
	touch $@

$(VENV)/.installed-lint: pyproject.toml $(VENV)/.installed
	$(BIN)/python -m pip install --quiet -e ".[lint]"
	touch $@

$(VENV)/.installed-test: pyproject.toml $(VENV)/.installed
	$(BIN)/python -m pip install --quiet -e ".[test,bench]"
	touch $@

run: $(VENV)/.installed  ## build the collection tree on the embedded default (offline, demo data)
	$(BIN)/collection-tree build $(if $(CONFIG),--config $(CONFIG))

test: $(VENV)/.installed-test  ## run the test suite (the bench extra too: the benchmarks' smoke tests use it)
	$(BIN)/python -m pytest

lint: $(VENV)/.installed-lint  ## ruff, the layer contract (import-linter), Dagster's definitions check
	$(BIN)/ruff check .
	$(BIN)/lint-imports
	VIRTUAL_ENV=$(CURDIR)/$(VENV) $(BIN)/dg check defs

dev: $(VENV)/.installed  ## the Dagster UI with the daemon (sensors, schedules) on 127.0.0.1:$(PORT) (make dev PORT=3001)
	$(BIN)/dagster dev -w workspace.yaml -h 127.0.0.1 -p $(PORT)

bench: $(VENV)/.installed-test  ## every benchmark; `make bench WITH_1M=1` also builds the 1M-track demo (long)
	$(BIN)/python -m benchmarks.run_all $(if $(WITH_1M),--with-1m)

clean:
	rm -rf output .dagster_home/storage .dagster_home/history .dagster_home/schedules .dagster_home/logs
