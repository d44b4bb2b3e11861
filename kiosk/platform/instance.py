"""One kiosk per PC: the guardian holds a lock for its whole life.

POSIX: ``flock`` on the lock file. Windows: a named mutex (machine-wide, ``Global\\``),
whose name comes from the lock file's path; the file then only carries the pid.
Both are released by the OS the moment the holder dies, however it dies, so a
guardian started by the UI after the old one was killed can take the lock over,
and a crash never leaves a stale lock behind. Neither handle is inherited by the UI.
"""

from __future__ import annotations

import logging
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

ERROR_ALREADY_EXISTS = 183
ERROR_ACCESS_DENIED = 5
# A holder writes its pid just after it takes the lock: a second start that reads in
# between finds the file empty, and reads it again for this long (or until it is written).
HOLDER_WAIT_S = 1.0
HOLDER_STEP_S = 0.02


def mutex_name(path: Path) -> str:
    """The Windows mutex for ``path``: the same lock file always gives the same name."""
    import hashlib  # Windows only: kept off the start-up path elsewhere

    digest = hashlib.sha256(str(path).casefold().encode("utf-8")).hexdigest()[:24]
    return f"Global\\saoma-kiosk-{digest}"


def _kernel32() -> Any:
    import ctypes  # Windows only; imported when used so tests can hand in a fake
    from ctypes import wintypes

    kernel32 = ctypes.WinDLL("kernel32", use_last_error=True)
    kernel32.CreateMutexW.restype = wintypes.HANDLE
    kernel32.CreateMutexW.argtypes = (wintypes.LPVOID, wintypes.BOOL, wintypes.LPCWSTR)
    kernel32.CloseHandle.argtypes = (wintypes.HANDLE,)
    kernel32.get_last_error = ctypes.get_last_error
    return kernel32


def _fcntl() -> Any:
    import fcntl

    return fcntl


class InstanceLock:
    """``acquire()`` is True for the one process that may run the kiosk."""

    def __init__(self, path: Path, platform: str = sys.platform, *,
                 kernel32: Any = None, fcntl: Any = None,
                 clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self.path = path
        self.platform = platform
        self._kernel32 = kernel32
        self._fcntl = fcntl
        self._clock = clock
        self._sleep = sleep
        self._held: Any = None  # the open file (POSIX) or the mutex handle (Windows)

    def acquire(self) -> bool:
        """Take the lock if nobody holds it; never waits."""
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            log.warning("cannot create the folder of the lock file %s: %s", self.path, exc)
        taken = self._take()
        if taken:
            self._write_pid()
        return taken

    def _take(self) -> bool:
        """The OS's lock alone: the pid is written just after, by ``acquire``."""
        return self._mutex() if self.platform == "win32" else self._flock()

    def acquire_within(self, seconds: float, step_s: float = 0.1) -> bool:
        """Keep trying for a while: the previous holder may be dying right now."""
        deadline = time.monotonic() + seconds
        while not self.acquire():
            if time.monotonic() >= deadline:
                return False
            time.sleep(step_s)
        return True

    def holder(self, wait_s: float = HOLDER_WAIT_S) -> int | None:
        """The pid written by whoever holds the lock, if it can be read.

        The holder takes the lock first and writes its pid a moment later, so a start
        refused in between finds the file empty, or on Windows (where the mutex needs no
        file) not there yet: it is read again for up to ``wait_s`` until the pid is there.
        Anything but a pid is answered at once.
        """
        deadline = self._clock() + wait_s
        while True:
            try:
                text = self.path.read_text(encoding="ascii").strip()
            except FileNotFoundError:
                text = ""
            except (OSError, UnicodeDecodeError):
                return None
            if text or self._clock() >= deadline:
                return int(text) if text.isdigit() else None
            self._sleep(HOLDER_STEP_S)

    def _flock(self) -> bool:
        fcntl = self._fcntl or _fcntl()
        try:
            # "a+" neither truncates a holder's pid nor fails on a missing file.
            handle = open(self.path, "a+", encoding="ascii")  # noqa: SIM115 (held for life)
        except OSError as exc:
            log.error("cannot open the lock file %s: %s; running without it", self.path, exc)
            return True  # a read-only disk must not stop the kiosk from locking the PC
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            handle.close()
            return False
        self._held = handle
        return True

    def _mutex(self) -> bool:
        kernel32 = self._kernel32 or _kernel32()
        handle = kernel32.CreateMutexW(None, False, mutex_name(self.path))
        error = kernel32.get_last_error()
        if not handle:
            # Access denied: the mutex exists under another account's security: it is held.
            if error != ERROR_ACCESS_DENIED:
                log.error("CreateMutexW failed (error %d); running without the lock", error)
            return error != ERROR_ACCESS_DENIED
        if error == ERROR_ALREADY_EXISTS:
            kernel32.CloseHandle(handle)
            return False
        self._held = handle
        return True

    def _write_pid(self) -> None:
        try:
            if self.platform == "win32":
                self.path.write_text(str(os.getpid()), encoding="ascii")
            else:
                self._held.seek(0)
                self._held.truncate()
                self._held.write(str(os.getpid()))
                self._held.flush()
        except (OSError, AttributeError, ValueError) as exc:
            log.warning("cannot write the pid into %s: %s", self.path, exc)
