# CardPulse: `make run` starts the platform, `make test` runs lint and the whole test suite,
# `make fuzz` runs schemathesis deep against a whole `cardpulse up` (SEED=n reproduces a run).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: run test lint unit fuzz install clean system-deps timescale-check

$(VENV)/.installed-run: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -e .
	@touch $@

$(VENV)/.installed-test: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -e '.[test]'
	@touch $@ $(VENV)/.installed-run

install: $(VENV)/.installed-run

run: $(VENV)/.installed-run
	$(BIN)/cardpulse up

# promtool and prometheus check the metrics, alert rules and dashboard queries (Debian package).
system-deps:
	@command -v promtool >/dev/null 2>&1 || { apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends prometheus; }

lint: $(VENV)/.installed-test
	$(BIN)/ruff check .
	$(BIN)/mypy
	$(BIN)/lint-imports

unit: $(VENV)/.installed-test
	$(BIN)/pytest tests/unit

test: system-deps lint
	$(BIN)/pytest

# Every phase (stateful included), 100 examples per operation, a random seed it prints first.
fuzz: $(VENV)/.installed-test
	$(BIN)/python -m tests.fuzz $(if $(SEED),--seed $(SEED))

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache

# The TimescaleDB path of the migrations, on PGlite+TimescaleDB (WebAssembly, npm): not in
# `make test` because it needs the npm registry and Node.js.
timescale-check:
	rm -rf build/timescale-check && mkdir -p build/timescale-check/sql
	cp scripts/timescale-check/package.json scripts/timescale-check/check.mjs build/timescale-check/
	echo "CREATE EXTENSION IF NOT EXISTS timescaledb;" > build/timescale-check/sql/0000_ext.sql
	for f in store/migrations/*.sql; do sed 's/^-- depends:.*//' $$f > build/timescale-check/sql/$$(basename $$f); done
	cd build/timescale-check && npm install --silent && node check.mjs sql
