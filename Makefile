# Two commands on a fresh machine:  make run   and   make test
# (see README.md). Everything they need is installed from here.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
HOST ?= 127.0.0.1
PORT ?= 8000
DEMO_SUPPORTERS ?= 500
SERVE_PORT ?= 8000
# Written by make run's local Stripe while it runs; config.settings.local reads it.
export LOCAL_STRIPE_ENV ?= $(CURDIR)/.local-stripe.env

.PHONY: run serve loadtest charge-monthly sync-stripe test test-postgres faults bench install browser libreoffice axe migrate demo clean restore-drill

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

# LibreOffice, headless, so that a test opens the Gift Aid schedule as finance
# staff will (HMRC's spreadsheet is .ods) and checks what it shows.
libreoffice:
	@command -v soffice >/dev/null 2>&1 || { \
		echo "Installing LibreOffice Calc (headless) for the Gift Aid schedule test..."; \
		SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
		$$SUDO apt-get update -qq && $$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq libreoffice-calc-nogui >/dev/null; }

# axe-core for the accessibility tests, installed once into an ignored folder;
# the tests read it from here and never download anything themselves.
AXE_DIR := .cache/axe
AXE_JS := $(AXE_DIR)/node_modules/axe-core/axe.min.js

$(AXE_JS):
	npm install --no-save --no-audit --no-fund --prefix $(AXE_DIR) axe-core@4

axe: $(AXE_JS)

migrate: $(STAMP)
	$(BIN)/python manage.py migrate --no-input

demo: migrate
	$(BIN)/python manage.py load_demo_data --if-empty --supporters $(DEMO_SUPPORTERS)

## Set up and start the site at http://127.0.0.1:8000 (SQLite, demo data, no keys needed).
## With no STRIPE_SECRET_KEY, a local Stripe (localstripe) is started on a free port
## and signs its webhooks to this site, so giving works end to end offline; while it
## runs, its keys and address are in $(LOCAL_STRIPE_ENV), which manage.py reads, so
## the scheduled commands work from a second shell too (e.g. make charge-monthly).
run: export WAGTAILADMIN_BASE_URL ?= http://$(HOST):$(PORT)
run: demo
	@echo "Staff logins: admin / fundraiser / finance, password brightwell-demo, at http://$(HOST):$(PORT)/admin/"
	@echo "Their sign-in code: $(BIN)/python manage.py demo_sign_in_code (or add the key MJZG SZ3I OR3W K3DM FVSG K3LP FUZG MYJB to an authenticator app)"
	@if [ -n "$$STRIPE_SECRET_KEY" ]; then exec $(BIN)/python manage.py runserver $(HOST):$(PORT); fi; \
	stripe_port=$$($(BIN)/python -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'); \
	$(BIN)/python -m tests.stripe_server --port $$stripe_port --env-file $(LOCAL_STRIPE_ENV) \
		--site-url http://$(HOST):$(PORT) \
		--webhook-url http://$(HOST):$(PORT)/stripe/webhook/ --webhook-secret whsec_local_demo & \
	stripe_pid=$$!; trap 'kill $$stripe_pid 2>/dev/null' EXIT INT TERM; \
	echo "Local Stripe on http://127.0.0.1:$$stripe_port (test card 4242 4242 4242 4242, any future expiry as MM and YY or YYYY, any CVC)"; \
	echo "In another shell while this runs: make charge-monthly (or .venv/bin/python manage.py charge_monthly_gifts)"; \
	STRIPE_SECRET_KEY=sk_test_localstripe STRIPE_PUBLISHABLE_KEY=pk_test_localstripe \
	STRIPE_WEBHOOK_SECRET=whsec_local_demo STRIPE_API_BASE=http://127.0.0.1:$$stripe_port \
	STRIPE_JS_URL=http://127.0.0.1:$$stripe_port/js.stripe.com/v3/extended.js \
	$(BIN)/python manage.py runserver $(HOST):$(PORT)

## The production shape on this machine, at http://127.0.0.1:$(SERVE_PORT) over plain HTTP:
## gunicorn (gunicorn.conf.py, SERVE_WORKERS workers, config.settings.serve: production's
## settings and start-up checks), one db_worker, the local Stripe signing webhooks to it,
## Redis (SERVE_CACHE_URL), PostgreSQL (SERVE_DATABASE_URL: created, migrated, demo data
## if empty). Ctrl-C stops all of it.
serve: $(STAMP)
	SERVE_PORT=$(SERVE_PORT) $(BIN)/python -m tests.serve

## A TV-appeal night against that shape, started on its own database and a free port
## (locust, headless, LOAD_USERS for LOAD_SECONDS), then the reconciliation with Stripe.
loadtest: $(STAMP)
	$(BIN)/python -m tests.load

## The scheduled commands, by hand, against the site make run serves (its local
## Stripe, while it runs) or against the keys in the environment.
charge-monthly: $(STAMP)
	$(BIN)/python manage.py charge_monthly_gifts

sync-stripe: $(STAMP)
	$(BIN)/python manage.py sync_stripe_payments

## Run the tests (SQLite unless DATABASE_URL points elsewhere).
test: $(STAMP) browser libreoffice $(AXE_JS)
	$(BIN)/python -m pytest $(PYTEST_ARGS)

## The same tests on the local PostgreSQL server.
test-postgres:
	DATABASE_URL=$${DATABASE_URL:-postgres://postgres@127.0.0.1:5432/brightwell} $(MAKE) test

## The faults drill on the local PostgreSQL (Stripe slow or down, the database cut,
## the task worker killed, Redis gone); it prints what happened in each.
faults: $(STAMP)
	DATABASE_URL=$${FAULTS_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/brightwell_faults} \
		$(BIN)/python -m pytest tests/faults -q $(PYTEST_ARGS)

## Benchmarks on PostgreSQL; they print their figures.
bench: $(STAMP)
	@command -v wrk >/dev/null 2>&1 || { SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
		$$SUDO apt-get update -qq && $$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null; }
	DATABASE_URL=$${BENCH_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/brightwell_bench} $(BIN)/python -m tests.bench

## Back up a PostgreSQL database and the files (pg_dump, custom format), restore them into a
## fresh database and folder, and compare the figures side by side (exit 1 on any difference).
## The database: DATABASE_URL if it is PostgreSQL, else RESTORE_DATABASE_URL, created with
## demo data if it is empty. Restored into <name>_restored, kept until the next drill.
RESTORE_DATABASE_URL ?= $(if $(filter postgres%,$(DATABASE_URL)),$(DATABASE_URL),postgres://postgres@127.0.0.1:5432/brightwell_drill)
restore-drill: $(STAMP)
	DATABASE_URL=$(RESTORE_DATABASE_URL) $(BIN)/python manage.py restore_drill --demo-if-empty --supporters $(DEMO_SUPPORTERS)

clean:
	rm -rf $(VENV) db.sqlite3 media static_collected .pytest_cache .cache
