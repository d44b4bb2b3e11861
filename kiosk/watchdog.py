"""The watchdog: the kiosk's third line, run by the system outside the customer's reach.

The guardian and the UI restart each other one at a time; killed in the same instant
(``taskkill /f /im kiosk.exe``, ``pkill -9 -u``), nothing of theirs is left to act. The
watchdog runs as LocalSystem (a Windows service) or root (a systemd unit), so the
customer's account can neither stop nor kill it, and acts the moment the last kiosk
process is gone: in a session the reboot of rule 3 (``rule3:killed_all``), elsewhere
the kiosk started again, locked, in the desktop user's session.

What it trusts (DESIGN.md §4): the kiosk's processes by handles it holds on processes it
verified itself (the program's path and command line) or started itself
(kiosk/platform/watch.py); the last page from the kiosk's trace file, which the customer
could write, so a page outside a session is checked with the backend's ``status_client``
for this PC (in session there: reboot); with the backend unreachable it decides from the
page. A forged page can only cause a reboot or a locked restart, never a free PC. The
admin exit reaches it through a door only it can open (kiosk/watchdog_door.py), proven
by the admin password itself. ``decide`` is the whole policy, pure and table-tested.
"""

from __future__ import annotations

import json
import logging
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Protocol

from kiosk import contract, flow
from kiosk.config import Config
from kiosk.platform.reboot import Outcome, Rebooter

log = logging.getLogger(__name__)

REASON = "rule3:killed_all"  # the trace / remote log reason of the watchdog's reboot
SESSION_PAGES = frozenset(page.value for page in flow.SESSION_PAGES)
ADMIN_EXIT_S = 15.0  # an admin exit counts for kiosk processes gone this soon after it
TRACE_TAIL = 16 * 1024  # the last page is in the trace's last lines
CONFIG_ERROR = 2  # the kiosk's exit code for a config error: restarting cannot fix it
CONFIG_ERROR_WAIT_S = 30.0


class Action(StrEnum):
    WAIT = "wait"  # leave things as they are
    REBOOT = "reboot"  # rule 3, then the kiosk locked on 系统重启中 until the PC goes down
    START = "start"  # the kiosk again, locked


@dataclass(frozen=True)
class Facts:
    """What the watchdog knows when it decides."""

    gone: bool  # every kiosk process it knew of is gone
    page: str | None  # the last page the kiosk reported; None: unknown
    backend: int | None  # status_client's onlineStatus for this PC; None: not asked or a fault
    maintenance: bool
    admin_exit: bool  # the admin password stopped the kiosk just now
    rebooted: bool  # this watchdog has started a reboot already
    reboot_failed: bool = False  # …and every reboot command failed


@dataclass(frozen=True)
class Decision:
    action: Action
    why: str  # for the log line
    locked_on: str | None = None  # the kiosk starts on this page (R or X) instead of A
    skipped: bool = False  # a reboot maintenance mode did not carry out (traced as such)


def needs_backend(page: str | None) -> bool:
    """Whether the backend is asked: only when the page does not say "session" already
    (a reboot waits for no network) nor that a reboot is under way."""
    return page not in SESSION_PAGES and page not in (flow.Page.REBOOTING, flow.Page.REBOOT_FAILED)


def decide(facts: Facts) -> Decision:
    """Reboot, start the kiosk again, or wait: the watchdog's whole policy."""
    if not facts.gone:
        return Decision(Action.WAIT, "the kiosk runs")
    if facts.admin_exit:
        return Decision(Action.WAIT, "admin exit: left stopped until the next logon or start")
    if facts.page == flow.Page.REBOOT_FAILED or (facts.rebooted and facts.reboot_failed):
        return Decision(Action.START, "killed on 请联系网管", flow.Page.REBOOT_FAILED.value)
    if facts.page == flow.Page.REBOOTING:
        return Decision(Action.START, "killed while the PC reboots", flow.Page.REBOOTING.value)
    by_page = facts.page in SESSION_PAGES
    if not by_page and facts.backend != contract.IN_SESSION:
        where = "unknown" if facts.page is None else facts.page
        known = "unknown" if facts.backend is None else facts.backend
        return Decision(Action.START, f"killed outside a session (page {where}, backend "
                                      f"onlineStatus {known})")
    basis = f"page {facts.page}" if by_page else f"backend onlineStatus {facts.backend}"
    if facts.rebooted:
        return Decision(Action.START, f"killed in a session ({basis}) after its reboot: "
                                      f"never a second one", flow.Page.REBOOTING.value)
    if facts.maintenance:
        return Decision(Action.START, f"killed in a session ({basis}) in maintenance mode: "
                                      f"no reboot", skipped=True)
    return Decision(Action.REBOOT, f"killed in a session ({basis})", flow.Page.REBOOTING.value)


def last_page(trace: Path | None) -> str | None:
    """The page of the trace's last ``scene`` line (the UI writes one per page on screen)."""
    if trace is None:
        return None
    try:
        with trace.open("rb") as file:
            file.seek(max(0, file.seek(0, os.SEEK_END) - TRACE_TAIL))
            tail = file.read()
    except OSError:
        return None
    for raw in reversed(tail.splitlines()):
        try:
            entry = json.loads(raw)
        except ValueError:
            continue  # a torn first line, or a line that is not ours
        if isinstance(entry, dict) and entry.get("event") == "scene":
            scene = entry.get("scene")
            return scene if isinstance(scene, str) else None
    return None


class Processes(Protocol):
    """The kiosk's processes as the watchdog knows them (kiosk/platform/watch.py)."""

    def wait_gone(self, stop: threading.Event) -> bool:
        """Block until every kiosk process known is gone (True) or ``stop`` is set."""

    def last_exit(self) -> int | None:
        """The exit code of the kiosk this watchdog started last, if it ended by itself."""

    def start(self, rebooting: str | None, outcome: str | None) -> None:
        """Start the kiosk, locked, in the desktop user's session (on 系统重启中 or
        请联系网管 with ``rebooting``), and watch it."""

    def wake(self) -> None:
        """Make ``wait_gone`` look at ``stop`` now (a stop from a signal or the SCM)."""

    def end(self) -> None:
        """End the kiosk processes watched (so that they are started again elsewhere)."""


@dataclass
class Watchdog:
    """The imperative shell around ``decide``: waits, asks, acts, logs every action."""

    config: Config
    processes: Processes
    rebooter: Rebooter
    status: Callable[[], int | None]  # status_client's onlineStatus, None on any fault
    admin_exits: Callable[[], float | None] = lambda: None  # monotonic time of the last one
    clock: Callable[[], float] = time.monotonic

    def __post_init__(self) -> None:
        self.rebooted = False
        self.reboot_failed = False
        self.rebooter.on_failed = self._reboot_failed
        self.stopping = threading.Event()
        self._admin_exit_used: float | None = None  # one admin exit stops the kiosk once

    def facts(self) -> Facts:
        page = last_page(self.config.trace)
        backend = self.status() if needs_backend(page) else None
        maintenance = self.rebooter.maintenance
        at = self.admin_exits()
        admin_exit = (at is not None and at != self._admin_exit_used
                      and self.clock() - at <= ADMIN_EXIT_S)
        return Facts(gone=True, page=page, backend=backend,
                     maintenance=bool(maintenance and maintenance.reason()),
                     admin_exit=admin_exit, rebooted=self.rebooted,
                     reboot_failed=self.reboot_failed)

    def step(self) -> Decision:
        """One round: the kiosk is gone; decide and act."""
        facts = self.facts()
        decision = decide(facts)
        if facts.admin_exit:
            self._admin_exit_used = self.admin_exits()
        log.warning("watchdog: every kiosk process is gone; %s → %s", decision.why,
                    decision.action)
        if decision.action == Action.REBOOT:
            self.rebooted = True
            outcome = self.rebooter.reboot(REASON)
            self._start(REASON, outcome)
        elif decision.action == Action.START:
            if decision.skipped:
                self.rebooter.trace.reboot_skipped(REASON, "maintenance mode")
            outcome = Outcome.FAILED if decision.locked_on == flow.Page.REBOOT_FAILED \
                else Outcome.STARTED
            self._start(REASON if decision.locked_on else None,
                        outcome if decision.locked_on else None)
        return decision

    def _reboot_failed(self, reason: str) -> None:
        """Every reboot command failed (the Rebooter's thread): the kiosk it started waits
        on 系统重启中 for a reboot that will not come; it is ended and started again on
        请联系网管, which staff can read."""
        self.reboot_failed = True
        log.critical("watchdog: the reboot for %s failed; the kiosk goes to 请联系网管", reason)
        self.processes.end()

    def _start(self, rebooting: str | None, outcome: str | None) -> None:
        if self.processes.last_exit() == CONFIG_ERROR:
            log.error("watchdog: the kiosk it started stopped on a config error; starting it "
                      "again in %g s", CONFIG_ERROR_WAIT_S)
            if self.stopping.wait(CONFIG_ERROR_WAIT_S):
                return
        self.processes.start(rebooting, outcome)

    def run(self) -> int:
        log.info("watchdog %d started (config %s)", os.getpid(), self.config.path)
        while not self.stopping.is_set():
            if not self.processes.wait_gone(self.stopping):
                break
            self.step()
        log.info("watchdog stopped")
        return 0

    def stop(self) -> None:
        self.stopping.set()
