# Leadline: `make demo` runs the CRM on the embedded defaults, `make test` runs every test.
VENV      := .venv
BIN       := $(VENV)/bin
UV_VERSION := 0.13.9
PYTHON    ?= python3

.PHONY: demo test install install-dev lint system-deps bench help messages

help:
	@echo "make demo   - install, create the database under ./var, load demo data"
	@echo "make test   - install with the dev tools, then run ruff, mypy and the whole test suite (SQLite and PostgreSQL)"
	@echo "make bench  - run the benchmarks under bench/"
	@echo "make messages - extract translatable messages into crm_store/translations (then translate new ones)"

# The runtime dependencies only (what `make demo` needs), and the dev group on top (tests, ruff, mypy).
$(BIN)/crm: pyproject.toml uv.lock
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@test -x $(BIN)/uv || $(BIN)/python -m pip install -q --disable-pip-version-check "uv==$(UV_VERSION)"
	UV_PROJECT_ENVIRONMENT=$(VENV) $(BIN)/uv sync --frozen --inexact --no-dev
	@touch $@

$(VENV)/.dev-installed: $(BIN)/crm
	UV_PROJECT_ENVIRONMENT=$(VENV) $(BIN)/uv sync --frozen --inexact
	@touch $@

install: $(BIN)/crm

install-dev: $(VENV)/.dev-installed

system-deps:
	@sh .ci/system-deps.sh

demo: install
	$(BIN)/crm init
	$(BIN)/crm demo
	$(BIN)/crm mail send
	$(BIN)/crm mail status
	@echo ""
	@echo "Web form 'Website inquiry': open $${CRM_BASE_URL:-http://127.0.0.1:8000}/forms/$$($(BIN)/crm forms show 'Website inquiry' --public-id)"
	@echo "Embed it on a page served from http://localhost:8080 by pasting:"
	@$(BIN)/crm forms show "Website inquiry" --snippet
	@echo ""
	@echo "Starting the services (web app on $${CRM_BASE_URL:-http://127.0.0.1:8000}, mail worker, scheduler); Ctrl-C stops them."
	$(BIN)/crm up

lint: install-dev
	$(BIN)/ruff check .
	$(BIN)/mypy

test: lint system-deps
	$(BIN)/pytest

bench: install-dev
	$(BIN)/python -m bench.cli_startup
	$(BIN)/python -m bench.bulk_insert
	$(BIN)/python -m bench.webform_load

# Extract every message into the catalogues; new or changed ones are left empty or fuzzy for a translator
# (the tests fail until they are translated). See docs/translations.md.
POT := $(VENV)/messages.pot
messages: install
	$(BIN)/pybabel -q extract -F babel.cfg -k translate:2 -k translate_plural:2,3 -k N_ --no-location --sort-output \
		--no-wrap --project Leadline --msgid-bugs-address "" -o $(POT) .
	$(BIN)/pybabel -q update -i $(POT) -d crm_store/translations -D messages --no-wrap --ignore-obsolete
