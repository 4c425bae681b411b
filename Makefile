# cunzhan — every command a developer needs. `make help` lists them.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PG_URL ?= postgres://postgres@127.0.0.1:5432/cunzhan
export CUNZHAN_TESTING ?=
.DEFAULT_GOAL := help

.PHONY: help install demo demo-data serve serve-prod test test-sqlite test-postgres test-shifted test-api test-fast check lint format typecheck imports migrations-check openapi bench-regions bench-planner messages clean

help: ## list the commands
	@grep -E '^[a-zA-Z_-]+:.*?## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*?## "}; {printf "  make %-16s %s\n", $$1, $$2}'

$(BIN)/cunzhan: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	@touch $@

install: $(BIN)/cunzhan ## create .venv and install cunzhan with its dev tools

demo: install ## install, load the 六盘水 demo network and serve http://127.0.0.1:8000
	DEBUG=1 $(BIN)/cunzhan migrate --no-input -v0
	DEBUG=1 $(BIN)/cunzhan demo
	DEBUG=1 $(BIN)/cunzhan runserver 127.0.0.1:8000

demo-data: install ## load the demo network without serving it
	DEBUG=1 $(BIN)/cunzhan migrate --no-input -v0
	DEBUG=1 $(BIN)/cunzhan demo

serve: install ## serve http://127.0.0.1:8000 (DEBUG)
	DEBUG=1 $(BIN)/cunzhan runserver 127.0.0.1:8000

serve-prod: install ## production: migrate, collectstatic, gunicorn (set the environment of .env.example first; README)
	$(BIN)/cunzhan check --deploy --fail-level WARNING
	$(BIN)/cunzhan migrate --no-input -v0
	$(BIN)/cunzhan collectstatic --no-input -v0
	$(BIN)/gunicorn -c python:cunzhan.config.gunicorn

test: install ## install everything and run the whole suite on SQLite and on PostgreSQL (side by side), then the date-sensitive tests under a shifted clock beside schemathesis
	bin/provision-test
	$(MAKE) --no-print-directory check
	@# the two databases' runs share nothing (an in-memory SQLite, PostgreSQL's test_cunzhan)
	@# and each is one process: side by side they use both cores (ADR 0031)
	$(MAKE) --no-print-directory -j2 --output-sync=target test-sqlite test-postgres
	$(MAKE) --no-print-directory -j2 --output-sync=target test-shifted test-api

test-sqlite: install ## the whole suite on SQLite (the embedded default)
	env -u DATABASE_URL CUNZHAN_TESTING=1 $(BIN)/pytest -q $(PYTEST_ARGS)

test-postgres: install ## the whole suite on PostgreSQL ($$PG_URL)
	DATABASE_URL=$(PG_URL) CUNZHAN_TESTING=1 $(BIN)/pytest -q $(PYTEST_ARGS)

SHIFT_DAYS ?= 300
test-shifted: install ## the date-sensitive tests (marker dates) with the clock SHIFT_DAYS (300) days ahead
	for days in $(SHIFT_DAYS); do \
	  env -u DATABASE_URL CUNZHAN_TESTING=1 CUNZHAN_TEST_CLOCK_SHIFT_DAYS=$$days $(BIN)/pytest -q -m dates $(PYTEST_ARGS) || exit 1; \
	done

test-api: install ## schemathesis with every check against a server on PostgreSQL, over the whole API (bin/api-fuzz, ADR 0032)
	CUNZHAN_FUZZ_DATABASE_URL=$(PG_URL)_api_fuzz $(BIN)/python bin/api-fuzz $(FUZZ_ARGS)

test-fast: install ## the suite on SQLite without browser and slow tests
	env -u DATABASE_URL CUNZHAN_TESTING=1 $(BIN)/pytest -q -m "not browser and not slow" $(PYTEST_ARGS)

check: install lint typecheck imports migrations-check ## ruff, mypy, import-linter, missing migrations

lint: install ## ruff lint and format check
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench

format: install ## apply ruff's fixes and formatting
	$(BIN)/ruff check --fix src tests bench
	$(BIN)/ruff format src tests bench

typecheck: install ## mypy with django-stubs
	CUNZHAN_TESTING=1 $(BIN)/mypy src

imports: install ## the domain order of DESIGN.md, checked by import-linter
	$(BIN)/lint-imports

migrations-check: install ## fail when a model change has no migration
	CUNZHAN_TESTING=1 $(BIN)/cunzhan makemigrations --check --dry-run

openapi: install ## write the committed OpenAPI schema (docs/openapi.json)
	CUNZHAN_TESTING=1 $(BIN)/cunzhan openapi_export docs/openapi.json

messages: install ## compile translations (zh-Hans is the source language; en is shipped)
	cd src/cunzhan && CUNZHAN_TESTING=1 ../../$(BIN)/cunzhan compilemessages -v0

bench-regions: install ## whole-country region import on SQLite and PostgreSQL (docs/benchmarks.md)
	$(BIN)/python bench/regions_import.py --pg-url $(PG_URL)

bench-planner: install ## PyVRP vs VROOM vs OR-Tools vs baseline on data/vrp, 30 s each (~20 min; docs/benchmarks.md)
	$(BIN)/pip install --quiet -e '.[bench]'
	mkdir -p var
	nice $(BIN)/python bench/planner_compare.py --time-limit 30 --json var/planner_compare.json

clean: ## remove the venv and local database
	rm -rf $(VENV) var
