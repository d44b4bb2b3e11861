"""Fault injection: the real flow core and API edge against the simulator misbehaving on purpose.

Each fault of the simulator's catalogue is played on the status and report calls while
the kiosk shows a page, then cleared. Whatever the fault: nothing raises, nothing
reboots, the page stays, each fault kind is logged once a minute at most, and the first
poll after the fault is cleared is answered normally, within one poll period.

The kiosk runs headless: the app's dispatch (commands → calls → results) without
pygame, calls made in line, on a clock that is the real one plus skipped time, so a
server down for minutes takes a second while stalls and timeouts stay real.
"""

from __future__ import annotations

import logging
import socket
import threading
import time
from collections.abc import Iterator

import pytest

from kiosk import api
from kiosk.api import Api, FaultLog
from kiosk.contract import ForeignAnswer, NetworkFault, Status
from kiosk.flow import (
    CALLS,
    Confirm,
    EndPressed,
    Event,
    Flow,
    Page,
    Reboot,
    ShowPage,
    Start,
    Tick,
    Timers,
    UserInput,
)
from kiosk.simulator import Simulator
from kiosk.simulator.faults import CATALOGUE
from kiosk.tls import Tls

CLIENT = "370011"
# The API's timeout here: far above an in-process call on a loaded machine (2 ms typical,
# 7 ms at worst idle), so only a fault ever times out; the stalls are three times as long.
TIMEOUT_S = 0.5
STALL_S = 3 * TIMEOUT_S
TIMERS = Timers(scan_idle_s=10_000, scan_poll_s=0.2, session_report_s=0.3, session_poll_s=0.2,
                after_confirm_reboot_s=10_000, unpaid_poll_s=0.2, request_stale_s=10_000)
PERIOD_S = 0.2
STEP_S = 0.02
FAULT_WINDOW_S = 3.5  # kiosk time; in C a stalled poll and report take a second: 4 polls


class Clock:
    """The real monotonic clock plus time skipped on purpose. ``perf_counter``: Windows'
    ``monotonic`` ticks in 15.6 ms steps, so a poll answered at once would look as old as
    the moment before it."""

    def __init__(self) -> None:
        self.skipped = 0.0

    def __call__(self) -> float:
        return time.perf_counter() + self.skipped


class HeadlessKiosk:
    """The app's dispatch without pygame: the flow's commands are run, calls made in line."""

    def __init__(self, base_url: str, *, timeout_s: float = TIMEOUT_S,
                 period_s: float | None = None, tls: Tls | None = None) -> None:
        self.clock = Clock()
        self.api = Api(base_url, CLIENT, timeout_s=timeout_s, period_s=period_s, tls=tls)
        self.api.faults = FaultLog(clock=self.clock)
        self.flow = Flow(TIMERS)
        self.pages: list[tuple[float, Page, str]] = []
        self.reboots: list[str] = []
        self.answers: list[tuple[float, str, object]] = []
        self._results: list[Event] = []
        self.handle(Start(self.clock()))

    def handle(self, event: Event) -> None:
        for command in self.flow.handle(event):
            if isinstance(command, ShowPage):
                self.pages.append((self.clock(), command.page, command.reason))
            elif isinstance(command, Reboot):
                self.reboots.append(command.reason)
            else:
                name, result = CALLS[type(command)]
                answer = getattr(self.api, name)()
                self.answers.append((self.clock(), name, answer))
                self._results.append(result(self.clock(), answer))

    def step(self) -> None:
        """One turn of the app's loop: the answers that came in, then the clock's tick."""
        results, self._results = self._results, []
        for result in results:
            self.handle(result)
        self.handle(Tick(self.clock()))

    def run(self, seconds: float, step: float = STEP_S, skip: bool = True) -> None:
        """Tick for ``seconds`` of kiosk time; ``skip``: without waiting for them (the
        calls themselves, stalls and timeouts included, take their real time)."""
        end = self.clock() + seconds
        while self.clock() < end:
            if skip:
                self.clock.skipped += step
            else:
                time.sleep(step)
            self.step()

    def run_until(self, done, seconds: float, skip: bool = True) -> float:
        """Tick until ``done()``; the kiosk time it took. ``skip``: without waiting, unless
        the server's own time must pass (a stall, a timer)."""
        started = self.clock()
        while not done():
            assert self.clock() - started < seconds, "not within the time"
            if skip:
                self.clock.skipped += STEP_S
            else:
                time.sleep(STEP_S)
            self.step()
        return self.clock() - started

    @property
    def page(self) -> Page:
        return self.flow.page

    def since(self, t: float, name: str) -> list[object]:
        return [answer for at, kind, answer in self.answers if at >= t and kind == name]


@pytest.fixture
def venue() -> Iterator[Simulator]:
    """A fresh simulator each test: a stalled answer let go late reaches only its own."""
    simulator = Simulator(report_timeout_s=10_000)
    simulator.start()
    yield simulator
    simulator.stop()


def kiosk_on(sim: Simulator, page: Page, **kwargs: object) -> HeadlessKiosk:
    """A kiosk showing ``page``, reached the way a customer gets there."""
    if page in (Page.SESSION, Page.UNPAID):
        sim.venue.start(CLIENT)
    if page is Page.UNPAID:
        sim.venue.end(CLIENT)
    kiosk = HeadlessKiosk(sim.base_url, **kwargs)
    kiosk.run_until(lambda: kiosk.page is not Page.BOOT, 2)
    if page is Page.SCAN:
        kiosk.handle(UserInput(kiosk.clock()))
    assert kiosk.page is page
    return kiosk


def fault_lines(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records
            if r.name == "kiosk.api" and r.levelno >= logging.INFO]


# Every fault of the catalogue that applies to the status or report call, with the
# parameters that make it interesting; (fault request, endpoints, how it looks to the kiosk).
FAULTS = [
    ({"fault": "http", "code": 500}, ("status", "report"), "http"),
    ({"fault": "http", "code": 404}, ("status", "report"), "http"),
    ({"fault": "http", "code": 503}, ("status", "report"), "http"),
    ({"fault": "html"}, ("status", "report"), "malformed"),
    ({"fault": "html", "code": 502}, ("status", "report"), "http"),
    ({"fault": "drop"}, ("status", "report"), "connection"),
    ({"fault": "reset"}, ("status", "report"), "connection"),
    ({"fault": "stall", "seconds": STALL_S}, ("status", "report"), "timeout"),
    ({"fault": "trickle", "seconds": STALL_S}, ("status", "report"), "timeout"),
    ({"fault": "truncated"}, ("status", "report"), "connection"),
    ({"fault": "huge"}, ("status", "report"), "too_large"),
    ({"fault": "garbage"}, ("status", "report"), "malformed"),
    ({"fault": "bad_utf8"}, ("status", "report"), "malformed"),
    ({"fault": "wrong_types", "variant": "nulls"}, ("status", "report"), "malformed"),
    ({"fault": "wrong_types", "variant": "booleans"}, ("status", "report"), "malformed"),
    ({"fault": "wrong_types", "variant": "objects"}, ("status", "report"), "malformed"),
    ({"fault": "wrong_types", "variant": "array"}, ("status", "report"), "malformed"),
    ({"fault": "wrong_types", "variant": "strings"}, ("status", "report"), None),  # "2" is 2
    ({"fault": "foreign"}, ("status",), "foreign"),
    ({"fault": "data0", "count": 1}, ("status",), "lone data 0"),
]


def test_the_suite_plays_every_fault_of_the_catalogue():
    played = {request["fault"] for request, _, _ in FAULTS} | {"none"}
    assert played == set(CATALOGUE)


@pytest.mark.parametrize("page", [Page.SESSION, Page.SCAN, Page.UNPAID])
@pytest.mark.parametrize(("request_", "endpoints", "looks"), FAULTS,
                         ids=[f"{r['fault']}-{r.get('variant', r.get('code', ''))}"
                              for r, _, _ in FAULTS])
def test_a_fault_changes_nothing_and_service_is_back_within_a_period(
        venue, caplog, page, request_, endpoints, looks):
    caplog.set_level(logging.INFO, logger="kiosk.api")
    kiosk = kiosk_on(venue, page)
    pages_before = list(kiosk.pages)
    start = kiosk.clock()
    for endpoint in endpoints:
        venue.faults.configure({"endpoint": endpoint, **request_})

    kiosk.run(FAULT_WINDOW_S)

    assert kiosk.reboots == []
    assert kiosk.pages == pages_before and kiosk.page is page
    polls = kiosk.since(start, "status")
    assert len(polls) >= 3, "polling stopped during the fault"
    if looks in ("foreign", "lone data 0", None):
        assert not [line for line in fault_lines(caplog) if "network fault" in line]
    else:
        assert all(isinstance(answer, NetworkFault) and answer.kind == looks
                   for answer in polls[:-1])  # the last may be the count's end
        faulty = [line for line in fault_lines(caplog) if "network fault" in line]
        reporting = page is Page.SESSION  # only C reports its status
        assert len(faulty) == (len(endpoints) if reporting else 1), faulty
    if looks == "foreign":
        assert sum("ignored an answer for client" in line for line in fault_lines(caplog)) == 1
        assert all(isinstance(answer, ForeignAnswer) for answer in polls)

    venue.faults.clear()
    cleared = kiosk.clock()
    took = kiosk.run_until(lambda: any(isinstance(a, Status) for a in kiosk.since(cleared,
                                                                                   "status")),
                           PERIOD_S + TIMEOUT_S + 1)
    assert took <= PERIOD_S + 0.5
    assert kiosk.reboots == [] and kiosk.page is page


@pytest.mark.parametrize("request_", [
    {"fault": "http", "code": 502}, {"fault": "drop"}, {"fault": "garbage"},
    {"fault": "reset"}, {"fault": "data0"}, {"fault": "html"},
])
def test_a_failed_offline_gives_the_session_back_and_is_asked_once(venue, request_):
    kiosk = kiosk_on(venue, Page.SESSION)
    venue.faults.configure({"endpoint": "offline", **request_})
    kiosk.handle(EndPressed(kiosk.clock()))
    kiosk.handle(Confirm(kiosk.clock()))
    kiosk.step()
    assert kiosk.page is Page.SESSION and kiosk.pages[-1][2] == "offline_failed"
    assert len(kiosk.since(0, "offline")) == 1
    kiosk.run(0.5)
    assert kiosk.reboots == [] and kiosk.page is Page.SESSION


@pytest.mark.parametrize("request_", [
    {"fault": "stall", "seconds": STALL_S}, {"fault": "trickle", "seconds": STALL_S},
    {"fault": "truncated"}, {"fault": "bad_utf8"}, {"fault": "wrong_types", "variant": "nulls"},
])
def test_an_offline_the_server_did_but_whose_answer_was_lost_ends_in_a_rule_5_reboot(
        venue, request_):
    kiosk = kiosk_on(venue, Page.SESSION)
    venue.faults.configure({"endpoint": "offline", **request_})
    kiosk.handle(EndPressed(kiosk.clock()))
    kiosk.handle(Confirm(kiosk.clock()))
    kiosk.step()
    assert kiosk.page is Page.SESSION and kiosk.reboots == []  # the kiosk heard nothing back
    kiosk.run_until(lambda: kiosk.reboots, STALL_S + PERIOD_S + 1, skip=False)
    # the server had ended it: locked again, on whichever answer tells first (the status
    # poll's 3 normally, the report's 2 if that poll timed out on a loaded machine)
    assert kiosk.reboots in (["rule5:onlineStatus=3"], ["rule5:report=2"])


def test_a_stall_of_fifteen_seconds_costs_a_poll_only_the_timeout(venue, caplog):
    caplog.set_level(logging.INFO, logger="kiosk.api")
    kiosk = kiosk_on(venue, Page.SESSION, timeout_s=1.0)
    venue.faults.configure({"endpoint": "status", "fault": "stall", "seconds": 15})
    started = time.monotonic()
    kiosk.clock.skipped += PERIOD_S  # the next poll is due
    kiosk.step()
    took = time.monotonic() - started
    assert kiosk.since(started, "status")[-1] == NetworkFault("timeout", "ReadTimeout")
    assert 1.0 <= took < 1.0 + 2  # the timeout, not the stall
    assert kiosk.page is Page.SESSION and kiosk.reboots == []


def test_server_down_for_minutes_logs_a_line_a_minute_and_is_noticed_within_a_period(
        venue, caplog):
    caplog.set_level(logging.INFO, logger="kiosk.api")
    kiosk = kiosk_on(venue, Page.SESSION)
    venue.refuse()
    start = kiosk.clock()
    kiosk.run(5 * 60, step=PERIOD_S / 2)  # five minutes of polls against a closed port
    polls = kiosk.since(start, "status")
    assert len(polls) >= 5 * 60 / PERIOD_S * 0.9
    assert all(answer == NetworkFault("connection", "ConnectionError") for answer in polls)
    lines = fault_lines(caplog)
    for endpoint in ("status_client", "clientStatus"):
        mine = [line for line in lines if line.startswith(endpoint)]
        assert 5 <= len(mine) <= 6, mine  # a line a minute, not a line a poll
        assert "more since the last line" in mine[-1]
    assert kiosk.reboots == [] and kiosk.page is Page.SESSION

    venue.listen_again()
    back = kiosk.clock()
    took = kiosk.run_until(lambda: any(isinstance(a, Status) for a in kiosk.since(back,
                                                                                "status")), 3)
    assert took <= PERIOD_S + 0.5
    assert kiosk.page is Page.SESSION and kiosk.reboots == []
    assert sum(line == "status_client: answering again" for line in fault_lines(caplog)) == 1


def test_refuse_through_the_control_api_comes_back_by_itself(venue):
    kiosk = kiosk_on(venue, Page.SESSION)
    venue.faults.configure({"endpoint": "status", "fault": "none"})
    venue.refuse(2.0)
    down = kiosk.clock()
    kiosk.run(0.5, skip=False)
    refused = kiosk.since(down, "status")
    assert refused and all(isinstance(a, NetworkFault) for a in refused)
    kiosk.run_until(lambda: any(isinstance(a, Status) for a in kiosk.since(down, "status")), 5,
                    skip=False)
    assert kiosk.page is Page.SESSION and kiosk.reboots == []


# --- DNS ----------------------------------------------------------------------------

NAME = "kiosk-backend.invalid"  # RFC 2606: never resolves on a real resolver


def test_the_configured_host_not_resolving_is_a_dns_fault_within_the_timeout(venue, caplog):
    caplog.set_level(logging.INFO, logger="kiosk.api")
    kiosk = HeadlessKiosk(f"http://{NAME}:8080")
    kiosk.run(1.0)
    polls = kiosk.since(0, "status")
    assert polls and all(isinstance(a, NetworkFault) and a.kind == "dns" for a in polls)
    assert kiosk.page is Page.STANDBY and kiosk.reboots == []
    assert len([line for line in fault_lines(caplog) if "network fault dns" in line]) == 1


@pytest.fixture
def resolver(monkeypatch, venue):
    """``NAME`` resolves to the simulator while ``state["dns"]`` is "up"; "down" fails the
    lookup, "hung" makes it hang for 5 s, as a resolver that does not answer."""
    real = socket.getaddrinfo
    state = {"dns": "up"}

    def getaddrinfo(host, port, *args, **kwargs):
        if host != NAME:
            return real(host, port, *args, **kwargs)
        if state["dns"] == "down":
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        if state["dns"] == "hung":
            time.sleep(5)
            raise socket.gaierror(socket.EAI_AGAIN, "Temporary failure in name resolution")
        return real("127.0.0.1", port, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    return state


@pytest.mark.parametrize("failure", ["down", "hung"])
def test_dns_failing_in_a_session_changes_nothing_and_its_return_is_seen_in_a_period(
        venue, resolver, failure):
    port = venue.base_url.rsplit(":", 1)[1]
    venue.venue.start(CLIENT)
    timeout = 0.2  # every call fails on the lookup alone here: no answer can come late
    kiosk = HeadlessKiosk(f"http://{NAME}:{port}", timeout_s=timeout)
    kiosk.run_until(lambda: kiosk.page is Page.SESSION, 2)
    resolver["dns"] = failure
    start = kiosk.clock()
    kiosk.run(2.0, skip=False)  # hung: a status and a report of 0.2 s each, 5 polls or so
    polls = kiosk.since(start, "status")
    assert len(polls) >= 3 and all(a.kind == "dns" for a in polls)
    slowest = max(b - a for (a, *_), (b, *_) in zip(kiosk.answers, kiosk.answers[1:],
                                                     strict=False))
    assert slowest < timeout + PERIOD_S + 0.5  # a hung lookup holds no poll past the timeout
    assert kiosk.page is Page.SESSION and kiosk.reboots == []
    resolver["dns"] = "up"
    back = kiosk.clock()
    took = kiosk.run_until(lambda: any(isinstance(a, Status) for a in kiosk.since(back,
                                                                                "status")), 3,
                           skip=False)
    assert took <= PERIOD_S + timeout + 0.5


def test_a_hung_resolver_costs_a_few_threads_not_one_a_poll(resolver):
    resolver["dns"] = "hung"
    for _ in range(3 * api.MAX_HUNG_LOOKUPS):
        assert api.lookup_fault(NAME, 80, 0.01).kind == "dns"
    hung = [t for t in threading.enumerate() if t.name == f"lookup-{NAME}:80"]
    assert 1 <= len(hung) <= api.MAX_HUNG_LOOKUPS


# --- a blackholed server: connection attempts time out fast, polls keep their period ---


@pytest.fixture
def blackhole() -> Iterator[str]:
    """A port whose accept queue is full: further connection attempts get no answer at all,
    as with a server whose packets are dropped."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(0)
    address = listener.getsockname()
    filler = []
    for _ in range(4):  # fill the queue; the attempts that no longer fit are left hanging
        s = socket.socket()
        s.setblocking(False)
        s.connect_ex(address)
        filler.append(s)
    time.sleep(0.1)
    yield f"http://127.0.0.1:{address[1]}"
    for s in filler:
        s.close()
    listener.close()


def test_connecting_to_a_blackholed_server_gives_up_within_the_poll_period(blackhole):
    period = 1.0  # the specification's shortest poll period (B and E)
    kiosk_api = Api(blackhole, CLIENT, timeout_s=4, period_s=period)
    took = []
    for _ in range(2):
        started = time.monotonic()
        answer = kiosk_api.status()
        took.append(time.monotonic() - started)
        assert isinstance(answer, NetworkFault) and answer.kind == "timeout"
    assert all(period * 0.9 <= t < period + 1 for t in took), took
    kiosk_api.close()


def test_connect_timeout_is_the_shortest_period_but_never_under_a_second():
    assert api.timeouts(4, 1.0) == (1.0, 4)
    assert api.timeouts(4, 2.0) == (2.0, 4)
    assert api.timeouts(4, 0.2) == (1.0, 4)
    assert api.timeouts(4, 10) == (2.0, 4)
    assert api.timeouts(0.3, 1.0) == (0.3, 0.3)
    assert api.timeouts(4) == (2.0, 4)
