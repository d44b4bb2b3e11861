"""Logging and the JSON-lines trace (DESIGN.md §5), set up before anything else."""

from __future__ import annotations

import json
import logging
import logging.handlers
import os
import sys
import threading
import time
from pathlib import Path

FORMAT = "%(asctime)s %(levelname)s %(process)d %(name)s: %(message)s"
MAX_BYTES = 2 * 1024 * 1024
BACKUPS = 5


class _SafeRotatingHandler(logging.handlers.RotatingFileHandler):
    """A full or vanished disk must not turn a log line into a crash."""

    def handleError(self, record: logging.LogRecord) -> None:  # noqa: N802 (logging API)
        pass


def setup(log_dir: Path | None, name: str) -> None:
    """Log to stderr and, when possible, to a rotating file ``<log_dir>/<name>.log``."""
    root = logging.getLogger()
    root.setLevel(logging.INFO)
    for handler in list(root.handlers):
        root.removeHandler(handler)
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


class Trace:
    """Appends one JSON object per page change or reboot, flushed at once.

    The UI and the guardian both append to the same file; each line is one
    ``write`` on a file opened for appending, so their lines never interleave.
    """

    def __init__(self, path: Path | None) -> None:
        self.path = path
        self._lock = threading.Lock()

    def scene(self, scene: str, reason: str) -> None:
        self._write({"event": "scene", "scene": scene, "reason": reason})

    def reboot(self, reason: str) -> None:
        self._write({"event": "reboot", "reason": reason})

    def locked(self) -> None:
        """The UI's first frame is on screen (the lock): ``make bench`` times start-up by it."""
        self._write({"event": "locked", "pid": os.getpid()})

    def video(self, **stats: object) -> None:
        """Standby video playback so far (frames shown, dropped, the decoding path)."""
        self._write({"event": "video", "pid": os.getpid(), **stats})

    def _write(self, fields: dict) -> None:
        if self.path is None:
            return
        line = json.dumps({"ts": round(time.time(), 4), **fields}, ensure_ascii=False) + "\n"
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
