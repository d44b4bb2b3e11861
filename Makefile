# Two commands on a fresh machine: `make run` and `make test` (each sets itself up first).
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
# The system tools of the end-to-end tests (X; Xorg's dummy driver for several monitors)
# and of the remote log's (a real rsyslog).
TEST_TOOLS := Xvfb=xvfb xdotool=xdotool xwd=x11-apps rsyslogd=rsyslog Xorg=xserver-xorg-core \
	/usr/lib/xorg/modules/drivers/dummy_drv.so=xserver-xorg-video-dummy \
	xrandr=x11-xserver-utils xsetroot=x11-xserver-utils
DIST_STAMP := $(VENV)/.dist-installed

.PHONY: install run test test-windows lint unit e2e bench clean dist venue soak

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
	bash tools/ensure-tools.sh $(TEST_TOOLS)
	$(PY) -m pytest -q -m e2e

test: lint
	bash tools/ensure-tools.sh $(TEST_TOOLS)
	$(PY) -m pytest -q

# The same suite under a Windows CPython in Wine, on an Xvfb of its own: the Win32 code runs
# for real (README "For developers"). Builds ../shared/winpy once (root, apt; ~10 min), then
# reuses it. PYTEST_ARGS: instead of the whole suite, e.g. PYTEST_ARGS=tests/test_instance.py
WINPY_DIR ?= ../shared/winpy
test-windows:
	WINPY_DIR=$(WINPY_DIR) bash tools/test-windows.sh $(PYTEST_ARGS)

$(DIST_STAMP): requirements-dist.txt $(STAMP)
	$(PY) -m pip install --quiet -r requirements-dist.txt
	touch $(DIST_STAMP)

# dist/kiosk/: the program as one folder for this OS (Linux here; the Windows command is
# in README), then a smoke check of the built program (it starts and locks the screen).
dist: $(DIST_STAMP)
	rm -rf build/kiosk dist/kiosk
	$(PY) -m PyInstaller --noconfirm --clean --distpath dist --workpath build packaging/kiosk.spec
	bash tools/ensure-x-tools.sh
	$(PY) tools/check_dist.py dist/kiosk

# Not part of `make test`: minutes long. Both write their report to bench-out/.
venue: install
	$(PY) tools/venue.py $(VENUE_ARGS)

soak: install
	bash tools/ensure-tools.sh $(TEST_TOOLS)
	$(PY) tools/soak.py --minutes $(or $(SOAK_MINUTES),10) \
		--session-minutes $(or $(SOAK_SESSION_MINUTES),0)

# Speed and footprint beside same-run references (not part of `make test`; takes ~13 min).
# BENCH_ARGS="--only standby": the standby video's rows alone (a few minutes).
bench: install
	$(PY) -m bench $(BENCH_ARGS)

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache logs cache build dist
