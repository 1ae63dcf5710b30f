# Two commands for a newcomer:  `make demo` (set up + run the whole pipeline)  and  `make test`.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml scripts/llama_cpp_wheel.sh | sha256sum | cut -c1-12)

export DBT_SEND_ANONYMOUS_USAGE_STATS := false
export DO_NOT_TRACK := 1
export PREFECT_SERVER_ANALYTICS_ENABLED := false
export PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS := 120

.PHONY: setup browser demo test lint clean

$(STAMP): pyproject.toml scripts/llama_cpp_wheel.sh
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	# llama-cpp-python (the `llm` extra) builds from source, once per machine (see the script)
	bash scripts/llama_cpp_wheel.sh $(BIN)/python
	$(BIN)/python -m pip install -q -e '.[dev,llm]'
	$(BIN)/feedbackloop setup
	rm -f $(VENV)/.installed-* && touch $(STAMP)

setup: $(STAMP) browser

# Debian's chromium + chromedriver for the console's browser tests (skipped when already installed).
browser:
	bash scripts/install_chromium.sh

demo: setup
	$(BIN)/feedbackloop demo

test: setup
	$(BIN)/ruff check .
	# change capture tests need logical decoding on the local PostgreSQL (restarts it once, if needed)
	bash scripts/postgres_logical.sh
	$(BIN)/python -m pytest

lint: setup
	$(BIN)/ruff check . && $(BIN)/ruff format --check . && $(BIN)/mypy

clean:
	rm -rf lake lake_vault dbt_project/target dbt_project/logs
