# Two commands for a fresh machine (Python >= 3.11, pip, make):
#   make run   — set up .venv and serve the API in local dev mode on http://127.0.0.1:8080
#   make test  — set up .venv, then lint (ruff), type-check (mypy) and run the tests (pytest)
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-$(shell cksum pyproject.toml | cut -d' ' -f1)
HOST   ?= 127.0.0.1
PORT   ?= 8080

.PHONY: run test lint samples clean system-deps

$(STAMP): pyproject.toml
	$(PYTHON) -c 'import sys; sys.exit("Python >= 3.11 is required") if sys.version_info < (3, 11) else None'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	rm -f $(VENV)/.installed-* && touch $(STAMP)

# Local development: no client authentication (CDS_AUTH_MODE=off, logged as a warning) and CORS open to
# any origin so the CDS Hooks sandbox in a browser can call it. Never run like this in production.
run: $(STAMP)
	CDS_AUTH_MODE=$${CDS_AUTH_MODE:-off} CDS_CORS_ORIGINS=$${CDS_CORS_ORIGINS:-*} CDS_FHIR_ALLOW_HTTP=$${CDS_FHIR_ALLOW_HTTP:-true} \
	$(BIN)/gunicorn 'service:create_app()' --bind $(HOST):$(PORT) --workers 2 --reload --access-logfile -

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

# Debian packages the tests start for real: redis-server (shared jti store).
system-deps:
	@command -v redis-server >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && apt-get install -y -qq redis-server >/dev/null; \
	  else echo "redis-server is missing: sudo apt-get install redis-server" >&2; exit 1; fi; }

test: lint system-deps
	$(BIN)/pytest

samples: $(STAMP)
	$(BIN)/python fhir_samples/make_requests.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache *.egg-info
