"""Logging and the JSON-lines trace (DESIGN.md §5), set up before anything else."""

from __future__ import annotations

import contextlib
import json
import logging
import logging.handlers
import os
import sys
import threading
import time
from collections.abc import Callable, Hashable
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from kiosk.remote_log import RemoteLog

FORMAT = "%(asctime)s %(levelname)s %(process)d %(name)s: %(message)s"
MAX_BYTES = 2 * 1024 * 1024
BACKUPS = 5


class Limiter:
    """Lets a line through once per key and ``every_s``, counting the ones it holds back,
    so a fault that lasts for hours writes a line a minute instead of a line a poll."""

    def __init__(self, every_s: float = 60.0, clock: Callable[[], float] = time.monotonic) -> None:
        self.every_s = every_s
        self.clock = clock
        self._lock = threading.Lock()
        self._last: dict[Hashable, float] = {}
        self._held: dict[Hashable, int] = {}

    def allow(self, key: Hashable) -> int | None:
        """None: hold this line back; otherwise how many were held back since the last one."""
        now = self.clock()
        with self._lock:
            last = self._last.get(key)
            if last is not None and now - last < self.every_s:
                self._held[key] = self._held.get(key, 0) + 1
                return None
            self._last[key] = now
            return self._held.pop(key, 0)


def held_note(held: int) -> str:
    """The suffix of a rate-limited line that says how many like it were not written."""
    return f" (and {held} more since the last line)" if held else ""


class _SafeRotatingHandler(logging.handlers.RotatingFileHandler):
    """A full or vanished disk must not turn a log line into a crash."""

    def handleError(self, record: logging.LogRecord) -> None:  # noqa: N802 (logging API)
        pass

    def flush(self) -> None:
        with contextlib.suppress(OSError):  # ENOSPC: the lines are lost, the kiosk is not
            super().flush()

    def close(self) -> None:
        with contextlib.suppress(OSError):
            super().close()


def setup(log_dir: Path | None, name: str) -> None:
    """Log to stderr and, when possible, to a rotating file ``<log_dir>/<name>.log``."""
    root = logging.getLogger()
    root.setLevel(logging.INFO)
    for handler in list(root.handlers):
        root.removeHandler(handler)
    if sys.stderr is not None:  # None: pythonw or the windowed build, no console at all
        console = logging.StreamHandler(sys.stderr)
        console.setFormatter(logging.Formatter(FORMAT))
        root.addHandler(console)
    if log_dir is not None:
        try:
            log_dir.mkdir(parents=True, exist_ok=True)
            handler = _SafeRotatingHandler(log_dir / f"{name}.log", maxBytes=MAX_BYTES,
                                           backupCount=BACKUPS, encoding="utf-8")
        except OSError as exc:
            root.warning("cannot write logs in %s (%s); logging to the console only",
                         log_dir, exc)
        else:
            handler.setFormatter(logging.Formatter(FORMAT))
            root.addHandler(handler)
    logging.getLogger("urllib3").setLevel(logging.WARNING)

    def log_uncaught(kind, value, tb):
        logging.getLogger("kiosk").critical("uncaught exception", exc_info=(kind, value, tb))

    sys.excepthook = log_uncaught
    threading.excepthook = lambda args: logging.getLogger("kiosk").critical(
        "uncaught exception in thread %s", args.thread.name if args.thread else "?",
        exc_info=(args.exc_type, args.exc_value, args.exc_traceback))


def forward(remote: RemoteLog) -> None:
    """Send every log line at warning or above to the remote log too (``log.remote``)."""
    from kiosk.remote_log import RemoteHandler

    logging.getLogger().addHandler(RemoteHandler(remote))


class Trace:
    """Appends one JSON object per page change or reboot, flushed at once, and sends the
    same event to the remote log when there is one.

    The UI and the guardian both append to the same file; each line is one
    ``write`` on a file opened for appending, so their lines never interleave.
    """

    def __init__(self, path: Path | None, remote: RemoteLog | None = None, *,
                 create: bool = True) -> None:
        self.path = path
        self.remote = remote
        # False: append only to a file the kiosk made (the root/LocalSystem watchdog must
        # not create the kiosk account's trace, which that account could then not write).
        self.create = create
        self._lock = threading.Lock()

    def at_page(self, page: str) -> None:
        """The page this process shows or was told of: every remote message names it."""
        if self.remote is not None:
            self.remote.page = page

    def flush(self, timeout_s: float) -> bool | None:
        """Wait (at most ``timeout_s``) until the remote log sent what it has; None without
        one, else whether it did."""
        return None if self.remote is None else self.remote.flush(timeout_s)

    def scene(self, scene: str, reason: str) -> None:
        self.at_page(scene)
        self._write({"event": "scene", "scene": scene, "reason": reason})

    def reboot(self, reason: str) -> None:
        self._write({"event": "reboot", "reason": reason})

    def reboot_skipped(self, reason: str, why: str) -> None:
        """A reboot maintenance mode did not carry out (no ``reboot`` line: none happened)."""
        self._write({"event": "reboot_skipped", "reason": reason, "why": why})

    def reboot_failed(self, reason: str) -> None:
        """Every reboot command failed: the PC stays locked on 请联系网管."""
        self._write({"event": "reboot_failed", "reason": reason})

    def locked(self, shown_at: float) -> None:
        """The UI's first frame was on screen (the lock) at ``shown_at`` (epoch s):
        ``make bench`` times start-up by it."""
        self._write({"event": "locked", "pid": os.getpid()}, shown_at)

    def video(self, **stats: object) -> None:
        """Standby video playback so far (frames shown, dropped, the decoding path)."""
        self._write({"event": "video", "pid": os.getpid(), **stats})

    def _write(self, fields: dict, ts: float | None = None) -> None:
        ts = time.time() if ts is None else ts
        if self.remote is not None:
            event = fields["event"]
            self.remote.event(event, {k: v for k, v in fields.items() if k != "event"}, ts)
        if self.path is None or not (self.create or self.path.exists()):
            return
        line = json.dumps({"ts": round(ts, 4), **fields}, ensure_ascii=False) + "\n"
        try:
            with self._lock:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
                try:
                    os.write(fd, line.encode("utf-8"))
                finally:
                    os.close(fd)
        except OSError as exc:
            logging.getLogger(__name__).warning("cannot write the trace %s: %s", self.path, exc)
