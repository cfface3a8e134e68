# The README's two commands: `make run` and `make test`. Both create .venv on first use.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# The stamp is named by pyproject.toml's content: a checkout or merge that touches the file without
# changing it (its mtime, all make would see) does not reinstall; a changed file does, once.
DEPS_HASH := $(shell (sha256sum pyproject.toml 2>/dev/null || shasum -a 256 pyproject.toml) | cut -c1-16)
STAMP := $(VENV)/.installed-$(DEPS_HASH)
RUN_ARGS ?= run --cycles 3 --homes 24 --days 5 --seed 42 --config configs/make_run.yaml --workspace workspace

.PHONY: run test lint typecheck bench docs screenshots clean

$(STAMP):
	$(PYTHON) -m venv $(VENV)
	rm -f $(VENV)/.installed*
	$(BIN)/pip install -q -e ".[dev,distributed,ml,api,reports]"
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/homesim $(RUN_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks

typecheck: $(STAMP)
	$(BIN)/mypy src
	$(BIN)/lint-imports

# One pytest-xdist worker per core, at most 4 (each holds its own imports and session data, ~1 GB);
# a test file is one unit of work (tests/conftest.py).
test: lint typecheck
	$(BIN)/pytest -n auto --maxprocesses 4 --dist loadgroup --no-loadscope-reorder \
		--cov=homesim --cov-report=term --cov-fail-under=90

bench: $(STAMP)
	$(BIN)/python benchmarks/run.py
	$(BIN)/python benchmarks/generation.py --homes 200
	$(BIN)/python benchmarks/replay_truth.py 10 30
	$(BIN)/python benchmarks/ha_export.py
	$(BIN)/python benchmarks/training_data.py
	$(BIN)/python benchmarks/training_acceptance.py
	$(BIN)/python benchmarks/scale_out.py --homes 20 --days 14

docs: $(STAMP)
	$(BIN)/typer homesim.cli utils docs --name homesim --title "homesim CLI reference" --output docs/cli.md

# The documentation's screenshots, from the workspace `make run` wrote (real numbers only).
screenshots: $(STAMP)
	$(BIN)/python benchmarks/screenshots.py --workspace workspace --out docs/screenshots

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .coverage workspace
