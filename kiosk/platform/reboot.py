"""The reboot action: simulate, the OS's own command, or a configured argv."""

from __future__ import annotations

import logging
import subprocess
import sys
from collections.abc import Callable, Sequence

from kiosk.logs import Trace
from kiosk.platform.process import detached

log = logging.getLogger(__name__)

WINDOWS_REBOOT = ("shutdown", "/r", "/t", "0", "/f")
LINUX_REBOOT = ("systemctl", "reboot")


def reboot_argv(mode: str, command: Sequence[str], platform: str = sys.platform) -> list[str]:
    """The argv that reboots this machine; empty for ``simulate``."""
    if mode == "simulate":
        return []
    if mode == "command":
        return list(command)
    return list(WINDOWS_REBOOT if platform == "win32" else LINUX_REBOOT)


class Rebooter:
    """Logs, traces and starts the reboot without waiting for it (rule timing matters)."""

    def __init__(self, mode: str, command: Sequence[str], trace: Trace, *,
                 platform: str = sys.platform,
                 spawn: Callable[..., object] = subprocess.Popen) -> None:
        self.mode = mode
        self.argv = reboot_argv(mode, command, platform)
        self.trace = trace
        self.platform = platform
        self._spawn = spawn

    @property
    def simulated(self) -> bool:
        return self.mode == "simulate"

    def reboot(self, reason: str) -> bool:
        """Start the reboot for ``reason`` (a rule, e.g. ``rule5:onlineStatus=3``)."""
        log.warning("reboot (%s mode) because %s", self.mode, reason)
        self.trace.reboot(reason)
        if not self.argv:
            return True
        options: dict = {"stdin": subprocess.DEVNULL, "stdout": subprocess.DEVNULL,
                         "close_fds": True, **detached(self.platform)}  # outlives the kiosk
        try:
            self._spawn(self.argv, **options)
        except OSError as exc:
            log.error("reboot command %s failed to start: %s", self.argv, exc)
            return False
        return True
