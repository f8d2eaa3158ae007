# Brigada: `make demo` runs the product on the embedded default; `make test` runs the whole suite.
SHELL := /bin/bash
VENV ?= .venv
BIN := $(VENV)/bin
PYTHON_FOR_VENV ?= $(shell for p in python3.13 python3.12 python3.11 python3; do \
	command -v $$p >/dev/null 2>&1 && $$p -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null && { echo $$p; break; }; done)
STAMP := $(VENV)/.brigada-installed
HOST ?= 127.0.0.1
PORT ?= 8000
PYTEST_ARGS ?=
# Days of simulated history `make demo` lays down: 30 keeps the README's first five minutes (ADR 0028: 28 days
# took 178 s wall, 139 s CPU here at load 2-3; a history day now costs about 1 s of CPU, the world ~45 s and the
# live tail at the end ~90 s, so about 120 days would still fit). seed_demo's own default (540 days, small world):
# 17 minutes on a loaded machine in session 6; 3 min 58 s (232 s CPU) on a quiet one in session 8 (ADR 0028).
DEMO_HISTORY_DAYS ?= 30

export DJANGO_SETTINGS_MODULE ?= backend.config.settings.base
# Python writes each module's bytecode (`__pycache__`) on first import, so the next process loads it instead of
# compiling the source again. A shell that sets PYTHONDONTWRITEBYTECODE (some container images do) turns that off
# for every process: with the virtualenv installed without byte-compiling (below), every test worker, every child
# process a test starts and every manage.py command then compiled Django, pydantic, twisted, telegram and
# OR-Tools' wrappers from source again (django.setup() 5.5 s of CPU instead of 2.0 s here). Brigada's own
# commands write the bytecode of what they import (ADR 0034 addendum).
unexport PYTHONDONTWRITEBYTECODE

.PHONY: setup demo serve worker test races lint typecheck bench notebooks export-warehouse clean

# --no-compile: pip would byte-compile every installed module (about 13,600 files, most never imported by Brigada);
# Python compiles what is imported, on first use, instead (ADR 0034).
$(STAMP): pyproject.toml
	@test -n "$(PYTHON_FOR_VENV)" || { echo "Python 3.11+ is required"; exit 1; }
	@echo "==> creating $(VENV) with $(PYTHON_FOR_VENV)"
	@test -x $(BIN)/python || $(PYTHON_FOR_VENV) -m venv $(VENV)
	@$(BIN)/python -m pip install --quiet --upgrade pip
	@echo "==> installing Brigada and its tools (first run takes a few minutes)"
	@$(BIN)/pip install --quiet --progress-bar off --no-compile -e ".[dev,notebooks]"
	@touch $(STAMP)

setup: $(STAMP)

# In the demo, one-time login codes are written to var/sms.log (the console backend hides them by design).
demo: export SMS_BACKEND ?= file
demo: export DEBUG ?= 1
serve: export DEBUG ?= 1
demo: setup
	@$(BIN)/python manage.py migrate --noinput -v 1
	@$(BIN)/python manage.py seed_demo --history-days $(DEMO_HISTORY_DAYS)
	@echo "  The back-office password is random and printed above only when it is created;"
	@echo "  forgot it? $(BIN)/python manage.py seed_demo --reset-admin-password"
	@echo "  Login codes requested through the API are written to var/sms.log"
	@$(BIN)/python manage.py demo_info --host $(HOST) --port $(PORT)
	@$(BIN)/python manage.py runstack --host $(HOST) --port $(PORT)

serve: setup
	@$(BIN)/python manage.py runstack --host $(HOST) --port $(PORT)

worker: setup
	@$(BIN)/python manage.py run_worker

# Two workers (pytest-xdist) on the two cores; a test file stays on one worker (its module fixtures start once).
# Files go out in the order tests/conftest.py gives them (those with a `slow` test first), not xdist's own.
# TEST_WORKERS=0 runs in one process.
TEST_WORKERS ?= 2
test: setup
	@DJANGO_SETTINGS_MODULE=backend.config.settings.test $(BIN)/pytest -n $(TEST_WORKERS) --dist loadfile \
		--no-loadscope-reorder $(PYTEST_ARGS)

lint: setup
	@$(BIN)/ruff check .
	@$(BIN)/ruff format --check .
	@$(BIN)/mypy backend mobile_api bots scheduling_solver analytics

# The concurrency storms at the issues' full size on the local PostgreSQL: 200 accepts for 15 places and 50
# bookings for one slot, 20 rounds each (CI's PostgreSQL leg runs fewer rounds of the same storms, ADR 0034).
races: setup
	@DJANGO_SETTINGS_MODULE=backend.config.settings.test \
		DATABASE_URL=$${DATABASE_URL:-postgres://postgres@127.0.0.1:5432/test} \
		BRIGADA_TEST_DB_NAME=$${BRIGADA_TEST_DB_NAME:-test_brigada_races} BRIGADA_STORM_ROUNDS=20 \
		$(BIN)/pytest -n $(TEST_WORKERS) --dist loadfile tests/staffing/test_accept_race.py \
		tests/booking/test_appointments_race.py tests/staffing/test_attendance_races.py $(PYTEST_ARGS)

bench: setup
	@for script in benchmarks/*_bench.py; do echo "==> $$script"; $(BIN)/python $$script || exit 1; done

export-warehouse: setup
	@$(BIN)/python manage.py migrate --noinput -v 0
	@$(BIN)/python manage.py export_analytics --out notebooks/warehouse

# JupyterLab prints its URL with a login token; it refuses to run as root without --allow-root (containers).
notebooks: setup export-warehouse
	@$(BIN)/jupyter lab --notebook-dir=notebooks --no-browser --ip=$(HOST) $(if $(filter 0,$(shell id -u)),--allow-root)

clean:
	rm -rf $(VENV) var build dist .mypy_cache .ruff_cache
