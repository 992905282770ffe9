# Two commands for a newcomer: `make run` and `make test`. Nothing else needs installing by hand.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PORT ?= 8000

.PHONY: run test lint typecheck clean

$(BIN)/.runtime: requirements.txt
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@$(BIN)/pip install --quiet --disable-pip-version-check -r requirements.txt 1>&2
	@touch $@

$(BIN)/.dev: requirements.txt requirements-dev.txt $(BIN)/.runtime
	@$(BIN)/pip install --quiet --disable-pip-version-check -r requirements-dev.txt 1>&2
	@touch $@

# moto[server] is the embedded DynamoDB: a dev requirement, never shipped to Lambda.
run: $(BIN)/.dev
	@$(BIN)/python -m devserver --port $(PORT)

test: $(BIN)/.dev lint typecheck
	$(BIN)/python -m pytest

lint: $(BIN)/.dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(BIN)/.dev
	$(BIN)/mypy

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
