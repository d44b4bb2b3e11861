"""A look taken again every period on a thread of its own: the watches' shared loop.

Maintenance mode (kiosk/platform/maintenance.py) and 未登记的机器 (kiosk/registration.py)
each look at something that can hang or surprise (a network share, the registry), so
neither runs on the UI's loop, and a bug in one look must not end the watching.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

log = logging.getLogger(__name__)


class Periodic:
    """Calls ``look`` every ``period_s`` on a daemon thread named ``name``, until
    ``stop()``, or until ``look`` returns True (what it waited for has happened). A look
    that raises is logged with its traceback, and the next one runs all the same."""

    def __init__(self, name: str, period_s: float, look: Callable[[], bool]) -> None:
        self.name = name
        self.period_s = period_s
        self.look = look
        self._stop = threading.Event()

    def start(self) -> Periodic:
        threading.Thread(target=self._run, daemon=True, name=self.name).start()
        return self

    def stop(self) -> None:
        self._stop.set()

    def _run(self) -> None:
        while not self._stop.wait(self.period_s):
            try:
                if self.look():
                    return
            except Exception:
                log.exception("%s check failed", self.name)
