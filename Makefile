# `make run` and `make test` work on a fresh clone: they create .venv on first use.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
export OPENBLAS_NUM_THREADS ?= 1
export OMP_NUM_THREADS ?= 1

.PHONY: install run test test-slow lint bench experiment clean

install: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/gplvm $(ARGS)

test: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/python -m pytest $(PYTEST_ARGS)

test-slow: $(STAMP)
	$(BIN)/python -m pytest -m slow $(PYTEST_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

# GPy (the optional `bench` extra) is compared against when it installs; the rest runs without it.
$(VENV)/.bench-installed: $(STAMP)
	$(BIN)/python -m pip install --quiet -e '.[dev,bench]' || echo "GPy did not install: make bench skips the GPy comparison"
	touch $@

bench: $(VENV)/.bench-installed
	$(BIN)/python benchmarks/bench.py $(ARGS)

experiment: $(STAMP)
	@test -n "$(NAME)" || { echo "usage: make experiment NAME=<folder in experiments/>"; exit 2; }
	if [ -x experiments/$(NAME)/run.sh ]; then experiments/$(NAME)/run.sh; else $(BIN)/python experiments/$(NAME)/run.py; fi

clean:
	rm -rf outputs .pytest_cache
