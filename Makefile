# Hài Lòng — the commands of the README. Each target installs what it needs first.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: install run test tour simulate bench soak clean

$(STAMP): setup.cfg pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $(STAMP)

install: $(STAMP)

## run: the kiosk on config.yaml (demo roster, local SQLite under data/)
run: $(STAMP)
	$(BIN)/python main.py

## test: the whole test suite (headless)
test: $(STAMP)
	$(BIN)/python -m pytest

## test-postgres: the server and sync tests on a throwaway PostgreSQL (not part of `make test`)
.PHONY: test-postgres
test-postgres: $(STAMP)
	PYTHON=$(BIN)/python tests/postgres/run.sh

## tour: a PNG of every screen, both orientations, in tour/
tour: $(STAMP)
	$(BIN)/python -m kiosk.tour tour

## simulate: 100 simulated ratings into the demo database (flagged simulated)
simulate: $(STAMP)
	$(BIN)/python -m kiosk.simulate --config config.yaml --count 100

## bench: print the performance figures
bench: $(STAMP)
	$(BIN)/python bench/tap_to_commit.py
	$(BIN)/python bench/frames.py
	$(BIN)/python bench/frames.py --hanging-server
	$(BIN)/python bench/cold_start.py
	$(BIN)/python bench/ingest.py
	$(BIN)/python bench/drain.py

## soak: the long runs, not part of `make test`: 2,000 kills, a 2,000-example API fuzz
soak: $(STAMP)
	HAILONG_KILLS=2000 $(BIN)/python -m pytest -o addopts= tests/test_durability.py
	HAILONG_FUZZ_EXAMPLES=2000 $(BIN)/python -m pytest -o addopts= tests/test_server_api.py -k fuzz

clean:
	rm -rf $(VENV) tour .pytest_cache
