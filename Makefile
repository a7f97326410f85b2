# CardPulse: `make run` starts the platform, `make test` runs lint and the whole test suite,
# `make fuzz` runs schemathesis deep against a whole `cardpulse up` (SEED=n reproduces a run).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: run test lint unit fuzz install clean system-deps timescale-check faketime-deps \
	test-dates test-shifted

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

# promtool and prometheus check the metrics, alert rules and dashboard queries; the browser
# tests drive Debian's Chromium, with fonts-noto-cjk so Chinese renders (Debian packages).
system-deps:
	@command -v promtool >/dev/null 2>&1 || { apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends prometheus; }
	@{ command -v chromium >/dev/null 2>&1 && fc-list 2>/dev/null | grep -q "Noto Sans CJK"; } || \
		{ apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
		--no-install-recommends chromium fonts-noto-cjk; }

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

# libfaketime (Debian package faketime) shifts every process's clock for the dated runs below.
faketime-deps:
	@command -v faketime >/dev/null 2>&1 || { apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends faketime; }

# The whole suite once per clock shift (scripts/shifted.py: one FAKETIME offset shared by
# every process; prints the dates used). SHIFTS: relative (+400d, -2h), month-end[-Nm] or
# year-end[-Nm] (N minutes, default 5, before midnight in Shanghai) or an instant
# (2027-02-28T23:55:00+08:00). PYTEST_ARGS restricts the run, e.g. "tests/unit -x".
SHIFTS ?= +400d month-end
PYTEST_ARGS ?=
test-dates: system-deps faketime-deps $(VENV)/.installed-test
	$(BIN)/python scripts/shifted.py $(addprefix --shift=,$(SHIFTS)) -- $(PYTEST_ARGS)

# CI's dated run: the unit and integration tests from 23:57 on the last day of this month
# (Shanghai), so they cross into the next month while they run.
test-shifted: system-deps faketime-deps $(VENV)/.installed-test
	$(BIN)/python scripts/shifted.py --shift=month-end-3m -- tests/unit tests/integration

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
