"""The reboot action: simulate, the OS's own command, or a configured argv.

This is the one place that decides whether a reboot happens: maintenance mode skips
it. A real reboot is started at once (rule timing matters) on a thread of its own,
once the remote log has sent the reboot's record (waiting ``REMOTE_WAIT_S`` at most,
never on the caller's thread: the lock and the page change do not wait), then followed:
a command that cannot start or exits non-zero is logged and retried once (after the
Linux fallback). A command that is accepted but leaves the machine up for
``down_within_s`` (a blocked shutdown, a diskless system's own shell refusing it)
counts as failed too, since this process is still there to notice. If nothing worked
``on_failed`` is told, so the screen stays locked on 请联系网管 instead of 系统重启中
for ever.
"""

from __future__ import annotations

import logging
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Sequence
from enum import StrEnum

from kiosk.logs import Trace
from kiosk.platform.maintenance import Maintenance
from kiosk.platform.process import detached
from kiosk.remote_log import FLUSH_S as REMOTE_WAIT_S

log = logging.getLogger(__name__)

WINDOWS_REBOOT = ("shutdown", "/r", "/t", "0", "/f")
LINUX_REBOOT = ("systemctl", "reboot")
LINUX_FALLBACK = ("shutdown", "-r", "now")  # systems without systemd, or where it refuses
# shutdown.exe's answers when Windows is going down already: the reboot is on its way.
WINDOWS_GOING_DOWN = frozenset({1115, 1190})  # ERROR_SHUTDOWN_IN_PROGRESS, _IS_SCHEDULED
RETRY_AFTER_S = 1.0
DOWN_WITHIN_S = 120.0  # Windows' forced shutdown ends user processes well within this


class Outcome(StrEnum):
    """What ``Rebooter.reboot`` did; ``started`` may still end in ``on_failed`` later."""

    STARTED = "started"
    SIMULATED = "simulated"
    SKIPPED = "skipped"  # maintenance mode
    FAILED = "failed"


def reboot_plan(mode: str, command: Sequence[str],
                platform: str = sys.platform) -> list[list[str]]:
    """The argvs that reboot this machine, tried in order; empty for ``simulate``."""
    if mode == "simulate":
        return []
    if mode == "command":
        return [list(command)]
    if platform == "win32":
        return [list(WINDOWS_REBOOT)]
    return [list(LINUX_REBOOT), list(LINUX_FALLBACK)]


class Rebooter:
    """Logs, traces and starts the reboot without waiting for it; follows it on a thread."""

    def __init__(self, mode: str, command: Sequence[str], trace: Trace, *,
                 platform: str = sys.platform,
                 spawn: Callable[..., subprocess.Popen] = subprocess.Popen,
                 maintenance: Maintenance | None = None,
                 on_failed: Callable[[str], None] = lambda reason: None,
                 retry_after_s: float = RETRY_AFTER_S,
                 down_within_s: float = DOWN_WITHIN_S) -> None:
        self.mode = mode
        self.plan = reboot_plan(mode, command, platform)
        self.trace = trace
        self.platform = platform
        self.maintenance = maintenance
        self.on_failed = on_failed
        self.retry_after_s = retry_after_s
        self.down_within_s = down_within_s
        self._spawn = spawn
        self.follower: threading.Thread | None = None  # tests join it

    @property
    def simulated(self) -> bool:
        return self.mode == "simulate"

    def reboot(self, reason: str) -> Outcome:
        """Reboot for ``reason`` (a rule, e.g. ``rule5:onlineStatus=3``) unless in maintenance."""
        why = self.maintenance.reason() if self.maintenance is not None else None
        if why:
            log.warning("maintenance mode (%s): reboot because %s skipped", why, reason)
            self.trace.reboot_skipped(reason, why)
            return Outcome.SKIPPED
        log.warning("reboot (%s mode) because %s", self.mode, reason)
        self.trace.reboot(reason)
        if not self.plan:
            return Outcome.SIMULATED
        self.follower = threading.Thread(target=self._follow, args=(reason,),
                                         daemon=True, name="reboot")
        self.follower.start()
        return Outcome.STARTED

    def _record_out(self) -> None:
        """Let the remote log send the reboot's record first: the evidence outlives the
        disk restore only on the collector. Bounded: a dead collector delays no reboot."""
        started = time.monotonic()
        sent = self.trace.flush(REMOTE_WAIT_S)
        waited_ms = (time.monotonic() - started) * 1000
        if sent:
            log.info("reboot record sent to the remote log (waited %.0f ms)", waited_ms)
        elif sent is not None:
            log.warning("reboot record not sent to the remote log within %.0f ms (waited "
                        "%.0f ms); rebooting anyway", REMOTE_WAIT_S * 1000, waited_ms)

    def _start(self, argv: list[str]) -> subprocess.Popen | str:
        """The running command, or the reason it could not start."""
        options: dict = {"stdin": subprocess.DEVNULL, "stdout": subprocess.DEVNULL,
                         "close_fds": True, **detached(self.platform)}  # outlives the kiosk
        try:
            return self._spawn(argv, **options)
        except (OSError, ValueError) as exc:
            return f"cannot start: {exc}"

    def _problem(self, started: subprocess.Popen | str) -> str | None:
        """Wait for a started command; what went wrong, or None when the reboot is coming."""
        if isinstance(started, str):
            return started
        code = started.wait()
        if code == 0 or (self.mode == "system" and self.platform == "win32"
                         and code in WINDOWS_GOING_DOWN):
            return None
        return f"exit code {code}"

    def _follow(self, reason: str) -> None:
        self._record_out()
        attempts = [*self.plan, *self.plan]  # every command, then the same again once
        ignored = 0  # commands accepted that left the machine up
        for i, argv in enumerate(attempts):
            if i == len(self.plan):
                time.sleep(self.retry_after_s)  # a busy service may come round
            started = self._start(argv)
            problem = self._problem(started)
            if problem is None:
                log.info("reboot command %s accepted; waiting for the machine to go down", argv)
                time.sleep(self.down_within_s)  # a reboot ends this process before it wakes
                problem = f"accepted, yet the machine was still up {self.down_within_s:g} s later"
                ignored += 1
            log.error("reboot command %s failed (%s)", argv, problem)
            if ignored == 2:
                break  # accepted and ignored twice: asking again will not help
        log.critical("every reboot command failed for %s: the PC stays locked (请联系网管)",
                     reason)
        self.trace.reboot_failed(reason)
        self.on_failed(reason)
