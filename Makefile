# The two commands of README.md: `make run` and `make test`. Everything else is a step of theirs.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
FLASK := $(BIN)/flask --app app
HOST ?= 127.0.0.1
PORT ?= 5000

.PHONY: run test install install-dev migrate deploy demo lint format bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q -e .
	touch $@

$(VENV)/.installed-dev: pyproject.toml $(VENV)/.installed
	$(BIN)/pip install -q -e '.[dev]'
	touch $@

# Front-end libraries come from the npm registry and are served by the app (no CDN).
node_modules/.package-lock.json: package.json package-lock.json
	npm ci --no-audit --no-fund

install: $(VENV)/.installed node_modules/.package-lock.json
install-dev: $(VENV)/.installed-dev node_modules/.package-lock.json

migrate: install
	mkdir -p var
	$(FLASK) db upgrade

deploy: migrate
	$(FLASK) calendar seed
	$(FLASK) processes deploy

demo: deploy
	$(FLASK) demo load

run: demo
	$(FLASK) serve --host $(HOST) --port $(PORT)

lint: install-dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: install-dev
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

# SQLite always; PostgreSQL + Redis too when TEST_POSTGRES_URL / TEST_REDIS_URL are set (CI sets them).
test: lint
	$(BIN)/pytest -q -m "not postgres"
	@if [ -n "$$TEST_POSTGRES_URL" ]; then \
	  echo "== again on PostgreSQL ($$TEST_POSTGRES_URL) with Redis ($$TEST_REDIS_URL) =="; \
	  TEST_DATABASE_URL="$$TEST_POSTGRES_URL" $(BIN)/pytest -q; \
	else echo "TEST_POSTGRES_URL not set: PostgreSQL pass skipped (CI runs it)"; fi

bench: install-dev
	$(BIN)/python bench/engine.py

clean:
	rm -rf $(VENV) var .pytest_cache .ruff_cache
