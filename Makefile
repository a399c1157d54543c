# The two commands of README.md: `make run` and `make test`. Everything else is a step of theirs.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
FLASK := $(BIN)/flask --app app
HOST ?= 127.0.0.1
PORT ?= 5000

.PHONY: run test install install-dev migrate deploy demo lint format bench clean translations translations-extract

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

# UI languages: each backend/translations/<lang>/LC_MESSAGES/messages.po compiles to its .mo (build
# output, not committed). Message ids are the Chinese texts; tests/i18n fails on an untranslated one.
MO_FILES := $(patsubst %.po,%.mo,$(wildcard backend/translations/*/LC_MESSAGES/messages.po))

%/LC_MESSAGES/messages.mo: %/LC_MESSAGES/messages.po | $(VENV)/.installed
	$(BIN)/pybabel compile -i $< -o $@

translations: $(MO_FILES)

# The messages the code and templates use, as a template catalogue to compare or merge by hand.
translations-extract: install
	mkdir -p var
	$(BIN)/pybabel extract -F babel.cfg -o var/messages.pot backend

migrate: install
	mkdir -p var
	$(FLASK) db upgrade

deploy: migrate
	$(FLASK) calendar seed
	$(FLASK) processes deploy

demo: deploy
	$(FLASK) demo load

run: demo translations
	$(FLASK) serve --host $(HOST) --port $(PORT)

lint: install-dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: install-dev
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

# SQLite always; PostgreSQL + Redis too when TEST_POSTGRES_URL / TEST_REDIS_URL are set (CI sets them).
# The browser tests (tests/browser) run their own server on SQLite: only in the first pass.
test: lint translations
	$(BIN)/pytest -q -m "not postgres"
	@if [ -n "$$TEST_POSTGRES_URL" ]; then \
	  echo "== again on PostgreSQL ($$TEST_POSTGRES_URL) with Redis ($$TEST_REDIS_URL) =="; \
	  TEST_DATABASE_URL="$$TEST_POSTGRES_URL" $(BIN)/pytest -q -m "not browser"; \
	else echo "TEST_POSTGRES_URL not set: PostgreSQL pass skipped (CI runs it)"; fi

bench: install-dev
	$(BIN)/python bench/engine.py

clean:
	rm -rf $(VENV) var .pytest_cache .ruff_cache
