"""The flow core: pages A–E and the specification's seven rules, with no I/O.

Like h11's state machine, everything that moves the kiosk from page to page lives
in this one module. It is fed events (time passing, user intent, API answers) with
the current monotonic time inside them and returns commands (show a page, make a
request, reboot); it never reads the clock, sleeps, draws or talks to the network,
so a test can replay a whole day in milliseconds. What fits a table is a table
(``ON_STATUS``, ``ON_INTENT``, ``POLLS``); the rest is plain code below, with why.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, replace
from enum import StrEnum

from kiosk.contract import (
    ENDED_UNPAID,
    IN_SESSION,
    WAITING,
    ForeignAnswer,
    NetworkFault,
    NotFound,
    Offline,
    OfflineAnswer,
    Report,
    ReportAnswer,
    Status,
    StatusAnswer,
)


class Page(StrEnum):
    """The pages, named by the specification's letters (also the names in traces)."""

    BOOT = "boot"  # locked black screen until the first status answer (or boot_wait_s)
    STANDBY = "A"
    SCAN = "B"
    SESSION = "C"
    END = "D"
    UNPAID = "E"
    REBOOTING = "R"  # "系统重启中": locked, waits for the machine to go down
    REBOOT_FAILED = "X"  # "请联系网管": every reboot command failed; locked for good


SESSION_PAGES = frozenset({Page.SESSION, Page.END})  # rule 3: a killed client reboots here
FINAL_PAGES = frozenset({Page.REBOOTING, Page.REBOOT_FAILED})  # nothing leaves them but Start


@dataclass(frozen=True)
class Timers:
    """The rule timers of config ``timers`` (seconds)."""

    scan_idle_s: float = 30  # rule 1
    scan_poll_s: float = 1  # rule 2, and start-up routing retries
    session_report_s: float = 10  # rule 4
    session_poll_s: float = 2  # rule 5
    after_confirm_reboot_s: float = 180  # rule 6
    unpaid_poll_s: float = 1  # rule 7
    boot_wait_s: float = 3  # longest black screen before A while routing waits
    notice_s: float = 6  # how long a notice such as "could not end" stays
    request_stale_s: float = 30  # a request never answered is given up after this
    # Random spread of every poll and report period, as a fraction (0.05: ±5 %); with it
    # the first request after a start is delayed too (see ``startup_spread_s``). The
    # core's default is exact periods so that tests replay exactly; config's is 0.05.
    jitter: float = 0.0

    @property
    def startup_spread_s(self) -> float:
        """Longest random delay of the first request after a start (0 without jitter).

        When a whole venue powers on at once, every PC would ask at the same instant and
        then keep polling in lock-step. Spreading the first request over one routing
        retry period (``scan_poll_s``) gives each PC its own phase; half of
        ``boot_wait_s`` at most, so the answer still normally lands while the boot
        screen shows and the boot screen never stays longer than ``boot_wait_s``.
        """
        if self.jitter <= 0:
            return 0.0
        return min(self.scan_poll_s, self.boot_wait_s / 2)


# --- events -----------------------------------------------------------------


@dataclass(frozen=True)
class Start:
    """The client started (or a simulated reboot finished): run start-up routing."""

    now: float


@dataclass(frozen=True)
class Rebooted:
    """Started after the guardian's reboot action (rule 3): stay locked until ``Start``."""

    now: float
    reason: str


@dataclass(frozen=True)
class RebootFailed:
    """Every reboot command failed: lock on 请联系网管 and never reboot again from there."""

    now: float
    reason: str


@dataclass(frozen=True)
class Tick:
    now: float


@dataclass(frozen=True)
class UserInput:
    """Any mouse motion, click, touch or key: opens B from A, restarts B's idle count."""

    now: float


@dataclass(frozen=True)
class EndPressed:
    """The widget's 结束上机 button (C)."""

    now: float


@dataclass(frozen=True)
class Confirm:
    """Enter or the confirm button on D."""

    now: float


@dataclass(frozen=True)
class Cancel:
    """Esc or the back button on D."""

    now: float


@dataclass(frozen=True)
class DebugJump:
    """F1–F5 with ``debug: true``: QA jumps straight to a page."""

    now: float
    page: Page


@dataclass(frozen=True)
class StatusResult:
    now: float
    answer: StatusAnswer


@dataclass(frozen=True)
class ReportResult:
    now: float
    answer: ReportAnswer


@dataclass(frozen=True)
class OfflineResult:
    now: float
    answer: OfflineAnswer


Event = (
    Start | Rebooted | RebootFailed | Tick | UserInput | EndPressed | Confirm | Cancel | DebugJump
    | StatusResult | ReportResult | OfflineResult
)


# --- commands ---------------------------------------------------------------


@dataclass(frozen=True)
class ShowPage:
    page: Page
    reason: str


@dataclass(frozen=True)
class RequestStatus:
    """Ask ``status_client``; the answer comes back as a ``StatusResult``."""


@dataclass(frozen=True)
class RequestReport:
    """Send ``clientStatus``; the answer comes back as a ``ReportResult``."""


@dataclass(frozen=True)
class RequestOffline:
    """Call ``offline``; the answer comes back as an ``OfflineResult``."""


@dataclass(frozen=True)
class Reboot:
    reason: str


Command = ShowPage | RequestStatus | RequestReport | RequestOffline | Reboot
Request = RequestStatus | RequestReport | RequestOffline
# Each call the core asks for: its name (the ``Api`` method, the worker's kind) and the
# event its answer comes back as. The app, the venue tool and the tests all run it so.
CALLS: dict[type[Request], tuple[str, type[StatusResult | ReportResult | OfflineResult]]] = {
    RequestStatus: ("status", StatusResult),
    RequestReport: ("report", ReportResult),
    RequestOffline: ("offline", OfflineResult),
}
RESULTS = dict(CALLS.values())  # a call's name → the event its answer comes back as


# --- what the pages display -------------------------------------------------


@dataclass(frozen=True)
class Meter:
    """Time and money of a session: the server's values, with seconds ticked locally."""

    elapsed_s: float = 0.0
    at: float = 0.0
    cost: float = 0.0
    charging: float = 0.0
    running: bool = True
    session: str = ""  # the server's name for the session (Status.session)

    def elapsed(self, now: float) -> float:
        return self.elapsed_s + (max(0.0, now - self.at) if self.running else 0.0)

    def frozen(self, now: float) -> Meter:
        return replace(self, elapsed_s=self.elapsed(now), at=now, running=False)

    def updated(self, answer: Status, now: float) -> Meter:
        """Take the server's figures; keep counting locally when it sends no times."""
        if answer.elapsed_s is not None:
            elapsed = answer.elapsed_s
        elif answer.duration_min > 0:
            elapsed = answer.duration_min * 60
        else:
            elapsed = self.elapsed(now)
        return Meter(elapsed, now, answer.cost, answer.charging, answer.online_status == IN_SESSION,
                     answer.session or self.session)


# --- the tables ---------------------------------------------------------------

REBOOT = "reboot"

# (page, onlineStatus of an answer for this client) → (where to, reason)
ON_STATUS: dict[tuple[Page, int], tuple[Page | str, str]] = {
    # An answer to a request sent from B may land after rule 1 went back to A:
    # a session that started is never left locked out.
    (Page.STANDBY, IN_SESSION): (Page.SESSION, "status:onlineStatus=2"),
    (Page.STANDBY, ENDED_UNPAID): (Page.UNPAID, "status:onlineStatus=3"),
    (Page.SCAN, IN_SESSION): (Page.SESSION, "rule2:onlineStatus=2"),
    (Page.SCAN, ENDED_UNPAID): (Page.UNPAID, "status:onlineStatus=3"),
    (Page.SESSION, WAITING): (REBOOT, "rule5:onlineStatus=1"),
    (Page.SESSION, ENDED_UNPAID): (REBOOT, "rule5:onlineStatus=3"),
    (Page.END, WAITING): (REBOOT, "rule5:onlineStatus=1"),
    (Page.END, ENDED_UNPAID): (REBOOT, "rule5:onlineStatus=3"),
    (Page.UNPAID, WAITING): (REBOOT, "rule7:onlineStatus=1"),
    (Page.UNPAID, IN_SESSION): (Page.SESSION, "status:onlineStatus=2"),
}

# Start-up routing: the first answer for this client decides the first page.
STARTUP_ROUTES = {WAITING: Page.STANDBY, IN_SESSION: Page.SESSION, ENDED_UNPAID: Page.UNPAID}

# (page, intent event type) → (where to, reason)
ON_INTENT: dict[tuple[Page, type], tuple[Page, str]] = {
    (Page.STANDBY, UserInput): (Page.SCAN, "input"),
    (Page.SESSION, EndPressed): (Page.END, "end_pressed"),
    (Page.END, Cancel): (Page.SESSION, "cancel"),
}

# page → (status poll period, report period), as names of ``Timers`` fields
POLLS: dict[Page, tuple[str | None, str | None]] = {
    Page.SCAN: ("scan_poll_s", None),
    Page.SESSION: ("session_poll_s", "session_report_s"),
    Page.END: ("session_poll_s", "session_report_s"),  # until confirmed (rule 6)
    Page.UNPAID: ("unpaid_poll_s", None),
}

NOT_FOUND_LIMIT = 2  # {"data":0} in a session counts only on the second answer in a row


class Flow:
    """The kiosk's state machine; ``handle`` is its only entry point."""

    def __init__(self, timers: Timers, rng: random.Random | None = None) -> None:
        """``rng`` draws the jitter (seed it to replay a run); time still comes in events."""
        self.timers = timers
        self.rng = rng if rng is not None else random.Random()
        self._reset(0.0)

    def _reset(self, now: float) -> None:
        self.page = Page.BOOT
        self.routing = True
        self.started_at = now
        self.meter = Meter()
        self.confirmed_at: float | None = None
        self.offline_pending = False
        self.notice: str | None = None
        self.notice_until = 0.0
        self._last_input = 0.0
        self._not_found = 0
        self._status_due = now
        self._report_due = now
        self._status_sent: float | None = None
        self._report_sent: float | None = None

    # --- what the scenes read ---

    @property
    def confirmed(self) -> bool:
        """D after confirmation: the pay QR and the countdown to the reboot."""
        return self.confirmed_at is not None

    @property
    def reboot_at(self) -> float | None:
        if self.confirmed_at is None:
            return None
        return self.confirmed_at + self.timers.after_confirm_reboot_s

    def notice_at(self, now: float) -> str | None:
        return self.notice if now < self.notice_until else None

    def idle_left(self, now: float) -> float | None:
        """Seconds until rule 1 takes B back to A (None off B)."""
        if self.page is not Page.SCAN:
            return None
        return max(0.0, self.timers.scan_idle_s - (now - self._last_input))

    # --- the entry point ---

    def handle(self, event: Event) -> list[Command]:
        """Apply one event; return what the shell must do, in order."""
        if isinstance(event, Start):
            return self._start(event.now)
        if isinstance(event, Rebooted):
            self.page = Page.REBOOTING
            return [ShowPage(Page.REBOOTING, event.reason)]
        if isinstance(event, RebootFailed):
            self.page = Page.REBOOT_FAILED
            return [ShowPage(Page.REBOOT_FAILED, event.reason)]
        if self.page in FINAL_PAGES:
            return []  # the machine is going down, or needs the staff: nothing may unlock it
        commands = self._dispatch(event)
        if self.page not in FINAL_PAGES:
            commands += self._timers(event.now)
        return commands

    def _dispatch(self, event: Event) -> list[Command]:
        if isinstance(event, StatusResult):
            self._status_sent = None
            return self._on_status(event.answer, event.now)
        if isinstance(event, ReportResult):
            self._report_sent = None
            return self._on_report(event.answer, event.now)
        if isinstance(event, OfflineResult):
            return self._on_offline(event.answer, event.now)
        if isinstance(event, DebugJump):
            return self._debug_jump(event.page, event.now)
        if isinstance(event, Confirm):
            return self._confirm(event.now)
        if isinstance(event, UserInput) and self.page is Page.SCAN:
            self._last_input = event.now
        if self.confirmed:
            return []
        target = ON_INTENT.get((self.page, type(event)))
        return self._go(target[0], target[1], event.now) if target else []

    # --- answers ---

    def _on_status(self, answer: StatusAnswer, now: float) -> list[Command]:
        if isinstance(answer, NetworkFault | ForeignAnswer):
            # Neither counts nor resets the not-found streak; routing keeps retrying.
            if self.page is Page.BOOT:
                return self._go(Page.STANDBY, "startup", now)
            return []
        if self.confirmed:
            return []  # rule 6: offline itself turns the status to 3; that must not reboot
        if self.routing and self.page is Page.SCAN:
            self.routing = False  # the customer is on B already: rule 2 applies as usual
        elif self.routing:
            self.routing = False
            online = answer.online_status if isinstance(answer, Status) else WAITING
            target = STARTUP_ROUTES[online]
            if isinstance(answer, Status):
                self._take_figures(answer, now)
            if target is Page.STANDBY and self.page is not Page.BOOT:
                return []  # already on A or B: the customer carries on
            return self._go(target, "startup", now)
        if isinstance(answer, NotFound):
            if self.page not in SESSION_PAGES:
                return []
            self._not_found += 1
            if self._not_found >= NOT_FOUND_LIMIT:
                return self._reboot("rule5:data=0")
            return []
        self._not_found = 0
        self._take_figures(answer, now)
        target = ON_STATUS.get((self.page, answer.online_status))
        if target is None:
            return []
        if target[0] == REBOOT:
            return self._reboot(target[1])
        return self._go(Page(target[0]), target[1], now)

    def _take_figures(self, answer: Status, now: float) -> None:
        if answer.online_status in (IN_SESSION, ENDED_UNPAID):
            self.meter = self.meter.updated(answer, now)

    def _on_report(self, answer: ReportAnswer, now: float) -> list[Command]:
        over = isinstance(answer, Report) and answer.session_over
        if over and self.page in SESSION_PAGES and not self.confirmed:
            return self._reboot(f"rule5:report={answer.code}")
        return []

    def _on_offline(self, answer: OfflineAnswer, now: float) -> list[Command]:
        if not self.offline_pending:
            return []
        self.offline_pending = False
        if isinstance(answer, Offline) and answer.done:
            return []
        # The session is still running: say so, and give the customer the widget back.
        self.confirmed_at = None
        self.notice, self.notice_until = "offline_failed", now + self.timers.notice_s
        return self._go(Page.SESSION, "offline_failed", now)

    # --- user intent ---

    def _confirm(self, now: float) -> list[Command]:
        if self.page is not Page.END or self.confirmed:
            return []
        self.confirmed_at = now
        self.offline_pending = True
        self.meter = self.meter.frozen(now)
        self._status_sent = self._report_sent = None
        return [RequestOffline()]

    def _debug_jump(self, page: Page, now: float) -> list[Command]:
        if page not in (Page.STANDBY, Page.SCAN, Page.SESSION, Page.END, Page.UNPAID):
            return []
        self.routing = False
        self.confirmed_at = None
        self.offline_pending = False
        if page in SESSION_PAGES and self.page not in SESSION_PAGES:
            self.meter = Meter(at=now)
        return self._go(page, "debug", now, force=True)

    # --- page changes and timers ---

    def _start(self, now: float) -> list[Command]:
        self._reset(now)
        spread = self.timers.startup_spread_s
        if spread > 0:
            self._status_due = now + self.rng.uniform(0, spread)
        return [ShowPage(Page.BOOT, "startup"), *self._timers(now)]

    def _go(self, page: Page, reason: str, now: float, force: bool = False) -> list[Command]:
        if page is self.page and not force:
            return []
        entering_session = page in SESSION_PAGES and self.page not in SESSION_PAGES
        self.page = page
        if page is Page.SCAN:
            self._last_input = now
        if entering_session:
            self._not_found = 0
            self._report_due = now
        if page is Page.SESSION and not self.meter.running:
            self.meter = replace(self.meter, at=now, running=True)
        if page in POLLS:
            self._status_due = now  # every polling page asks at once on entry
        return [ShowPage(page, reason)]

    def _reboot(self, reason: str) -> list[Command]:
        self.page = Page.REBOOTING
        return [ShowPage(Page.REBOOTING, reason), Reboot(reason)]

    def _timers(self, now: float) -> list[Command]:
        if self.page is Page.SCAN and now - self._last_input >= self.timers.scan_idle_s:
            return self._go(Page.STANDBY, "rule1:idle", now)  # rule 1
        if self.confirmed:
            assert self.reboot_at is not None
            return self._reboot("rule6:after_confirm") if now >= self.reboot_at else []  # rule 6
        if self.page is Page.BOOT and now - self.started_at >= self.timers.boot_wait_s:
            return self._go(Page.STANDBY, "startup", now)
        return self._due_requests(now)

    def _due_requests(self, now: float) -> list[Command]:
        status_period, report_period = POLLS.get(self.page, (None, None))
        if self.routing:
            status_period = "scan_poll_s"
        commands: list[Command] = []
        stale = self.timers.request_stale_s
        if self._status_sent is not None and now - self._status_sent >= stale:
            self._status_sent = None  # an answer lost by the shell must not stop polling
        if self._report_sent is not None and now - self._report_sent >= stale:
            self._report_sent = None
        if status_period and self._status_sent is None and now >= self._status_due:
            self._status_sent = now
            self._status_due = _next_due(self._status_due, self._period(status_period), now)
            commands.append(RequestStatus())
        if report_period and self._report_sent is None and now >= self._report_due:
            self._report_sent = now
            self._report_due = _next_due(self._report_due, self._period(report_period), now)
            commands.append(RequestReport())
        return commands

    def _period(self, name: str) -> float:
        """One poll or report period, spread by ``jitter`` evenly on both sides.

        Only these periods jitter: they set the backend's load, and hundreds of PCs
        started together would otherwise poll in lock-step. The spread is symmetric, so
        the mean period stays the configured one (rule 4's reports still average
        ``session_report_s``). The rule timers the specification fixes are never
        jittered: rule 1's ``scan_idle_s``, rule 6's ``after_confirm_reboot_s`` and
        ``boot_wait_s`` run on exact deadlines in ``_timers``, so no jitter can make a
        rule fire early; they load nothing but the one PC.
        """
        return jittered(getattr(self.timers, name), self.timers.jitter, self.rng)


def jittered(period: float, jitter: float, rng: random.Random) -> float:
    """``period`` spread evenly by ``jitter`` (a fraction) on both sides: the mean stays."""
    return period * (1 + rng.uniform(-jitter, jitter)) if jitter > 0 else period


def _next_due(due: float, period: float, now: float) -> float:
    """A period after this one was due, so the loop's tick does not stretch every period;
    after a long wait (an answer that came late) the count starts again from now."""
    following = due + period
    return following if following > now else now + period
