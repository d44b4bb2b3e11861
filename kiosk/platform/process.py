"""Starting this program again (as the UI, a guardian or the simulator) and ending it, on any OS."""

from __future__ import annotations

import os
import signal
import sys
from collections.abc import Mapping
from pathlib import Path

MAIN_PY = Path(__file__).resolve().parent.parent.parent / "main.py"


def self_argv(*args: str) -> list[str]:
    """Run this program again with ``args`` (a frozen build is its own interpreter)."""
    if getattr(sys, "frozen", False):
        return [sys.executable, *args]
    return [sys.executable, str(MAIN_PY), *args]


# Windows: a process group of its own (no console Ctrl+C/Ctrl+Break from ours) and no
# console window: the windowless kiosk starting a console program (shutdown.exe, a reboot
# tool) would otherwise give it a new console window over the locked page (Microsoft's
# "Creation of a Console"; Wine does the same). Ignored for windowed programs.
CREATE_NEW_PROCESS_GROUP = 0x00000200
CREATE_NO_WINDOW = 0x08000000


def detached(platform: str = sys.platform) -> dict:
    """Popen options for a process that must not die with the one that starts it."""
    if platform == "win32":
        return {"creationflags": CREATE_NEW_PROCESS_GROUP | CREATE_NO_WINDOW}
    return {"start_new_session": True}


def kill(pid: int, platform: str = sys.platform) -> None:
    """End a process at once, even a stopped or hung one (it gets no say)."""
    # os.kill with any signal is TerminateProcess on Windows; SIGKILL is POSIX only.
    os.kill(pid, signal.SIGTERM if platform == "win32" else getattr(signal, "SIGKILL", 9))


# glibc keeps freed large blocks (video frames, decoder buffers) resident unless they
# stay mmap()ed, and gives every thread an arena of its own: about 10 MB of the UI's
# RSS with a 1080p video (make bench). The UI allocates its frame buffers once, so
# mapping large blocks costs nothing per frame. Other C libraries ignore these names.
LINUX_UI_MALLOC = {"MALLOC_MMAP_THRESHOLD_": str(1024 * 1024), "MALLOC_ARENA_MAX": "2"}


def ui_environment(base: Mapping[str, str] | None = None,
                   platform: str = sys.platform) -> dict[str, str]:
    """The environment the UI process is started with: ours, plus the allocator's
    settings on Linux (an operator's own values win)."""
    env = dict(os.environ if base is None else base)
    if platform.startswith("linux"):
        for name, value in LINUX_UI_MALLOC.items():
            env.setdefault(name, value)
    return env
