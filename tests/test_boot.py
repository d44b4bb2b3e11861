"""The boot race: the UI's black window is up before anything else of the kiosk loads."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from kiosk.cover import window_spec

ROOT = Path(__file__).resolve().parent.parent
HEAVY = ("yaml", "cv2", "numpy", "requests", "qrcode", "argparse", "logging", "kiosk.config",
         "kiosk.flow", "kiosk.app")

PROBE = """
import json, sys
import main
cover = main.cover_first(sys.argv[1:])
size = list(cover[0].size) if cover else None
print(json.dumps({"size": size, "loaded": sorted(sys.modules)}))
"""


def first_act(*argv: str) -> dict:
    env = {**os.environ, "SDL_VIDEODRIVER": "dummy", "PYGAME_HIDE_SUPPORT_PROMPT": "1"}
    out = subprocess.run([sys.executable, "-c", PROBE, *argv], cwd=ROOT, env=env,
                         capture_output=True, text=True, timeout=60, check=True).stdout
    return json.loads(out.splitlines()[-1])


@pytest.mark.parametrize(("window", "size"), [("full", [1024, 768]), ("800x600", [800, 600])])
def test_the_guardians_ui_covers_the_screen_before_loading_anything_heavy(window, size):
    seen = first_act("--config", "config.yaml", "--role", "ui", "--window", window)
    assert seen["size"] == size  # SDL's dummy screen is 1024×768
    loaded = [m for m in seen["loaded"] if m.startswith(HEAVY)]
    assert loaded == [], f"loaded before the first frame: {loaded}"


@pytest.mark.parametrize("argv", [
    ("--config", "config.yaml"),  # the guardian itself: no window of its own
    ("--config", "config.yaml", "--window", "full"),  # not even if it is given one
    ("--role", "ui"),  # a UI started by hand: the window comes once the config is read
    ("--role", "ui", "--window", "huge"),
    ("--role", "ui", "--window"),
])
def test_without_a_valid_window_flag_nothing_is_shown_early(argv):
    assert first_act(*argv)["size"] is None


@pytest.mark.parametrize(("text", "spec"), [
    ("full", (True, (0, 0))),
    ("1280x720", (False, (1280, 720))),
    ("0x720", None), ("1280x", None), ("x", None), ("-5x3", None), ("１２x３", None), ("", None),
])
def test_window_flag_is_read_strictly(text, spec):
    assert window_spec(text) == spec
