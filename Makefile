# Entry points for people and CI. `make run` and `make test` do all set-up themselves.
SHELL := /bin/bash
VENV := .venv/bin
DEV_CONFIG := config/physioez.dev.toml

.PHONY: setup run seed test lint bench clean

setup:
	@scripts/setup.sh

## Start the appliance with demo data on embedded defaults (SQLite, no MQTT/MySQL).
run: setup
	@export PHYSIOEZ_CONFIG=$(DEV_CONFIG); \
	$(VENV)/physioez migrate >/dev/null && \
	$(VENV)/physioez seed-demo && \
	echo && echo "PhysioEZ is starting at http://127.0.0.1:8080/  (Ctrl+C stops it)" && echo && \
	exec $(VENV)/physioez serve

## The whole test suite: lint, format check, module contracts, types, unit, browser and slow tests.
test: setup
	@scripts/install-test-deps.sh
	@scripts/setup.sh
	$(VENV)/ruff check appliance tests bench
	$(VENV)/ruff format --check appliance tests bench
	$(VENV)/lint-imports
	$(VENV)/mypy
	$(VENV)/pytest

lint: setup
	$(VENV)/ruff check appliance tests bench
	$(VENV)/ruff format --check appliance tests bench
	$(VENV)/lint-imports
	$(VENV)/mypy

bench: setup
	$(VENV)/python bench/http_bench.py

clean:
	rm -rf var .pytest_cache .ruff_cache bench/results
