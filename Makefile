# FinSync: `make demo` sets up and runs a demo sync; `make test` runs the whole suite.
VENV ?= .venv
PY := $(VENV)/bin/python
PYTHON ?= python3
PG_URL = $$(scripts/start-postgres.sh)
SQLITE_URL = sqlite:///$(CURDIR)/test-default.sqlite3
# run or skip the database-free tests in the PostgreSQL pass (`make test` skips them there: see below)
PG_DB_FREE_TESTS ?= run

.PHONY: demo test test-fast test-postgres test-sqlite lint browser run bench clean

$(VENV)/.runtime: requirements.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --disable-pip-version-check -r requirements.txt
	touch $@

$(VENV)/.dev: requirements.txt requirements-dev.txt $(VENV)/.runtime
	$(PY) -m pip install -q --disable-pip-version-check -r requirements-dev.txt
	touch $@

.env: .env.example | $(VENV)/.runtime
	$(PY) scripts/make_env.py

## demo: virtualenv, SQLite migrations, a demo user and connection, a full sync, the summary
demo: $(VENV)/.runtime .env
	$(PY) manage.py migrate --noinput -v 0
	$(PY) manage.py demo

## run: the admin console and API on http://127.0.0.1:$(PORT)/ (PORT=8000 unless given: make run PORT=8080)
PORT ?= 8000
run: $(VENV)/.runtime .env
	$(PY) manage.py runserver 127.0.0.1:$(PORT)

## test: ruff, then the whole suite on PostgreSQL and on SQLite (database-free tests once, on SQLite)
test: lint browser test-postgres test-sqlite
# Tests that touch no database answer the same on both: the PostgreSQL pass of `make test` leaves
# them out (FINSYNC_DB_FREE_TESTS, tests/conftest.py) and the SQLite pass runs them.
test: PG_DB_FREE_TESTS = skip

## test-fast: ruff, then the suite on SQLite without the slow and browser tests (the edit-test loop)
test-fast: lint
	DATABASE_URL=$(SQLITE_URL) $(PY) -m pytest -q -p no:cacheprovider -m "not slow and not browser"

## browser: Debian's Chromium for the end-to-end admin tests (installed when missing)
browser:
	@if [ -x scripts/ensure-chromium.sh ]; then scripts/ensure-chromium.sh; fi

lint: $(VENV)/.dev
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/lint-imports --no-cache

test-postgres: $(VENV)/.dev
	FINSYNC_DB_FREE_TESTS=$(PG_DB_FREE_TESTS) DATABASE_URL=$(PG_URL) $(PY) -m pytest -q -p no:cacheprovider

test-sqlite: $(VENV)/.dev
	DATABASE_URL=$(SQLITE_URL) $(PY) -m pytest -q -p no:cacheprovider

## bench: the sync benchmark (100,000 rows) on PostgreSQL and SQLite; writes benchmarks/RESULTS.md;
## then the fleet benchmark (500 connections, 1/2/4 workers); writes benchmarks/RESULTS-fleet.md
bench: $(VENV)/.dev
	$(PY) benchmarks/sync_bench.py --postgres-url $(PG_URL)
	$(PY) benchmarks/fleet_bench.py --postgres-url $(PG_URL)

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache .hypothesis db.sqlite3
