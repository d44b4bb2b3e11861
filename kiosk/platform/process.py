"""Starting this program again (as the UI, a guardian or the simulator), on any OS."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

MAIN_PY = Path(__file__).resolve().parent.parent.parent / "main.py"


def self_argv(*args: str) -> list[str]:
    """Run this program again with ``args`` (a frozen build is its own interpreter)."""
    if getattr(sys, "frozen", False):
        return [sys.executable, *args]
    return [sys.executable, str(MAIN_PY), *args]


def detached(platform: str = sys.platform) -> dict:
    """Popen options for a process that must not die with the one that starts it."""
    if platform == "win32":
        return {"creationflags": getattr(subprocess, "CREATE_NEW_PROCESS_GROUP", 0x200)}
    return {"start_new_session": True}
