# The Gap Portal. `make run` serves the portal on the embedded default; `make test` runs every test.
SHELL := /bin/bash
VENV := .venv
PY := $(VENV)/bin/python
PORT ?= 8000

# The newest Python >= 3.12 on the PATH. pyenv shims honour the repo's .python-version; a shim
# for a version pyenv lacks fails the check and is skipped.
PYTHON ?= $(shell for candidate in python3.14 python3.13 python3.12 python3 python; do \
	if command -v $$candidate >/dev/null 2>&1 && \
	   $$candidate -c 'import sys; sys.exit(sys.version_info < (3, 12))' >/dev/null 2>&1; then \
		echo $$candidate; break; fi; done)

.PHONY: run test lint format install clean worker beat bench load fleet

install: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	@if [ -z "$(PYTHON)" ]; then \
		echo "The Gap Portal needs Python 3.12 or newer (Django 6), and none was found on the PATH."; \
		echo "Install one (for example: pyenv install 3.13, or apt-get install python3.13) and try again."; \
		exit 1; fi
	@if [ ! -x $(PY) ] || ! $(PY) -c 'import sys; sys.exit(sys.version_info < (3, 12))'; then \
		rm -rf $(VENV) && $(PYTHON) -m venv $(VENV); fi
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e ".[dev]"
	@touch $@

run: install
	$(PY) manage.py migrate --noinput
	$(PY) manage.py seed_demo
	@# Served on 127.0.0.1 and opened as localhost: browsers refuse passkeys on a bare IP address.
	@echo "The Gap Portal is starting at http://localhost:$(PORT)/ (Ctrl-C stops it)."
	SITE_URL=$${SITE_URL:-http://localhost:$(PORT)} $(PY) manage.py runserver 127.0.0.1:$(PORT)

test: install tests/e2e/node_modules/.installed
	$(PY) -m pytest $(PYTEST_ARGS)

# axe-core, injected into pages by the browser tests (Chromium itself comes from Debian).
tests/e2e/node_modules/.installed: tests/e2e/package.json tests/e2e/package-lock.json
	npm ci --prefix tests/e2e --no-audit --no-fund --silent
	@touch $@

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy .
	$(PY) manage.py makemigrations --check --dry-run

format: install
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

# Benchmarks on PostgreSQL (set DATABASE_URL); figures go to bench/results.json.
bench: install
	@if [ -z "$$DATABASE_URL" ]; then echo "make bench measures PostgreSQL: set DATABASE_URL."; exit 1; fi
	$(PY) manage.py migrate --noinput -v0
	@mkdir -p bench && rm -f bench/results.jsonl
	for n in 10000 50000; do \
		$(PY) manage.py bench_sync --clients $$n --repeat 3 --output bench/results.jsonl && \
		$(PY) manage.py bench_pages --clients $$n --output bench/results.jsonl || exit 1; \
	done
	$(PY) -c "import json; rows = [json.loads(l) for l in open('bench/results.jsonl')]; \
		json.dump(rows, open('bench/results.json', 'w'), indent=2)"
	@rm -f bench/results.jsonl
	@echo "Wrote bench/results.json"

# A bounded load run (issue 9): gunicorn with 2 workers in production mode, wrk with 50
# connections for 60 s over the Clients list, profiles and Contacts tabs, syncs running alongside.
load: install
	@if [ -z "$$DATABASE_URL" ]; then echo "make load measures PostgreSQL: set DATABASE_URL."; exit 1; fi
	@command -v wrk >/dev/null || { echo "make load needs wrk (Debian: apt-get install wrk)."; exit 1; }
	$(PY) manage.py migrate --noinput -v0
	@mkdir -p bench && rm -f bench/load.jsonl
	$(PY) manage.py load_run --clients 10000 --connections 50 --duration 60 --output bench/load.jsonl

# The fleet simulation (issue 18, docs/scaling.md): 1,000 firms, about 1.5 M clients, over a
# compressed day on FLEET_WORKERS real Celery workers against a simulated Xero; JSON to bench/.
FLEET_WORKERS ?= 2
FLEET_ARGS ?=
fleet: install
	@if [ -z "$$DATABASE_URL" ] || [ -z "$$REDIS_URL" ]; then \
		echo "make fleet runs on PostgreSQL and Redis: set DATABASE_URL and REDIS_URL."; exit 1; fi
	@mkdir -p bench
	$(PY) manage.py simulate_fleet --workers $(FLEET_WORKERS) $(FLEET_ARGS) \
		--output bench/fleet-$(FLEET_WORKERS)-workers.json

# One worker for every queue (sync, sync_large, default), four tasks at once in threads: enough
# for development (docker-compose.yml runs one kind of worker a queue).
worker: install
	$(VENV)/bin/celery -A gapportal worker -Q sync,sync_large,default --pool threads \
		--concurrency 4 --loglevel=INFO

beat: install
	$(VENV)/bin/celery -A gapportal beat --loglevel=INFO

clean:
	rm -rf $(VENV) staticfiles .pytest_cache .ruff_cache .mypy_cache
