# Two commands for a fresh machine (Python >= 3.11, pip, make):
#   make run   — set up .venv and serve the API in local dev mode on http://127.0.0.1:8080
#   make test  — set up .venv (+ Debian redis-server, chromium and wrk, npm newman and playwright-core), then
#                ruff, mypy, pytest
#   (make bench — the full benchmark against same-run floors, about 6 minutes; writes bench/RESULTS.md)
#   (make models — regenerate service/core/fhir_models.py after changing fhirdata.USED_ELEMENTS)
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-$(shell cat pyproject.toml requirements-dev.lock | cksum | cut -d' ' -f1)
HOST   ?= 127.0.0.1
PORT   ?= 8080

.PHONY: run test lint samples clean system-deps lock bench vendor models

$(STAMP): pyproject.toml requirements-dev.lock
	$(PYTHON) -c 'import sys; sys.exit("Python >= 3.11 is required") if sys.version_info < (3, 11) else None'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c requirements-dev.lock -e '.[dev]'
	rm -f $(VENV)/.installed-* && touch $(STAMP)

# Local development: no client authentication (CDS_AUTH_MODE=off, logged as a warning) and CORS open to
# any origin so the CDS Hooks sandbox in a browser can call it. Never run like this in production.
run: $(STAMP)
	CDS_AUTH_MODE=$${CDS_AUTH_MODE:-off} CDS_CORS_ORIGINS=$${CDS_CORS_ORIGINS:-*} CDS_FHIR_ALLOW_HTTP=$${CDS_FHIR_ALLOW_HTTP:-true} \
	$(BIN)/gunicorn --config gunicorn.conf.py --bind $(HOST):$(PORT) --workers 2 --reload 'service:create_app()'

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

# Debian packages the tests run for real: redis-server (shared jti store), chromium (renders /docs and
# /playground) and wrk (the HTTP load generator of bench/, run in smoke mode by the tests).
system-deps:
	@missing=""; command -v redis-server >/dev/null 2>&1 || missing="$$missing redis-server"; \
	command -v chromium >/dev/null 2>&1 || missing="$$missing chromium"; \
	command -v wrk >/dev/null 2>&1 || missing="$$missing wrk"; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
	  else echo "missing:$$missing (sudo apt-get install$$missing)" >&2; exit 1; fi; fi

# newman (npm) runs the Postman collection in the test suite, playwright-core drives chromium over /playground;
# pinned by package-lock.json.
node_modules/.bin/newman: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

test: lint system-deps node_modules/.bin/newman
	$(BIN)/pytest

bench: $(STAMP) system-deps
	$(BIN)/python -m bench

# Copy the playground's browser libraries (marked, DOMPurify) from node_modules into the package, where they
# are committed: the service and its image serve them without npm (after changing their pins in package.json).
vendor: $(STAMP) node_modules/.bin/newman
	$(BIN)/python tools/vendor_playground.py

# The FHIR models the service validates with, generated from fhir.resources for fhirdata.USED_ELEMENTS: run
# after changing USED_ELEMENTS or upgrading fhir.resources (tests/test_fhir_models.py fails until you do).
models: $(STAMP)
	$(BIN)/python tools/gen_fhir_models.py

samples: $(STAMP)
	$(BIN)/python fhir_samples/make_requests.py
	$(BIN)/python postman/build_collection.py

# Re-pin the dependencies after changing pyproject.toml: runtime (the image) and runtime + dev (make test).
lock:
	rm -rf .lockvenv && $(PYTHON) -m venv .lockvenv && .lockvenv/bin/pip install --quiet .
	{ echo "# Runtime dependencies, pinned (pip freeze of 'pip install .' on Python 3.11; regenerate with: make lock)"; \
	  .lockvenv/bin/pip freeze --exclude magnesium-cds; } > requirements.lock
	.lockvenv/bin/pip install --quiet '.[dev]'
	{ echo "# Runtime and development dependencies, pinned: the constraints make test and make run install with (make lock)"; \
	  .lockvenv/bin/pip freeze --exclude magnesium-cds; } > requirements-dev.lock
	rm -rf .lockvenv

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache *.egg-info
