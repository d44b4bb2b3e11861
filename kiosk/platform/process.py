"""Starting this program again (as the UI, a guardian or the simulator) and ending it, on any OS."""

from __future__ import annotations

import os
import signal
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


def kill(pid: int, platform: str = sys.platform) -> None:
    """End a process at once, even a stopped or hung one (it gets no say)."""
    # os.kill with any signal is TerminateProcess on Windows; SIGKILL is POSIX only.
    os.kill(pid, signal.SIGTERM if platform == "win32" else getattr(signal, "SIGKILL", 9))
