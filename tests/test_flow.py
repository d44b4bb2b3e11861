"""The flow core: pages A–E and the seven rules (DESIGN.md §2–§3), replayed on a fake clock."""

from __future__ import annotations

import collections
import math
import random
import statistics
from collections.abc import Callable
from dataclasses import dataclass, replace

import pytest

from kiosk import flow, guardian
from kiosk.contract import ForeignAnswer, NetworkFault, NotFound, Offline, Report, Status
from kiosk.flow import Page, Reboot, RequestOffline, RequestReport, RequestStatus, ShowPage

TIMERS = flow.Timers()

WAITING = Status(1)
IN_SESSION = Status(2, duration_min=5, cost=6.6, charging=1.32)
UNPAID = Status(3, duration_min=30, cost=39.6, charging=1.32)
NOT_FOUND = NotFound()
FAULT = NetworkFault("timeout", "ReadTimeout")
FOREIGN = ForeignAnswer("370012")

# Events are written as factories taking the fake clock's time.
INPUT, END, CONFIRM, CANCEL = flow.UserInput, flow.EndPressed, flow.Confirm, flow.Cancel
MakeEvent = Callable[[float], flow.Event]


def status(answer) -> MakeEvent:
    return lambda now: flow.StatusResult(now, answer)


def report(answer) -> MakeEvent:
    return lambda now: flow.ReportResult(now, answer)


def offline(answer) -> MakeEvent:
    return lambda now: flow.OfflineResult(now, answer)


def jump(page: Page) -> MakeEvent:
    return lambda now: flow.DebugJump(now, page)


@dataclass(frozen=True)
class Wait:
    """A step of a scenario: let this many seconds pass in 0.1 s ticks."""

    seconds: float


def reboot(reason: str) -> list[flow.Command]:
    return [ShowPage(Page.REBOOTING, reason), Reboot(reason)]


def notable(commands: list[flow.Command]) -> list[flow.Command]:
    """What the customer notices: page changes, reboots, the offline call (not the polls)."""
    return [c for c in commands if not isinstance(c, RequestStatus | RequestReport)]


class Kiosk:
    """A flow core on a fake clock: ticks at 0.1 s steps, records every command with its time.

    ``answers`` maps a request command type to the answer the fake backend gives at once.
    """

    def __init__(self, timers: flow.Timers = TIMERS, rng: random.Random | None = None) -> None:
        self.flow = flow.Flow(timers, rng)
        self.tenths = 0  # whole tenths, so that the clock reads exact decimal times
        self.log: list[tuple[float, flow.Command]] = []
        self.answers: dict[type, MakeEvent] = {}

    @property
    def now(self) -> float:
        return self.tenths / 10

    def handle(self, make_event: MakeEvent) -> list[flow.Command]:
        first = len(self.log)
        queue = [make_event(self.now)]
        while queue:
            for command in self.flow.handle(queue.pop(0)):
                self.log.append((self.now, command))
                if type(command) in self.answers:
                    queue.append(self.answers[type(command)](self.now))
        return [command for _, command in self.log[first:]]

    def start(self) -> list[flow.Command]:
        return self.handle(flow.Start)

    def run_until(self, t: float) -> list[flow.Command]:
        commands = []
        while self.tenths < round(t * 10):
            self.tenths += 1
            commands += self.handle(flow.Tick)
        return commands

    def play(self, steps: list) -> list[flow.Command]:
        commands = []
        for step in steps:
            if isinstance(step, Wait):
                commands += self.run_until(self.now + step.seconds)
            else:
                commands += self.handle(step)
        return commands

    def count(self, kind: type, since: float, until: float, after: int = 0) -> int:
        """How many commands of a kind were given in [since, until), from log index ``after``."""
        return sum(1 for t, c in self.log[after:] if isinstance(c, kind) and since <= t < until)


# Where a scenario starts: Start at 0 s, then these steps (routing is done on each).
SETUPS = {
    "A": [status(NOT_FOUND)],
    "B": [status(NOT_FOUND), INPUT],
    "C": [status(IN_SESSION)],
    "D": [status(IN_SESSION), END],
    "D confirmed": [status(IN_SESSION), END, CONFIRM],
    "E": [status(UNPAID)],
}
SETUP_PAGES = {"A": Page.STANDBY, "B": Page.SCAN, "C": Page.SESSION, "D": Page.END,
               "D confirmed": Page.END, "E": Page.UNPAID}


def kiosk_on(where: str, timers: flow.Timers = TIMERS, rng: random.Random | None = None) -> Kiosk:
    kiosk = Kiosk(timers, rng)
    kiosk.start()
    kiosk.play(SETUPS[where])
    assert kiosk.flow.page is SETUP_PAGES[where]
    return kiosk


# --- start-up routing ---------------------------------------------------------


def test_start_shows_locked_boot_page_and_asks_status_at_once():
    kiosk = Kiosk()
    assert kiosk.start() == [ShowPage(Page.BOOT, "startup"), RequestStatus()]


@pytest.mark.parametrize(("answer", "page"), [
    pytest.param(IN_SESSION, Page.SESSION, id="2-session-survives-reboot"),
    pytest.param(UNPAID, Page.UNPAID, id="3-unpaid"),
    pytest.param(WAITING, Page.STANDBY, id="1-standby"),
    pytest.param(NOT_FOUND, Page.STANDBY, id="not-found-standby"),
])
def test_startup_routes_on_first_status_answer(answer, page):
    kiosk = Kiosk()
    kiosk.start()
    assert notable(kiosk.handle(status(answer))) == [ShowPage(page, "startup")]
    assert kiosk.flow.page is page


@pytest.mark.parametrize("trouble", [FAULT, NetworkFault("http", "HTTP 500"), FOREIGN],
                         ids=["timeout", "http-500", "foreign"])
def test_startup_shows_standby_meanwhile_and_keeps_retrying_until_an_answer(trouble):
    kiosk = Kiosk()
    kiosk.start()
    assert notable(kiosk.handle(status(trouble))) == [ShowPage(Page.STANDBY, "startup")]
    assert kiosk.run_until(0.9) == []
    assert kiosk.run_until(1.0) == [RequestStatus()]  # retried at scan_poll_s
    assert notable(kiosk.handle(status(trouble))) == []  # no second page change
    assert kiosk.run_until(2.0) == [RequestStatus()]
    assert notable(kiosk.handle(status(IN_SESSION))) == [ShowPage(Page.SESSION, "startup")]


def test_startup_routing_to_unpaid_after_faults():
    kiosk = Kiosk()
    kiosk.start()
    kiosk.play([status(FAULT), Wait(1), status(FOREIGN), Wait(1)])
    assert notable(kiosk.handle(status(UNPAID))) == [ShowPage(Page.UNPAID, "startup")]


def test_startup_keeps_standby_without_second_page_change_when_answer_is_1_after_faults():
    kiosk = Kiosk()
    kiosk.start()
    kiosk.play([status(FAULT), Wait(1)])
    assert notable(kiosk.handle(status(WAITING))) == []
    assert kiosk.flow.page is Page.STANDBY
    assert kiosk.run_until(120) == []  # routing done: A does not poll


def test_boot_page_gives_way_to_standby_after_boot_wait_when_nothing_answers():
    kiosk = Kiosk()
    kiosk.start()
    assert kiosk.run_until(TIMERS.boot_wait_s - 0.1) == []
    assert kiosk.run_until(TIMERS.boot_wait_s) == [ShowPage(Page.STANDBY, "startup")]
    assert notable(kiosk.handle(status(IN_SESSION))) == [ShowPage(Page.SESSION, "startup")]


def test_startup_retries_every_scan_poll_while_the_network_is_down():
    kiosk = Kiosk()
    kiosk.answers[RequestStatus] = status(FAULT)
    kiosk.start()
    kiosk.run_until(60)
    assert kiosk.count(RequestStatus, 0, 60) == 60
    assert kiosk.flow.page is Page.STANDBY


def test_customer_scanning_during_startup_retries_is_not_sent_back():
    kiosk = Kiosk()
    kiosk.start()
    kiosk.play([status(FAULT), INPUT])
    assert kiosk.flow.page is Page.SCAN
    assert notable(kiosk.handle(status(WAITING))) == []
    assert kiosk.flow.page is Page.SCAN
    kiosk.play([Wait(1), status(IN_SESSION)])
    assert kiosk.flow.page is Page.SESSION


def test_session_found_at_startup_takes_server_figures():
    kiosk = Kiosk()
    kiosk.start()
    kiosk.handle(status(Status(2, duration_min=41, cost=54.12, charging=1.32, elapsed_s=2460)))
    assert kiosk.flow.meter.cost == 54.12
    assert kiosk.flow.meter.charging == 1.32
    assert kiosk.flow.meter.elapsed(kiosk.now) == 2460


# --- the pages' answers and intents (rules 2, 5, 6, 7) -------------------------

STANDBY_AND_SCAN_CASES = [
    pytest.param("A", [INPUT], [ShowPage(Page.SCAN, "input")], Page.SCAN, id="A-input-opens-B"),
    pytest.param("A", [status(IN_SESSION)], [ShowPage(Page.SESSION, "status:onlineStatus=2")],
                 Page.SESSION, id="A-late-answer-2-opens-C"),
    pytest.param("A", [status(UNPAID)], [ShowPage(Page.UNPAID, "status:onlineStatus=3")],
                 Page.UNPAID, id="A-late-answer-3-opens-E"),
    pytest.param("A", [status(WAITING), status(NOT_FOUND), status(NOT_FOUND)], [], Page.STANDBY,
                 id="A-1-and-not-found-ignored"),
    pytest.param("A", [END, CONFIRM, CANCEL], [], Page.STANDBY, id="A-session-buttons-ignored"),
    pytest.param("B", [status(IN_SESSION)], [ShowPage(Page.SESSION, "rule2:onlineStatus=2")],
                 Page.SESSION, id="rule2-B-2-opens-C"),
    pytest.param("B", [status(UNPAID)], [ShowPage(Page.UNPAID, "status:onlineStatus=3")],
                 Page.UNPAID, id="B-3-opens-E"),
    pytest.param("B", [status(WAITING)], [], Page.SCAN, id="B-1-stays"),
    pytest.param("B", [status(NOT_FOUND), status(NOT_FOUND), status(NOT_FOUND)], [], Page.SCAN,
                 id="B-not-found-stays"),
    pytest.param("B", [status(FOREIGN)], [], Page.SCAN, id="B-foreign-2-ignored"),
    pytest.param("B", [status(FAULT), INPUT, status(FAULT)], [], Page.SCAN, id="B-faults-stay"),
    pytest.param("B", [END, CONFIRM, CANCEL], [], Page.SCAN, id="B-session-buttons-ignored"),
]


@pytest.mark.parametrize(("where", "events", "expected", "page"), STANDBY_AND_SCAN_CASES)
def test_standby_and_scan_pages_follow_answers_and_input(where, events, expected, page):
    kiosk = kiosk_on(where)
    assert notable(kiosk.play(events)) == expected
    assert kiosk.flow.page is page


SESSION_CASES = [
    pytest.param([status(WAITING)], reboot("rule5:onlineStatus=1"), id="1-reboots"),
    pytest.param([status(UNPAID)], reboot("rule5:onlineStatus=3"), id="3-reboots"),
    pytest.param([status(IN_SESSION)], [], id="2-carries-on"),
    pytest.param([status(NOT_FOUND)], [], id="one-not-found-does-not-reboot"),
    pytest.param([status(NOT_FOUND), status(NOT_FOUND)], reboot("rule5:data=0"),
                 id="second-not-found-in-a-row-reboots"),
    pytest.param([status(NOT_FOUND), status(FAULT), status(NOT_FOUND)], reboot("rule5:data=0"),
                 id="fault-between-not-founds-does-not-reset"),
    pytest.param([status(NOT_FOUND), status(FOREIGN), status(NOT_FOUND)],
                 reboot("rule5:data=0"), id="foreign-between-not-founds-does-not-reset"),
    pytest.param([status(NOT_FOUND), status(FAULT), status(FAULT), status(FOREIGN)], [],
                 id="faults-do-not-count-as-not-found"),
    pytest.param([status(NOT_FOUND), status(IN_SESSION), status(NOT_FOUND)], [],
                 id="2-between-not-founds-resets"),
    pytest.param([status(NOT_FOUND), status(IN_SESSION), status(NOT_FOUND), status(NOT_FOUND)],
                 reboot("rule5:data=0"), id="two-in-a-row-after-reset-reboot"),
    pytest.param([status(FOREIGN)], [], id="foreign-ignored"),
    pytest.param([status(ForeignAnswer("1")), status(ForeignAnswer("2"))], [],
                 id="foreign-answers-never-reboot"),
    pytest.param([report(Report(0))], reboot("rule5:report=0"), id="report-0-reboots"),
    pytest.param([report(Report(2))], reboot("rule5:report=2"), id="report-2-reboots"),
    pytest.param([report(Report(1))], [], id="report-1-carries-on"),
    pytest.param([report(FAULT), report(NetworkFault("http"))], [], id="report-faults-ignored"),
    pytest.param([status(FAULT)] * 10, [], id="status-faults-ignored"),
    pytest.param([INPUT] * 3, [], id="input-ignored"),
]


@pytest.mark.parametrize(("events", "expected"), SESSION_CASES)
@pytest.mark.parametrize("where", ["C", "D"])
def test_session_ends_with_reboot_only_when_the_backend_says_so(where, events, expected):
    kiosk = kiosk_on(where)
    assert notable(kiosk.play(events)) == expected
    assert kiosk.flow.page is (Page.REBOOTING if expected else SETUP_PAGES[where])


def test_not_found_streak_carries_from_session_to_end_page():
    kiosk = kiosk_on("C")
    assert notable(kiosk.play([status(NOT_FOUND), END, status(NOT_FOUND)])) == [
        ShowPage(Page.END, "end_pressed"), *reboot("rule5:data=0")]


def test_single_not_found_in_session_does_not_reboot():
    kiosk = kiosk_on("C")
    kiosk.answers[RequestReport] = report(Report(1))
    kiosk.handle(status(NOT_FOUND))
    kiosk.answers[RequestStatus] = status(IN_SESSION)
    assert notable(kiosk.run_until(600)) == []
    assert kiosk.flow.page is Page.SESSION


END_CASES = [
    pytest.param("C", [END], [ShowPage(Page.END, "end_pressed")], Page.END, id="C-end-opens-D"),
    pytest.param("C", [CONFIRM, CANCEL, INPUT], [], Page.SESSION, id="C-other-intents-ignored"),
    pytest.param("D", [CANCEL], [ShowPage(Page.SESSION, "cancel")], Page.SESSION,
                 id="D-cancel-before-confirm-back-to-C"),
    pytest.param("D", [END, INPUT], [], Page.END, id="D-end-and-input-ignored"),
    pytest.param("D", [CONFIRM], [RequestOffline()], Page.END, id="D-confirm-calls-offline"),
    pytest.param("D", [CONFIRM, CONFIRM], [RequestOffline()], Page.END,
                 id="D-second-confirm-no-second-offline"),
    pytest.param("D confirmed", [CANCEL], [], Page.END, id="cancel-after-confirm-ignored"),
    pytest.param("D confirmed", [END, INPUT, CONFIRM], [], Page.END,
                 id="input-after-confirm-ignored"),
    pytest.param("D confirmed", [offline(Offline(True))], [], Page.END,
                 id="offline-done-keeps-countdown"),
    pytest.param("D confirmed", [status(UNPAID)], [], Page.END,
                 id="offline-own-status-3-does-not-reboot-early"),
    pytest.param("D confirmed", [status(WAITING), status(NOT_FOUND), status(NOT_FOUND)], [],
                 Page.END, id="no-status-answer-matters-after-confirm"),
    pytest.param("D confirmed", [report(Report(0)), report(Report(2))], [], Page.END,
                 id="no-report-answer-matters-after-confirm"),
    pytest.param("D confirmed", [offline(Offline(False))],
                 [ShowPage(Page.SESSION, "offline_failed")], Page.SESSION,
                 id="offline-0-back-to-C"),
    pytest.param("D confirmed", [offline(FAULT)], [ShowPage(Page.SESSION, "offline_failed")],
                 Page.SESSION, id="offline-fault-back-to-C"),
    pytest.param("D confirmed", [offline(NetworkFault("malformed", "not JSON"))],
                 [ShowPage(Page.SESSION, "offline_failed")], Page.SESSION,
                 id="offline-garbage-back-to-C"),
    pytest.param("D confirmed", [offline(Offline(True)), offline(Offline(False))], [], Page.END,
                 id="stray-second-offline-answer-ignored"),
    pytest.param("D confirmed", [offline(Offline(False)), END],
                 [ShowPage(Page.SESSION, "offline_failed"), ShowPage(Page.END, "end_pressed")],
                 Page.END, id="customer-can-end-again-after-failure"),
    pytest.param("C", [offline(Offline(False)), offline(FAULT)], [], Page.SESSION,
                 id="offline-answer-without-confirm-ignored"),
]


@pytest.mark.parametrize(("where", "events", "expected", "page"), END_CASES)
def test_ending_a_session_confirms_then_calls_offline(where, events, expected, page):
    kiosk = kiosk_on(where)
    assert notable(kiosk.play(events)) == expected
    assert kiosk.flow.page is page


UNPAID_CASES = [
    pytest.param([status(WAITING)], reboot("rule7:onlineStatus=1"), Page.REBOOTING,
                 id="rule7-1-reboots"),
    pytest.param([status(IN_SESSION)], [ShowPage(Page.SESSION, "status:onlineStatus=2")],
                 Page.SESSION, id="2-opens-C"),
    pytest.param([status(UNPAID)], [], Page.UNPAID, id="3-stays"),
    pytest.param([status(NOT_FOUND), status(NOT_FOUND), status(NOT_FOUND)], [], Page.UNPAID,
                 id="not-found-stays"),
    pytest.param([status(FOREIGN), status(FAULT)], [], Page.UNPAID, id="foreign-and-fault-stay"),
    pytest.param([INPUT, END, CONFIRM, CANCEL], [], Page.UNPAID, id="input-cannot-unlock"),
]


@pytest.mark.parametrize(("events", "expected", "page"), UNPAID_CASES)
def test_unpaid_page_stays_locked_until_paid(events, expected, page):
    kiosk = kiosk_on("E")
    assert notable(kiosk.play(events)) == expected
    assert kiosk.flow.page is page


# --- rule 1 on time -------------------------------------------------------------


def test_scan_page_returns_to_standby_after_idle():
    kiosk = kiosk_on("A")
    kiosk.run_until(5)
    kiosk.handle(INPUT)
    assert notable(kiosk.run_until(5 + TIMERS.scan_idle_s - 0.1)) == []
    assert notable(kiosk.run_until(5 + TIMERS.scan_idle_s)) == [
        ShowPage(Page.STANDBY, "rule1:idle")]


def test_input_on_scan_page_postpones_return_to_standby():
    kiosk = kiosk_on("A")
    kiosk.handle(INPUT)
    kiosk.run_until(20)
    kiosk.handle(INPUT)
    assert notable(kiosk.run_until(20 + TIMERS.scan_idle_s - 0.1)) == []
    assert notable(kiosk.run_until(20 + TIMERS.scan_idle_s)) == [
        ShowPage(Page.STANDBY, "rule1:idle")]


def test_customer_moving_now_and_then_keeps_scan_page_open():
    kiosk = kiosk_on("B")
    kiosk.answers[RequestStatus] = status(NOT_FOUND)
    for _ in range(20):
        kiosk.play([Wait(TIMERS.scan_idle_s - 1), INPUT])
    assert kiosk.flow.page is Page.SCAN


def test_scan_idle_follows_configured_timer():
    kiosk = kiosk_on("B", flow.Timers(scan_idle_s=5))
    assert notable(kiosk.run_until(4.9)) == []
    assert notable(kiosk.run_until(5)) == [ShowPage(Page.STANDBY, "rule1:idle")]


def test_scan_page_opened_again_after_idle_counts_afresh():
    kiosk = kiosk_on("B")
    kiosk.run_until(30)
    assert kiosk.flow.page is Page.STANDBY
    kiosk.run_until(40)
    kiosk.handle(INPUT)
    assert notable(kiosk.run_until(69.9)) == []
    assert notable(kiosk.run_until(70)) == [ShowPage(Page.STANDBY, "rule1:idle")]


@pytest.mark.parametrize("where", ["A", "C", "D", "E"])
def test_no_idle_timeout_outside_scan_page(where):
    kiosk = kiosk_on(where)
    kiosk.answers[RequestStatus] = status(UNPAID if where == "E" else IN_SESSION)
    kiosk.answers[RequestReport] = report(Report(1))
    assert notable(kiosk.run_until(600)) == []


# --- rule 6 on time -------------------------------------------------------------


def test_reboots_exactly_after_confirm_whatever_answers_arrive():
    kiosk = kiosk_on("D")
    kiosk.run_until(10)
    assert kiosk.handle(CONFIRM) == [RequestOffline()]
    assert kiosk.flow.reboot_at == 10 + TIMERS.after_confirm_reboot_s
    meanwhile = [
        Wait(0.5), status(UNPAID), Wait(0.5), offline(Offline(True)), status(NOT_FOUND),
        status(NOT_FOUND), report(Report(0)), Wait(30), status(WAITING), INPUT, CANCEL, END,
        Wait(60), report(Report(2)), CONFIRM, status(FAULT), status(IN_SESSION),
    ]
    assert notable(kiosk.play(meanwhile)) == []
    assert notable(kiosk.run_until(10 + TIMERS.after_confirm_reboot_s - 0.1)) == []
    assert kiosk.run_until(10 + TIMERS.after_confirm_reboot_s) == reboot("rule6:after_confirm")


def test_reboot_after_confirm_follows_configured_timer():
    kiosk = kiosk_on("D", flow.Timers(after_confirm_reboot_s=20))
    kiosk.handle(CONFIRM)
    kiosk.handle(offline(Offline(True)))
    assert kiosk.run_until(19.9) == []
    assert kiosk.run_until(20) == reboot("rule6:after_confirm")


def test_failed_offline_cancels_countdown_and_resumes_polling():
    kiosk = kiosk_on("D")
    kiosk.handle(CONFIRM)
    kiosk.run_until(5)
    assert kiosk.handle(offline(Offline(False))) == [
        ShowPage(Page.SESSION, "offline_failed"), RequestStatus()]
    kiosk.handle(status(IN_SESSION))
    assert kiosk.run_until(TIMERS.session_report_s) == [RequestStatus(), RequestReport()]
    assert kiosk.flow.reboot_at is None
    assert kiosk.flow.notice_at(kiosk.now) == "offline_failed"
    assert kiosk.flow.notice_at(kiosk.now + TIMERS.notice_s) is None
    kiosk.answers[RequestStatus] = status(IN_SESSION)
    kiosk.answers[RequestReport] = report(Report(1))
    assert notable(kiosk.run_until(400)) == []
    assert kiosk.count(RequestStatus, 300, 400) == 100 / TIMERS.session_poll_s


def test_offline_timing_out_after_seconds_still_gives_the_session_back():
    kiosk = kiosk_on("D")
    kiosk.handle(CONFIRM)
    kiosk.run_until(4)
    assert notable(kiosk.handle(offline(FAULT))) == [ShowPage(Page.SESSION, "offline_failed")]
    assert notable(kiosk.run_until(300)) == []


def test_reboot_countdown_shown_only_after_confirm():
    kiosk = kiosk_on("D")
    assert not kiosk.flow.confirmed and kiosk.flow.reboot_at is None
    kiosk.handle(CONFIRM)
    assert kiosk.flow.confirmed


# --- polling on time ------------------------------------------------------------

OTHER_TIMERS = flow.Timers(scan_idle_s=600, scan_poll_s=3, session_poll_s=5,
                           session_report_s=15, unpaid_poll_s=4)

# (setup, steps that enter the page at 5 s, the backend's answer, status and report periods)
POLL_CASES = [
    pytest.param("A", [INPUT], WAITING, "scan_poll_s", None, id="B"),
    pytest.param("A", [status(IN_SESSION)], IN_SESSION, "session_poll_s", "session_report_s",
                 id="C"),
    pytest.param("C", [END], IN_SESSION, "session_poll_s", "session_report_s",
                 id="D-before-confirm"),
    pytest.param("D", [CONFIRM], IN_SESSION, None, None, id="D-after-confirm"),
    pytest.param("A", [status(UNPAID)], UNPAID, "unpaid_poll_s", None, id="E"),
    pytest.param("A", [], WAITING, None, None, id="A-after-routing"),
]


@pytest.mark.parametrize("backend", ["answering", "down"])
@pytest.mark.parametrize("timers", [flow.Timers(scan_idle_s=600), OTHER_TIMERS],
                         ids=["default-periods", "other-periods"])
@pytest.mark.parametrize(("where", "enter", "answer", "status_period", "report_period"),
                         POLL_CASES)
def test_each_page_polls_at_its_configured_periods(where, enter, answer, status_period,
                                                   report_period, timers, backend):
    kiosk = kiosk_on(where, timers)
    # answer what the setup left in flight, then let the fake backend answer at once
    kiosk.play([status(WAITING if where == "A" else IN_SESSION), report(Report(1))])
    kiosk.answers.update({RequestStatus: status(answer), RequestReport: report(Report(1))})
    kiosk.run_until(5)
    mark = len(kiosk.log)
    kiosk.play(enter)
    if backend == "down":  # faults keep the normal period: no faster, no slower
        kiosk.answers.update({RequestStatus: status(FAULT), RequestReport: report(FAULT)})
    kiosk.run_until(5 + 60)
    expected_status = round(60 / getattr(timers, status_period)) if status_period else 0
    expected_report = round(60 / getattr(timers, report_period)) if report_period else 0
    assert kiosk.count(RequestStatus, 5, 65, after=mark) == expected_status
    assert kiosk.count(RequestReport, 5, 65, after=mark) == expected_report
    assert kiosk.flow.page is not Page.REBOOTING


def test_polls_are_evenly_spaced_in_session():
    kiosk = kiosk_on("A")
    kiosk.answers[RequestStatus] = status(IN_SESSION)
    kiosk.answers[RequestReport] = report(Report(1))
    kiosk.run_until(5)
    kiosk.handle(status(IN_SESSION))
    kiosk.run_until(65)
    status_times = [t for t, c in kiosk.log if isinstance(c, RequestStatus) and t >= 5]
    report_times = [t for t, c in kiosk.log if isinstance(c, RequestReport) and t >= 5]
    assert status_times[:4] == [5, 7, 9, 11]
    assert report_times == [5, 15, 25, 35, 45, 55, 65]


def test_no_second_status_request_while_one_is_in_flight():
    kiosk = kiosk_on("A")
    assert kiosk.handle(INPUT) == [ShowPage(Page.SCAN, "input"), RequestStatus()]
    kiosk.run_until(10)
    assert kiosk.count(RequestStatus, 0.1, 10.1) == 0
    kiosk.handle(status(NOT_FOUND))  # the answer arrives late: the next request goes at once
    assert kiosk.count(RequestStatus, 10, 10.1) == 1


def test_no_second_report_while_one_is_in_flight():
    kiosk = kiosk_on("C")
    kiosk.answers[RequestStatus] = status(IN_SESSION)
    kiosk.run_until(25)
    assert kiosk.count(RequestReport, 0, 25) == 1
    kiosk.handle(report(Report(1)))
    assert kiosk.count(RequestReport, 25, 25.1) == 1


def test_request_never_answered_is_given_up_so_polling_continues():
    kiosk = kiosk_on("C")  # a status request and a report are in flight since 0 s
    stale = TIMERS.request_stale_s
    assert kiosk.run_until(stale - 0.1) == []
    assert kiosk.run_until(stale) == [RequestStatus(), RequestReport()]
    kiosk.handle(status(IN_SESSION))
    assert kiosk.run_until(stale + TIMERS.session_poll_s) == [RequestStatus()]


def test_startup_request_never_answered_is_retried():
    kiosk = Kiosk()
    kiosk.start()
    kiosk.run_until(TIMERS.request_stale_s - 0.1)
    assert kiosk.count(RequestStatus, 0.1, 1000) == 0
    assert kiosk.run_until(TIMERS.request_stale_s) == [RequestStatus()]


# --- network faults, rebooting, restart -------------------------------------------


@pytest.mark.parametrize("where", ["A", "B", "C", "D", "D confirmed", "E"])
def test_network_faults_never_change_page_nor_reboot(where):
    kiosk = kiosk_on(where)
    kiosk.answers[RequestStatus] = status(FAULT)
    kiosk.answers[RequestReport] = report(NetworkFault("connection", "ConnectionError"))
    faults = [status(NetworkFault("http", "HTTP 500")), status(NetworkFault("malformed")),
              report(FAULT)]
    if where != "D confirmed":  # there an offline fault is rule 6's "offline failed"
        faults.append(offline(FAULT))
    assert notable(kiosk.play(faults)) == []
    assert notable(kiosk.run_until(25)) == []
    assert kiosk.flow.page is SETUP_PAGES[where]


@pytest.mark.parametrize("event", [
    flow.Tick, INPUT, END, CONFIRM, CANCEL, status(IN_SESSION), status(WAITING), status(FAULT),
    report(Report(1)), offline(Offline(False)), jump(Page.STANDBY), jump(Page.SESSION),
], ids=["tick", "input", "end", "confirm", "cancel", "status-2", "status-1", "fault",
        "report", "offline-failed", "debug-A", "debug-C"])
def test_rebooting_page_ignores_everything(event):
    kiosk = kiosk_on("C")
    kiosk.handle(status(WAITING))
    kiosk.run_until(600)
    assert kiosk.handle(event) == []
    assert kiosk.flow.page is Page.REBOOTING


def test_rebooting_page_never_polls_nor_reboots_twice():
    kiosk = kiosk_on("E")
    assert kiosk.handle(status(WAITING)) == reboot("rule7:onlineStatus=1")
    assert kiosk.run_until(3600) == []


def test_start_after_simulated_reboot_runs_routing_again():
    kiosk = kiosk_on("C")
    kiosk.handle(report(Report(0)))
    kiosk.run_until(5)
    assert kiosk.start() == [ShowPage(Page.BOOT, "startup"), RequestStatus()]
    assert kiosk.flow.page is Page.BOOT and not kiosk.flow.confirmed
    assert notable(kiosk.handle(status(UNPAID))) == [ShowPage(Page.UNPAID, "startup")]


def test_start_after_simulated_reboot_forgets_the_old_countdown_and_streak():
    kiosk = kiosk_on("D confirmed")
    kiosk.run_until(180)
    assert kiosk.flow.page is Page.REBOOTING
    kiosk.start()
    kiosk.handle(status(IN_SESSION))
    assert kiosk.flow.reboot_at is None
    assert notable(kiosk.handle(status(NOT_FOUND))) == []  # a fresh not-found streak


@pytest.mark.parametrize(("where", "in_session"), [
    ("A", False), ("B", False), ("C", True), ("D", True), ("D confirmed", True), ("E", False),
])
def test_guardian_reboots_for_a_killed_client_only_in_a_session(where, in_session):
    assert (kiosk_on(where).flow.page.value in guardian.SESSION_PAGES) is in_session


def test_boot_and_rebooting_pages_are_not_a_session():
    kiosk = Kiosk()
    kiosk.start()
    assert kiosk.flow.page.value not in guardian.SESSION_PAGES
    kiosk.play(SETUPS["C"] + [status(UNPAID)])
    assert kiosk.flow.page is Page.REBOOTING
    assert kiosk.flow.page.value not in guardian.SESSION_PAGES


# --- debug keys ---------------------------------------------------------------------

DEBUG_PAGES = [Page.STANDBY, Page.SCAN, Page.SESSION, Page.END, Page.UNPAID]


@pytest.mark.parametrize("target", DEBUG_PAGES, ids=[p.value for p in DEBUG_PAGES])
@pytest.mark.parametrize("where", ["A", "B", "C", "D confirmed", "E"])
def test_debug_key_jumps_to_any_page(where, target):
    kiosk = kiosk_on(where)
    assert notable(kiosk.handle(jump(target))) == [ShowPage(target, "debug")]
    assert kiosk.flow.page is target
    assert not kiosk.flow.confirmed


@pytest.mark.parametrize("target", [Page.BOOT, Page.REBOOTING])
def test_debug_key_cannot_jump_to_boot_or_rebooting(target):
    kiosk = kiosk_on("A")
    assert kiosk.handle(jump(target)) == []
    assert kiosk.flow.page is Page.STANDBY


def test_debug_jump_during_startup_ends_routing():
    kiosk = Kiosk()
    kiosk.start()
    kiosk.handle(jump(Page.STANDBY))
    assert notable(kiosk.handle(status(WAITING))) == []
    assert kiosk.run_until(60) == []


def test_debug_jump_to_session_starts_its_polls_and_a_fresh_meter():
    kiosk = kiosk_on("A")
    kiosk.run_until(7)
    assert kiosk.handle(jump(Page.SESSION)) == [
        ShowPage(Page.SESSION, "debug"), RequestStatus(), RequestReport()]
    kiosk.run_until(10)
    assert kiosk.flow.meter.elapsed(kiosk.now) == 3


def test_session_entered_again_reports_at_once():
    kiosk = kiosk_on("C")  # reported at 0 s, next report due at 10 s
    kiosk.handle(report(Report(1)))
    kiosk.play([Wait(2), jump(Page.STANDBY), Wait(1)])
    assert RequestReport() in kiosk.handle(jump(Page.SESSION))


def test_debug_jump_away_from_confirmed_end_cancels_the_reboot():
    kiosk = kiosk_on("D confirmed")
    kiosk.handle(jump(Page.UNPAID))
    kiosk.answers[RequestStatus] = status(UNPAID)
    assert notable(kiosk.run_until(400)) == []


# --- the meter ------------------------------------------------------------------------

SPEC_RUNNING = Status(2, duration_min=2457, cost=3243.24, charging=1.32, elapsed_s=147465)


def test_meter_shows_server_elapsed_and_ticks_locally():
    kiosk = Kiosk()
    kiosk.start()
    kiosk.handle(status(SPEC_RUNNING))
    meter = kiosk.flow.meter
    assert (meter.cost, meter.charging) == (3243.24, 1.32)
    assert meter.elapsed(kiosk.now) == 147465
    kiosk.run_until(7.5)
    assert kiosk.flow.meter.elapsed(kiosk.now) == 147472.5


def test_meter_takes_each_new_answer_from_the_server_clock():
    kiosk = kiosk_on("C")
    kiosk.run_until(2)
    kiosk.handle(status(Status(2, duration_min=1, cost=1.32, charging=1.32, elapsed_s=100)))
    kiosk.run_until(5)
    assert kiosk.flow.meter.elapsed(kiosk.now) == 103
    assert kiosk.flow.meter.cost == 1.32


def test_meter_falls_back_to_duration_minutes_without_times():
    kiosk = Kiosk()
    kiosk.start()
    kiosk.handle(status(Status(2, duration_min=30, cost=39.6, charging=1.32)))
    assert kiosk.flow.meter.elapsed(kiosk.now) == 1800


def test_meter_keeps_counting_when_answer_has_neither_times_nor_duration():
    kiosk = Kiosk()
    kiosk.start()
    kiosk.handle(status(Status(2, elapsed_s=60)))
    kiosk.run_until(10)
    kiosk.handle(status(Status(2, cost=0.5)))
    kiosk.run_until(12)
    assert kiosk.flow.meter.elapsed(kiosk.now) == 72
    assert kiosk.flow.meter.cost == 0.5


def test_meter_is_frozen_on_unpaid_page():
    kiosk = Kiosk()
    kiosk.start()
    kiosk.handle(status(Status(3, duration_min=30, cost=39.6, charging=1.32, elapsed_s=172)))
    kiosk.run_until(100)
    assert kiosk.flow.meter.elapsed(kiosk.now) == 172
    assert kiosk.flow.meter.cost == 39.6


def test_meter_freezes_when_session_turns_unpaid_from_scan_page():
    kiosk = kiosk_on("B")
    kiosk.handle(status(Status(3, cost=12, elapsed_s=600)))
    kiosk.run_until(20)
    assert kiosk.flow.meter.elapsed(kiosk.now) == 600


def test_meter_is_frozen_after_confirm_and_resumes_if_offline_fails():
    kiosk = Kiosk()
    kiosk.start()
    kiosk.handle(status(Status(2, elapsed_s=100)))
    kiosk.play([END, Wait(10), CONFIRM])
    assert kiosk.flow.meter.elapsed(kiosk.now) == 110
    kiosk.play([Wait(50), status(UNPAID)])
    assert kiosk.flow.meter.elapsed(kiosk.now) == 110
    kiosk.handle(offline(Offline(False)))
    kiosk.run_until(kiosk.now + 5)
    assert kiosk.flow.meter.elapsed(kiosk.now) == 115


def test_meter_keeps_ticking_on_end_page_before_confirm():
    kiosk = Kiosk()
    kiosk.start()
    kiosk.handle(status(Status(2, elapsed_s=100)))
    kiosk.play([END, Wait(10)])
    assert kiosk.flow.meter.elapsed(kiosk.now) == 110


def test_meter_restarts_from_server_figures_when_unpaid_session_resumes():
    kiosk = Kiosk()
    kiosk.start()
    kiosk.handle(status(Status(3, elapsed_s=172)))
    kiosk.run_until(50)
    kiosk.handle(status(Status(2, elapsed_s=200)))
    kiosk.run_until(60)
    assert kiosk.flow.page is Page.SESSION
    assert kiosk.flow.meter.elapsed(kiosk.now) == 210


def test_customer_on_scan_page_when_startup_answer_comes_goes_to_session_by_rule_2():
    kiosk = Kiosk()
    kiosk.start()
    kiosk.play([status(FAULT), INPUT])
    assert notable(kiosk.handle(status(IN_SESSION))) == [
        flow.ShowPage(Page.SESSION, "rule2:onlineStatus=2")]


def test_loop_ticks_that_come_late_do_not_stretch_the_poll_period():
    """Ticks every 0.13 s (a busy PC): a 1 s report period still gives 60 reports a minute."""
    timers = replace(TIMERS, session_report_s=1.0, session_poll_s=1.0)
    core = flow.Flow(timers)
    reports: list[float] = []

    def answer_at_once(commands: list[flow.Command], now: float) -> None:
        while commands:
            command = commands.pop(0)
            if isinstance(command, flow.RequestReport):
                reports.append(now)
                commands += core.handle(flow.ReportResult(now, Report(1)))
            elif isinstance(command, flow.RequestStatus):
                commands += core.handle(flow.StatusResult(now, IN_SESSION))

    answer_at_once(core.handle(flow.Start(0.0)), 0.0)
    assert core.page is Page.SESSION
    now = 0.0
    while now < 60.0:
        now = round(now + 0.13, 2)
        answer_at_once(core.handle(flow.Tick(now)), now)
    assert len(reports) in (60, 61)


# --- a reboot that fails: 请联系网管 ---------------------------------------------------


def failed(reason: str) -> MakeEvent:
    return lambda now: flow.RebootFailed(now, reason)


@pytest.mark.parametrize("where", ["C", "D confirmed", "E"])
def test_failed_reboot_locks_on_contact_staff_page(where):
    kiosk = kiosk_on(where)
    kiosk.play([status(WAITING), Wait(200)])  # rule 5 or 7, or rule 6's countdown: a reboot
    assert kiosk.flow.page is Page.REBOOTING
    assert kiosk.handle(failed("rule5:onlineStatus=1")) == [
        ShowPage(Page.REBOOT_FAILED, "rule5:onlineStatus=1")]
    assert kiosk.flow.page is Page.REBOOT_FAILED


@pytest.mark.parametrize("event", [
    flow.Tick, INPUT, END, CONFIRM, CANCEL, status(IN_SESSION), status(WAITING), status(UNPAID),
    status(NOT_FOUND), report(Report(0)), offline(Offline(True)), jump(Page.STANDBY),
    jump(Page.SESSION),
], ids=["tick", "input", "end", "confirm", "cancel", "status-2", "status-1", "status-3",
        "not-found", "report-0", "offline", "debug-A", "debug-C"])
def test_contact_staff_page_never_unlocks_nor_reboots_again(event):
    kiosk = kiosk_on("C")
    kiosk.play([status(WAITING), failed("rule5:onlineStatus=1")])
    assert kiosk.handle(event) == []
    assert kiosk.run_until(3600) == []
    assert kiosk.flow.page is Page.REBOOT_FAILED


def test_failed_reboot_told_at_start_up_locks_at_once():
    kiosk = Kiosk()
    assert kiosk.handle(failed("rule3:ui_closed_in_C")) == [
        ShowPage(Page.REBOOT_FAILED, "rule3:ui_closed_in_C")]
    assert kiosk.run_until(60) == []


# --- jitter: a venue's PCs spread their polls instead of hitting the backend in lock-step ---

JITTERY = replace(TIMERS, scan_idle_s=600, jitter=0.05)


def request_times(kiosk: Kiosk, kind: type, since: float) -> list[float]:
    return [t for t, c in kiosk.log if isinstance(c, kind) and t >= since]


def gaps(times: list[float]) -> list[float]:
    return [b - a for a, b in zip(times, times[1:], strict=False)]


# (setup, backend answer, request kind, period name)
JITTER_CASES = [
    pytest.param("B", WAITING, RequestStatus, "scan_poll_s", id="B-status"),
    pytest.param("C", IN_SESSION, RequestStatus, "session_poll_s", id="C-status"),
    pytest.param("C", IN_SESSION, RequestReport, "session_report_s", id="C-report"),
    pytest.param("E", UNPAID, RequestStatus, "unpaid_poll_s", id="E-status"),
]


@pytest.mark.parametrize("jitter", [0.05, 0.25])
@pytest.mark.parametrize(("where", "answer", "kind", "period"), JITTER_CASES)
def test_jittered_periods_stay_within_the_spread_and_average_the_configured_period(
        where, answer, kind, period, jitter):
    timers = replace(JITTERY, jitter=jitter)
    kiosk = kiosk_on(where, timers, random.Random(7))
    kiosk.play([status(answer), report(Report(1))])  # what the setup left in flight
    kiosk.answers.update({RequestStatus: status(answer), RequestReport: report(Report(1))})
    configured = getattr(timers, period)
    kiosk.run_until(configured * 400)
    spaced = gaps(request_times(kiosk, kind, since=1))
    assert len(spaced) >= 390
    tick = 0.1  # the fake loop's tick: a request goes out on the first tick after it is due
    assert min(spaced) >= configured * (1 - jitter) - tick
    assert max(spaced) <= configured * (1 + jitter) + tick
    # the mean of n gaps errs by about period × jitter / √(3n): allow four times that
    allowed = 4 * configured * jitter / math.sqrt(3 * len(spaced)) + tick / len(spaced)
    assert abs(statistics.fmean(spaced) - configured) <= allowed
    assert statistics.pstdev(spaced) > configured * jitter / 4  # it does spread


def test_session_reports_with_jitter_still_average_ten_seconds_over_an_hour():
    """Rule 4: the backend sees a report every 10 s on average, whatever the spread."""
    kiosk = kiosk_on("C", replace(JITTERY, jitter=0.05), random.Random(11))
    kiosk.play([status(IN_SESSION), report(Report(1))])
    kiosk.answers.update({RequestStatus: status(IN_SESSION), RequestReport: report(Report(1))})
    kiosk.run_until(3600)
    assert kiosk.count(RequestReport, 0, 3600) in range(359, 362)
    assert abs(statistics.fmean(gaps(request_times(kiosk, RequestReport, 0))) - 10) < 0.05


def test_jitter_zero_polls_on_the_exact_period_grid():
    kiosk = Kiosk(replace(JITTERY, jitter=0), random.Random(3))
    kiosk.answers.update({RequestStatus: status(IN_SESSION), RequestReport: report(Report(1))})
    assert kiosk.start() == [ShowPage(Page.BOOT, "startup"), RequestStatus(),
                             ShowPage(Page.SESSION, "startup"), RequestStatus(), RequestReport()]
    kiosk.run_until(100)
    assert request_times(kiosk, RequestReport, 0) == [float(t) for t in range(0, 101, 10)]
    assert request_times(kiosk, RequestStatus, 1) == [float(t) for t in range(2, 101, 2)]


@pytest.mark.parametrize("seed", range(20))
def test_jitter_never_brings_rule_1_or_rule_6_forward(seed):
    timers = replace(TIMERS, scan_idle_s=30, after_confirm_reboot_s=180, jitter=0.25)
    kiosk = Kiosk(timers, random.Random(seed))
    kiosk.start()
    kiosk.answers.update({RequestStatus: status(WAITING)})
    kiosk.play([status(NOT_FOUND), Wait(5), INPUT])
    assert notable(kiosk.run_until(5 + 29.9)) == []
    assert notable(kiosk.run_until(5 + 30)) == [ShowPage(Page.STANDBY, "rule1:idle")]

    kiosk = Kiosk(timers, random.Random(seed))
    kiosk.start()
    kiosk.answers.update({RequestStatus: status(IN_SESSION), RequestReport: report(Report(1))})
    kiosk.play([status(IN_SESSION), Wait(7), END, CONFIRM])
    assert notable(kiosk.run_until(7 + 179.9)) == []
    assert notable(kiosk.run_until(7 + 180)) == reboot("rule6:after_confirm")


def test_venue_powering_on_at_once_spreads_the_first_request_over_one_poll_period():
    timers = replace(TIMERS, jitter=0.05)
    window = timers.startup_spread_s
    assert window == min(timers.scan_poll_s, timers.boot_wait_s / 2) > 0
    firsts = []
    for seed in range(200):
        kiosk = Kiosk(timers, random.Random(seed))
        assert kiosk.start() == [ShowPage(Page.BOOT, "startup")]  # not at the same instant
        kiosk.run_until(window + 0.1)
        firsts.append(request_times(kiosk, RequestStatus, 0)[0])
    # each PC asks on the first 0.1 s tick after its own random instant in the window:
    # every tick of the window gets some of the 200 PCs, none gets a crowd
    ticks = collections.Counter(round(t * 10) for t in firsts)
    assert sorted(ticks) == list(range(1, round(window * 10) + 1))
    assert max(ticks.values()) <= 2 * len(firsts) / len(ticks)


def test_spread_start_still_leaves_the_boot_screen_after_boot_wait():
    timers = replace(TIMERS, jitter=0.25, scan_poll_s=5)
    assert timers.startup_spread_s == timers.boot_wait_s / 2
    kiosk = Kiosk(timers, random.Random(1))
    kiosk.start()
    assert notable(kiosk.run_until(timers.boot_wait_s - 0.1)) == []
    assert kiosk.count(RequestStatus, 0, timers.boot_wait_s / 2 + 0.1) == 1
    assert notable(kiosk.run_until(timers.boot_wait_s)) == [ShowPage(Page.STANDBY, "startup")]
