# Two commands on a fresh machine: `make run` and `make test` (each sets itself up first).
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: install run test lint unit e2e bench clean

$(STAMP): requirements.txt requirements-dev.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements-dev.txt
	touch $(STAMP)

install: $(STAMP)

run: install
	$(PY) main.py --config config.yaml

lint: install
	$(VENV)/bin/ruff check .

unit: install
	$(PY) -m pytest -q -m "not e2e"

e2e: install
	bash tools/ensure-x-tools.sh
	$(PY) -m pytest -q -m e2e

test: lint
	bash tools/ensure-x-tools.sh
	$(PY) -m pytest -q

# Speed and footprint beside same-run references (not part of `make test`; takes ~5 min).
bench: install
	$(PY) -m bench

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache logs cache
