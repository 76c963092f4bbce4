# Two commands on a fresh machine with Python 3.11 and make:
#   make serve   create .venv, install, build dist/, serve on http://127.0.0.1:8000
#   make test    create .venv, install, lint + type check + all tests
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: serve test lint typecheck pytest validate build bench bench-sparql bench-scaleout clean pyshacl-sdist node ui-assets

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

# npm packages (package-lock.json): the query editor served at /sparql, and the test tools.
NODE_STAMP := node_modules/.installed

$(NODE_STAMP): package.json package-lock.json
	# swagger-ui-dist pulls in @scarf/scarf, whose install script reports installs to a third
	# party: switched off here and by scarfSettings in package.json.
	SCARF_ANALYTICS=false npm ci --no-audit --no-fund --loglevel=error
	touch $(NODE_STAMP)

node: $(NODE_STAMP)

# The query editor's files, copied from node_modules into the package (git-ignored) so that the
# server serves them itself and the wheel ships them: the page loads nothing from a CDN.
UI_VENDOR := src/psm_kg/static/vendor/yasgui
UI_STAMP := $(UI_VENDOR)/.installed

# Swagger UI for the API's /docs page, copied the same way.
DOCS_VENDOR := src/psm_kg/static/vendor/swagger-ui

$(UI_STAMP): $(NODE_STAMP)
	mkdir -p $(UI_VENDOR) $(DOCS_VENDOR)
	cp node_modules/@zazuko/yasgui/build/yasgui.min.js node_modules/@zazuko/yasgui/build/yasgui.min.css \
	  node_modules/@zazuko/yasgui/package.json $(UI_VENDOR)/
	cp node_modules/swagger-ui-dist/swagger-ui-bundle.js node_modules/swagger-ui-dist/swagger-ui.css \
	  node_modules/swagger-ui-dist/favicon-32x32.png node_modules/swagger-ui-dist/package.json \
	  $(DOCS_VENDOR)/
	touch $(UI_STAMP)

# Without npm the server still runs: the editor page falls back to a plain form. The tests need it.
ui-assets:
	@if command -v npm >/dev/null 2>&1; then $(MAKE) --no-print-directory $(UI_STAMP); \
	else echo "npm not found: /sparql offers a plain query form and /docs no Swagger UI (install Node.js, then make ui-assets)"; fi

build: $(STAMP) ui-assets
	$(BIN)/psm-kg build

serve: build ui-assets
	$(BIN)/psm-kg serve --host $(HOST) --port $(PORT)

validate: $(STAMP)
	$(BIN)/psm-kg validate

lint: $(STAMP)
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench

typecheck: $(STAMP)
	$(BIN)/mypy

# pySHACL's sdist for the installed version: its W3C SHACL tests (tests/test_engine_conformance.py).
PYSHACL_SDIST_DIR := .cache/pyshacl-sdist

pyshacl-sdist: $(STAMP)
	@v=$$($(BIN)/python -c 'from importlib.metadata import version; print(version("pyshacl"))'); \
	test -f $(PYSHACL_SDIST_DIR)/pyshacl-$$v.tar.gz || \
	$(BIN)/python -m pip download --quiet --no-deps --no-binary :all: "pyshacl==$$v" -d $(PYSHACL_SDIST_DIR)

# One worker per core (at most 4), each taking whole test files: a module's servers and engines
# start once, in the worker that runs it.
pytest: $(STAMP) pyshacl-sdist $(NODE_STAMP) $(UI_STAMP)
	$(BIN)/pytest -n auto --maxprocesses 4 --dist loadfile

test: lint typecheck pytest

bench: $(STAMP)
	$(BIN)/python bench/bench_validate.py

# About 20 minutes: psm-kg's /sparql against the Oxigraph server, rdflib-endpoint and a FastAPI floor.
bench-sparql: $(STAMP)
	$(BIN)/python bench/bench_sparql.py

# About 25 minutes, needs virtuoso-opensource-7-bin and nginx: psm-kg embedded vs over the Oxigraph
# server vs over Virtuoso at ~10k, ~100k and ~1M triples, and 1, 2, 4 replicas behind nginx.
bench-scaleout: $(STAMP)
	$(BIN)/python bench/bench_scaleout.py

clean:
	rm -rf dist node_modules .mypy_cache .pytest_cache .ruff_cache
