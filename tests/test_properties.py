"""Properties: whatever the server answers and in whatever order things happen, the
contract parser never raises, and the flow core never reboots unless a rule says so,
never unlocks without a session answer, and never calls ``offline`` twice for one end.

The oracle below is written from the specification's rules and sees only what the
flow core shows (its events in, its commands out), not its state.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kiosk import contract
from kiosk.contract import ForeignAnswer, NetworkFault, NotFound, Offline, Report, Status
from kiosk.flow import (
    SESSION_PAGES,
    Cancel,
    Confirm,
    EndPressed,
    Flow,
    OfflineResult,
    Page,
    Reboot,
    ReportResult,
    RequestOffline,
    ShowPage,
    Start,
    StatusResult,
    Tick,
    Timers,
    UserInput,
)

CLIENT = "370011"
# Derandomized and without a database: the same examples on every run, on every machine.
PROFILE = settings(max_examples=100, derandomize=True, database=None, deadline=None,
                   suppress_health_check=[HealthCheck.too_slow])

# --- the parser ---------------------------------------------------------------------

json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-5, 5) | st.integers()
    | st.floats(allow_nan=True, allow_infinity=True) | st.text(max_size=12)
    | st.sampled_from(["1", "2", "3", " 2 ", "-1", "2.0", CLIENT, "999999", "",
                       "2017-08-07 16:32:20", "2099-13-45 99:99:99"]),
    lambda children: st.lists(children, max_size=4)
    | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=12,
)
KEYS = ["data", "onlineStatus", "clientId", "duration", "cost", "charging", "startTime",
        "endTime", "serviceNum", "unionId"]
answers_like = st.dictionaries(st.sampled_from(KEYS), json_values, max_size=9)
PARSERS = [lambda body: contract.parse_status(body, CLIENT), contract.parse_report,
           contract.parse_offline, contract.parse_service_number]
ALLOWED = (Status, NotFound, ForeignAnswer, NetworkFault, Report, Offline,
           contract.ServiceNumber)


def encoded(value: object) -> bytes:
    return json.dumps(value, allow_nan=True).encode()


bodies = st.one_of(
    st.binary(max_size=200),
    answers_like.map(encoded),
    json_values.map(encoded),
    answers_like.map(lambda a: encoded(a).replace(b'"', "“".encode(), 2)),
    st.tuples(answers_like.map(encoded), st.integers(0, 200)).map(lambda t: t[0][:t[1]]),
)


@PROFILE
@given(bodies)
def test_no_answer_body_makes_any_parser_raise(body):
    for parse in PARSERS:
        answer = parse(body)
        assert isinstance(answer, ALLOWED)
        if isinstance(answer, Status):
            assert answer.online_status in (1, 2, 3)
            assert all(x >= 0 for x in (answer.cost, answer.charging, answer.duration_min))
            assert answer.elapsed_s is None or answer.elapsed_s >= 0


@PROFILE
@given(answers_like)
def test_a_status_for_another_client_is_never_taken_for_ours(answer):
    parsed = contract.parse_status(encoded(answer), CLIENT)
    other = answer.get("clientId")
    if isinstance(parsed, Status) and other not in (None, ""):
        assert str(other).strip() == CLIENT


# --- the flow core ------------------------------------------------------------------

TIMERS = Timers(scan_idle_s=5, scan_poll_s=1, session_report_s=2, session_poll_s=1,
                after_confirm_reboot_s=10, unpaid_poll_s=1, boot_wait_s=3, notice_s=2,
                request_stale_s=30)

typed_status = st.one_of(
    st.sampled_from([Status(1), Status(2), Status(3), NotFound(), ForeignAnswer("999999"),
                     NetworkFault("timeout")]),
    st.builds(Status, st.sampled_from([1, 2, 3]), st.floats(0, 1e4), st.floats(0, 1e4),
              st.floats(0, 10), st.none() | st.floats(0, 1e6)),
    st.builds(ForeignAnswer, st.sampled_from(["999999", "37001", ""])),
    st.builds(NetworkFault, st.sampled_from(["timeout", "connection", "http", "malformed",
                                             "dns", "bug"])),
)
status_answers = st.one_of(
    typed_status, answers_like.map(lambda a: contract.parse_status(encoded(a), CLIENT)))
report_answers = st.one_of(st.sampled_from([Report(0), Report(1), Report(2),
                                            NetworkFault("timeout")]),
                           answers_like.map(lambda a: contract.parse_report(encoded(a))))
offline_answers = st.one_of(st.sampled_from([Offline(True), Offline(False),
                                             NetworkFault("connection")]),
                            answers_like.map(lambda a: contract.parse_offline(encoded(a))))
# Answers come more often than anything else, as on a polling kiosk.
KINDS = ["status"] * 6 + ["report"] * 2 + ["offline", "tick", "tick", "input", "end",
                                           "confirm", "cancel", "start"]
PAYLOADS = {"status": status_answers, "report": report_answers, "offline": offline_answers}
steps = st.lists(st.tuples(
    st.sampled_from([0.0, 0.05, 0.5, 1.0, 2.5, 6.0, 11.0]),
    st.sampled_from(KINDS).flatmap(
        lambda kind: st.tuples(st.just(kind), PAYLOADS.get(kind, st.none()))),
), min_size=15, max_size=60)


@dataclass
class Oracle:
    """What the specification allows, tracked from the flow's events and commands only."""

    page: Page | None = None
    confirmed_at: float | None = None
    not_found_streak: int = 0
    offline_outstanding: bool = False
    violations: list[str] = field(default_factory=list)

    def reboot_allowed(self, event, now: float) -> bool:
        page, confirmed = self.page, self.confirmed_at is not None
        if isinstance(event, Tick | StatusResult | ReportResult | OfflineResult | UserInput
                      | EndPressed | Confirm | Cancel) and confirmed:
            return now >= self.confirmed_at + TIMERS.after_confirm_reboot_s  # rule 6
        if isinstance(event, StatusResult):
            answer = event.answer
            if isinstance(answer, Status):
                return ((page in SESSION_PAGES and answer.online_status in (1, 3))  # rule 5
                        or (page is Page.UNPAID and answer.online_status == 1))  # rule 7
            if isinstance(answer, NotFound):  # {"data":0} twice in a row in a session
                return page in SESSION_PAGES and self.not_found_streak >= 1
        if isinstance(event, ReportResult):  # the report says the session is over
            return (page in SESSION_PAGES and isinstance(event.answer, Report)
                    and event.answer.code in (0, 2))
        return False

    def check(self, event, commands, now: float) -> None:
        shown = [c for c in commands if isinstance(c, ShowPage)]
        if any(isinstance(c, Reboot) for c in commands) and not self.reboot_allowed(event, now):
            self.violations.append(f"reboot {commands} on {event} from {self.page}")
        for show in shown:
            if show.page is Page.SESSION:
                session_answer = (isinstance(event, StatusResult)
                                  and isinstance(event.answer, Status)
                                  and event.answer.online_status == 2)
                back_from_end = (self.page is Page.END
                                 and show.reason in ("cancel", "offline_failed"))
                if not (session_answer or back_from_end):
                    self.violations.append(f"unlocked by {event} from {self.page}")
            if show.page is Page.END and self.page is not Page.SESSION:
                self.violations.append(f"D entered from {self.page}")
        for command in commands:
            if isinstance(command, RequestOffline):
                if self.offline_outstanding:
                    self.violations.append(f"second offline on {event}")
                if self.page is not Page.END or not isinstance(event, Confirm):
                    self.violations.append(f"offline asked on {event} from {self.page}")
                self.offline_outstanding = True
                self.confirmed_at = now
        self._follow(event, shown)

    def _follow(self, event, shown: list[ShowPage]) -> None:
        if isinstance(event, Start):
            self.confirmed_at, self.offline_outstanding, self.not_found_streak = None, False, 0
        if isinstance(event, StatusResult) and self.confirmed_at is None:
            if isinstance(event.answer, NotFound) and self.page in SESSION_PAGES:
                self.not_found_streak += 1
            elif isinstance(event.answer, Status):
                self.not_found_streak = 0
        for show in shown:
            if show.page in SESSION_PAGES and self.page not in SESSION_PAGES:
                self.not_found_streak = 0
            if show.reason == "offline_failed":
                self.confirmed_at, self.offline_outstanding = None, False
            self.page = show.page


def event_of(kind: str, payload: object, now: float):
    return {
        "tick": lambda: Tick(now), "input": lambda: UserInput(now),
        "end": lambda: EndPressed(now), "confirm": lambda: Confirm(now),
        "cancel": lambda: Cancel(now), "start": lambda: Start(now),
        "status": lambda: StatusResult(now, payload),
        "report": lambda: ReportResult(now, payload),
        "offline": lambda: OfflineResult(now, payload),
    }[kind]()


@settings(PROFILE, max_examples=120)
@given(steps)
def test_the_flow_keeps_the_rules_whatever_happens_in_whatever_order(script):
    flow, oracle, now = Flow(TIMERS), Oracle(), 0.0
    for event in [Start(now)] + [event_of(kind, payload, now := now + dt)
                                 for dt, (kind, payload) in script]:
        commands = flow.handle(event)
        oracle.check(event, commands, event.now)
        assert not oracle.violations, oracle.violations
        assert oracle.page is flow.page or flow.page is Page.BOOT


@PROFILE
@given(st.lists(st.tuples(st.sampled_from([0.1, 1.0, 3.0]), status_answers), max_size=40))
def test_on_the_scan_page_only_a_session_answer_for_this_pc_unlocks(answers):
    flow, now = Flow(TIMERS), 0.0
    flow.handle(Start(now))
    flow.handle(StatusResult(now, NotFound()))
    flow.handle(UserInput(now))
    assert flow.page is Page.SCAN
    for dt, answer in answers:
        now += dt
        flow.handle(UserInput(now))  # the customer is still there: rule 1 does not apply
        commands = flow.handle(StatusResult(now, answer))
        if flow.page is Page.SESSION:
            assert isinstance(answer, Status) and answer.online_status == 2
            assert commands[0] == ShowPage(Page.SESSION, "rule2:onlineStatus=2")
            return
        assert not any(isinstance(c, Reboot) for c in commands)
        if flow.page is not Page.SCAN:  # only to E, still locked, on an unpaid session of ours
            assert flow.page is Page.UNPAID
            assert isinstance(answer, Status) and answer.online_status == 3
            return


@PROFILE
@given(st.lists(st.tuples(st.sampled_from([0.1, 1.0, 3.0]),
                          st.sampled_from(["status", "report", "offline"]).flatmap(
                              lambda kind: st.tuples(st.just(kind), PAYLOADS[kind]))),
                max_size=40))
def test_after_confirming_nothing_reboots_before_rule_6_and_rule_6_always_does(answers):
    flow, now = Flow(TIMERS), 0.0
    flow.handle(Start(now))
    flow.handle(StatusResult(now, Status(2)))
    flow.handle(EndPressed(now))
    flow.handle(Confirm(now))
    assert flow.confirmed
    deadline = now + TIMERS.after_confirm_reboot_s
    for dt, (kind, answer) in answers:
        now = min(now + dt, deadline - 0.01)
        commands = flow.handle(event_of(kind, answer, now))
        if not flow.confirmed:  # only a failed offline gives the session back
            assert kind == "offline" and not (isinstance(answer, Offline) and answer.done)
            assert commands[0] == ShowPage(Page.SESSION, "offline_failed")
            return
        assert not any(isinstance(c, Reboot) for c in commands), (kind, answer)
    assert flow.handle(Tick(deadline))[-1] == Reboot("rule6:after_confirm")
