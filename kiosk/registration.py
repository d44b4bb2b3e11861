"""While 未登记的机器 shows, notice that an operator has added this PC to client.map_file.

The file is read again every ``client.map_check_s`` on a thread of its own (on a
diskless system it may sit on a network share that can hang). Once a line names this
machine, ``on_found`` is told, and the UI starts again with its id, without anyone
having to visit the PC. A file caught half-saved is logged once per distinct problem and
read again next time: it never stops the kiosk here, unlike at start-up.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from kiosk.config import Config, ConfigError
from kiosk.identity import Identity, Unregistered, resolve
from kiosk.periodic import Periodic

log = logging.getLogger(__name__)


class RegistrationWatch:
    """Re-resolves the id of an unregistered machine until it is found or stopped."""

    def __init__(self, config: Config, unregistered: Unregistered,
                 on_found: Callable[[Identity], None]) -> None:
        self.config = config
        self.unregistered = unregistered
        self.on_found = on_found
        self._problem: str | None = None
        self._looks = Periodic("registration", config.client_map_check_s, self._look)

    def check(self) -> Identity | None:
        """Look now: this machine's identity if the rules know it by now."""
        try:
            # The machine's hostname and MACs were read at start (getmac on Windows).
            found = resolve(self.config, lambda: self.unregistered.machine)
        except ConfigError as exc:
            if str(exc) != self._problem:
                log.warning("still not registered, and %s", exc)
            self._problem = str(exc)
            return None
        self._problem = None
        return found if isinstance(found, Identity) else None

    def start(self) -> RegistrationWatch:
        self._looks.start()
        return self

    def stop(self) -> None:
        self._looks.stop()

    def _look(self) -> bool:
        found = self.check()
        if found is not None:
            self.on_found(found)
        return found is not None  # told once: the UI starts again with its id
