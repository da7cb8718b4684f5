# The two set-up commands of the README: `make run` and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin

.PHONY: run test install install-test static demo serve bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e .
	touch $@

$(VENV)/.installed-test: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e '.[test]'
	touch $@ $(VENV)/.installed

install: $(VENV)/.installed
install-test: $(VENV)/.installed-test

# MapLibre GL JS from the npm registry, copied into the package's static files.
static:
	scripts/build_static.sh

# Install, build the demo database if absent, serve http://127.0.0.1:8000
run: install static
	$(BIN)/landcycle demo --if-empty
	$(BIN)/landcycle serve --host 127.0.0.1 --port 8000

# Install test extras and run the whole suite (PostgreSQL half runs when
# LANDCYCLE_TEST_PG_URL is set — .ci/run sets it), one worker per core; the 30 slowest
# tests are listed at the end. The schemathesis fuzz runs on its own afterwards, in one process:
# among other files on an xdist worker its per-operation subtests were not all run.
test: install-test static
	$(BIN)/python -m pytest -n auto --dist loadfile --durations=30 --ignore=tests/test_api_fuzz.py; \
	status=$$?; $(BIN)/python -m pytest -p no:xdist tests/test_api_fuzz.py || status=1; exit $$status

bench: install
	$(BIN)/pip install --quiet -e ".[bench]"
	$(BIN)/python benchmarks/demo_generation.py
	$(BIN)/python benchmarks/evaluation.py
	$(BIN)/python benchmarks/import_parcels.py
	$(BIN)/python benchmarks/api_load.py

clean:
	rm -rf $(VENV) var src/landcycle/faces/web/static/vendor web/node_modules
