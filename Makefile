# `make run` and `make test` work on a fresh clone with only python3 and make: they install uv
# (pinned with hashes in uv-requirements.txt) into .uv/, then .venv exactly as uv.lock says.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
UV := .uv/bin/uv
UV_VERSION ?= $(shell sed -n 's/^uv==\([^ ]*\).*/\1/p' uv-requirements.txt)
export OPENBLAS_NUM_THREADS ?= 1
export OMP_NUM_THREADS ?= 1
# uv uses the interpreter it is given and never downloads one; .venv is the project's environment.
export UV_PYTHON_DOWNLOADS := never
export UV_PROJECT_ENVIRONMENT := $(VENV)
# The cache and .venv often sit on different file systems, where uv would warn and copy anyway.
export UV_LINK_MODE ?= copy
# Bytecode at install: where Python may not write it (PYTHONDONTWRITEBYTECODE, read-only
# installs) every process would compile the stack's sources again, 4.4 s of each start-up.
export UV_COMPILE_BYTECODE ?= 1
SYNC = $(UV) sync --locked --python $(PYTHON)

.PHONY: install run test test-slow test-seeds lint lock lock-check fresh-check bench experiment clean

install: $(STAMP)

$(UV): uv-requirements.txt
	$(PYTHON) -m pip install -qq --disable-pip-version-check --no-deps --require-hashes \
		--upgrade --target .uv -r uv-requirements.txt
	touch $(UV)

$(STAMP): $(UV) uv.lock pyproject.toml
	$(SYNC) --extra dev
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/gplvm $(ARGS)

# Two pytest workers (pytest-xdist), one per core; tests/conftest.py sends what shares a fixture to one.
PYTEST_WORKERS ?= 2
PARALLEL = -n $(PYTEST_WORKERS)

test: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/python -m pytest $(PARALLEL) $(PYTEST_ARGS)

test-slow: $(STAMP)
	$(BIN)/python -m pytest -m slow $(PARALLEL) $(PYTEST_ARGS)

# The tests whose outcome depends on random draws, over seeds 0-9, ending with the worst margins.
test-seeds: $(STAMP)
	$(BIN)/python -m pytest -m seeded --seeds 10 $(PYTEST_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

# Refresh the lock after editing pyproject.toml (ARGS="--upgrade-package numba" to move one
# package, ARGS=--upgrade for all); UV_VERSION=x.y.z re-pins uv itself. See docs/testing.md.
lock: $(UV)
	$(UV) lock --python $(PYTHON) $(ARGS)
	echo "uv==$(UV_VERSION)" | $(UV) pip compile - --universal --generate-hashes --quiet \
		--custom-compile-command "make lock" -o uv-requirements.txt

# Fails when uv.lock no longer matches pyproject.toml.
lock-check: $(UV)
	$(UV) lock --check --python $(PYTHON)

# A clone of this repository in a temporary directory, with empty caches, running .ci/run.
fresh-check:  # RUNS=3 SLOW=1 KEEP=1: see .ci/fresh-check
	bash .ci/fresh-check

# GPy (the optional `bench` extra) is compared against; it is locked like everything else.
$(VENV)/.bench-installed: $(STAMP)
	$(SYNC) --extra dev --extra bench
	touch $@

bench: $(VENV)/.bench-installed
	$(BIN)/python benchmarks/bench.py $(ARGS)

# statsmodels (the optional `experiments` extra) ships the real data some experiments fit.
# --inexact: keeps GPy if `make bench` installed it.
$(VENV)/.experiments-installed: $(STAMP)
	$(SYNC) --inexact --extra dev --extra experiments
	touch $@

experiment: $(VENV)/.experiments-installed
	@test -n "$(NAME)" || { echo "usage: make experiment NAME=<folder in experiments/>"; exit 2; }
	if [ -x experiments/$(NAME)/run.sh ]; then experiments/$(NAME)/run.sh; else $(BIN)/python experiments/$(NAME)/run.py; fi

clean:
	rm -rf outputs .pytest_cache
