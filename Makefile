# Hài Lòng — the commands of the README. Each target installs what it needs first.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
# The kiosk alone for `make run`; both ends and the test tools for the rest.
KIOSK  := $(VENV)/.installed-kiosk
STAMP  := $(VENV)/.installed-test

.PHONY: install run test test-fast lint browser tour tour-server simulate bench soak clean

$(VENV)/bin/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(KIOSK): setup.cfg pyproject.toml | $(VENV)/bin/python
	$(BIN)/python -m pip install --quiet -e '.[kiosk]'
	touch $(KIOSK)

$(STAMP): setup.cfg pyproject.toml | $(VENV)/bin/python
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $(KIOSK) $(STAMP)

install: $(STAMP)

## run: the kiosk on config.yaml (demo roster, local SQLite under data/)
run: $(KIOSK)
	$(BIN)/python main.py

## lint: ruff, and the import rules of setup.cfg (sync/ stands alone, the two ends never meet)
lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/lint-imports --no-cache

## browser: Debian's Chromium, which the dashboard's tests drive headless, and poppler's pdftotext/pdftoppm,
## which read the letters and reports back (installed when missing, as root)
browser:
	@{ command -v chromium && command -v pdftotext && command -v pdftoppm; } >/dev/null || \
	  { [ "$$(id -u)" = 0 ] && apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium poppler-utils >/dev/null; } || \
	  { echo "the dashboard tests need Debian's chromium and poppler-utils: apt-get install chromium poppler-utils"; exit 1; }

## test: lint, then the whole test suite (headless Kivy, real server, headless Chromium)
test: lint browser
	$(BIN)/python -m pytest

## test-fast: lint and the suite without the tests marked slow (integration over real processes)
test-fast: lint browser
	$(BIN)/python -m pytest -m "not slow"

## test-postgres: the server and sync tests on a throwaway PostgreSQL (not part of `make test`)
.PHONY: test-postgres
test-postgres: $(STAMP)
	PYTHON=$(BIN)/python tests/postgres/run.sh

## bench-postgres: the ingest benchmark on a throwaway PostgreSQL with fsync on (not part of `make bench`)
.PHONY: bench-postgres
bench-postgres: $(STAMP)
	PYTHON=$(BIN)/python HAILONG_PG_FSYNC=on tests/postgres/run.sh --run $(BIN)/python bench/ingest.py --postgres

## tour: a PNG of every screen, both orientations, in tour/
tour: $(KIOSK)
	$(BIN)/python -m kiosk.tour tour

## tour-server: a PNG of every dashboard page, for each role, at desktop and phone width, in tour/server/
tour-server: $(STAMP) browser
	$(BIN)/python -m tests.web.tour tour/server

## simulate: 100 simulated ratings into the demo database (flagged simulated)
simulate: $(KIOSK)
	$(BIN)/python -m kiosk.simulate --config config.yaml --count 100

## bench: print the performance figures
bench: $(STAMP)
	$(BIN)/python bench/tap_to_commit.py
	$(BIN)/python bench/frames.py
	$(BIN)/python bench/frames.py --hanging-server
	$(BIN)/python bench/cold_start.py
	$(BIN)/python bench/ingest.py
	$(BIN)/python bench/drain.py
	$(BIN)/python bench/dashboard.py --keep .bench
	$(BIN)/python bench/reports.py --keep .bench
	$(BIN)/python bench/storage.py --keep .bench

## soak: the long runs, not part of `make test`: 2,000 kills, a 2,000-example API fuzz
soak: $(STAMP)
	HAILONG_KILLS=2000 $(BIN)/python -m pytest -o addopts= tests/test_durability.py
	HAILONG_FUZZ_EXAMPLES=2000 $(BIN)/python -m pytest -o addopts= tests/test_server_api.py -k fuzz

clean:
	rm -rf $(VENV) tour .pytest_cache .bench
