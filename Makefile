# Two commands on a fresh machine:  make run   and   make test
# (see README.md). Everything they need is installed from here.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
HOST ?= 127.0.0.1
PORT ?= 8000
DEMO_SUPPORTERS ?= 500

.PHONY: run test test-postgres bench install browser migrate demo clean

$(STAMP): requirements.txt
	test -d $(VENV) || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -r requirements.txt
	touch $(STAMP)

install: $(STAMP)

# A real browser for the page tests: Debian's Chromium, driven by Playwright.
browser:
	@command -v chromium >/dev/null 2>&1 || { \
		echo "Installing Debian's chromium for the browser tests..."; \
		SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
		$$SUDO apt-get update -qq && $$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; }

migrate: $(STAMP)
	$(BIN)/python manage.py migrate --no-input

demo: migrate
	$(BIN)/python manage.py load_demo_data --if-empty --supporters $(DEMO_SUPPORTERS)

## Set up and start the site at http://127.0.0.1:8000 (SQLite, demo data, no keys needed).
run: demo
	@echo "Staff logins: admin / fundraiser / finance, password brightwell-demo, at http://$(HOST):$(PORT)/admin/"
	$(BIN)/python manage.py runserver $(HOST):$(PORT)

## Run the tests (SQLite unless DATABASE_URL points elsewhere).
test: $(STAMP) browser
	$(BIN)/python -m pytest $(PYTEST_ARGS)

## The same tests on the local PostgreSQL server.
test-postgres:
	DATABASE_URL=$${DATABASE_URL:-postgres://postgres@127.0.0.1:5432/brightwell} $(MAKE) test

## Benchmarks on PostgreSQL; they print their figures.
bench: $(STAMP)
	DATABASE_URL=$${BENCH_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/brightwell_bench} $(BIN)/python -m tests.bench

clean:
	rm -rf $(VENV) db.sqlite3 media static_collected .pytest_cache
