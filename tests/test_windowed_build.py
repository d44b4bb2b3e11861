"""The windowed Windows build (kiosk.exe, no console) has no stderr: the UI must still start."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

UI_WITHOUT_STDERR = """
import sys
sys.stderr = None  # what a windowed PyInstaller program gets when no console is attached
from kiosk.guardian_link import GuardianLink
link = GuardianLink.from_stdio([])
print("a stray print must not reach the guardian's pipe", flush=True)
link.page("A")
"""


def test_ui_without_stderr_still_reports_its_page_and_strays_go_nowhere():
    done = subprocess.run([sys.executable, "-c", UI_WITHOUT_STDERR], cwd=ROOT,
                          stdin=subprocess.PIPE, capture_output=True, timeout=30, check=False)
    assert done.returncode == 0, done.stderr
    assert done.stdout == b"page A\n"
