# Two commands on a fresh machine: `make run` serves Cloudlet on the embedded default
# (SQLite + local files in ./.cloudlet), `make test` sets up and runs the suite.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
PIP    := $(BIN)/python -m pip --disable-pip-version-check -q

.PHONY: run test bench lint clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

# one stamp per set of extras; pyproject.toml changing re-installs
$(VENV)/.installed-server: pyproject.toml | $(BIN)/python
	$(PIP) install -e '.[server]'
	touch $@

$(VENV)/.installed-dev: pyproject.toml | $(BIN)/python
	$(PIP) install -e '.[server,postgres,redis,geo,pandas,arrow,dev]'
	touch $@ $(VENV)/.installed-server

run: $(VENV)/.installed-server
	$(BIN)/cloudlet serve

test: $(VENV)/.installed-dev
	$(BIN)/pytest $(PYTEST_ARGS)

bench: $(VENV)/.installed-dev
	$(BIN)/python -m bench

lint: $(VENV)/.installed-dev
	$(BIN)/ruff check src tests bench

clean:
	rm -rf $(VENV) .venv-legacy .cloudlet
