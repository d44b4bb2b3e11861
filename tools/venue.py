"""A venue of many PCs against one backend simulator, headless: what the venue costs it.

``make venue`` (or ``python tools/venue.py --pcs 200 --seconds 120``) runs N flow cores,
each with its own real ``kiosk.api.Api`` (its own requests session) and the real worker
threads, against one simulator process, with the timers shortened by ``--scale``. All
PCs power on at the same instant (their sessions already running, as after a power cut),
customers then start, end and pay sessions at random times, and half-way the whole venue
loses power and boots together again. The same run is made without jitter and with it.

It reports, as a table and ``bench-out/venue.md``: requests per second per endpoint (mean
and peak) and per PC per page at the real timers; the simulator's ledger of every session
(none lost, none doubled, no ``offline`` the customer did not confirm); every rule the
kiosks applied, checked against what the customers did; and how requests arrive after
a venue-wide boot (the most in any 100 ms of venue time against lock-step and an even
spread). Shortened time shortens everything alike: timers, the loop's tick, the customers'
pace and the 100 ms window; rates per PC are scaled back to the real timers.
"""

from __future__ import annotations

import argparse
import bisect
import contextlib
import dataclasses
import logging
import os
import queue
import random
import re
import subprocess
import sys
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # run as a script: ``python tools/venue.py``
    sys.path.insert(0, str(ROOT))

from kiosk.api import Api  # noqa: E402
from kiosk.contract import NetworkFault  # noqa: E402
from kiosk.flow import (  # noqa: E402
    CALLS,
    RESULTS,
    Confirm,
    EndPressed,
    Event,
    Flow,
    Page,
    Reboot,
    RequestOffline,
    RequestStatus,
    ShowPage,
    Start,
    Tick,
    Timers,
    UserInput,
)
from kiosk.workers import Caller  # noqa: E402

TICK_S = 0.1  # the app's loop wakes about ten times a second (scaled like the timers)
BURST_S = 0.1  # the window in which lock-step arrivals are counted (scaled like the timers)
REST = {"/rest/status_client": "status", "/rest/clientStatus": "report",
        "/rest/offline": "offline", "/rest/serviceNum": "serviceNum"}
URL_LINE = re.compile(r"(http://127\.0\.0\.1:\d+)/")
REPORT_TIMEOUT_S = 60  # the simulator's (real backend's) silence limit, before scaling
REBOOT_S = 5  # a simulated reboot's 系统重启中, before scaling
OUTAGE_S = 2  # the power cut: the venue is dark this long before it boots together
LATE_S = 5.0  # a timed rule firing later than this on an overloaded machine is a violation
QUIET_S = 10  # customers do nothing this long before a run or phase ends


@dataclass(frozen=True)
class Plan:
    """One venue run: how many PCs, for how long, on what time scale, with what jitter."""

    pcs: int = 200
    seconds: float = 120.0  # wall-clock length of the run
    # Every timer multiplied by this (0.5: twice as fast as a venue). 1 by default: 200
    # simulated PCs at twice the real rates saturate a 2-core machine, which then
    # measures itself; the customers' pace and rule 6 are shortened all the same.
    scale: float = 1.0
    jitter: float = 0.05
    seed: int = 1
    power_cut: bool = True  # half-way, every PC loses power and boots at the same instant
    window_s: float = 20.0  # venue seconds after each boot in which arrivals are examined
    # Rule 6's 180 s, shortened further so that it plays out within a run: D polls
    # nothing after confirmation, so this changes no load.
    after_confirm_s: float = 20.0

    def timers(self) -> Timers:
        """The default timers scaled; jitter as planned."""
        scaled = {f.name: getattr(Timers(), f.name) * self.scale
                  for f in dataclasses.fields(Timers) if f.name != "jitter"}
        scaled["after_confirm_reboot_s"] = self.after_confirm_s * self.scale
        return Timers(**scaled, jitter=self.jitter)

    def venue_s(self, seconds: float) -> float:
        """A duration of the real venue, in this run's shortened time."""
        return seconds * self.scale


@dataclass
class PcLog:
    """What one PC did and what its customer did, for the checks and the rates."""

    starts: int = 0  # sessions the phone started (answered 200)
    phone_ends: int = 0
    confirms: int = 0  # Confirm on D that sent offline
    offline_sent: int = 0
    pays: int = 0
    idles: int = 0  # rule 1 expected (the customer walked away from B)
    reboots: Counter[str] = field(default_factory=Counter)
    violations: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    seconds_on: Counter[str] = field(default_factory=Counter)  # page → seconds
    requests_on: Counter[tuple[str, str]] = field(default_factory=Counter)  # (page, kind)
    sessions_shown: int = 0  # entries into C that began a session on this PC
    offline_failed: int = 0  # offline answered with a fault: it may or may not have arrived
    faults: Counter[str] = field(default_factory=Counter)  # network faults the PC saw, by kind
    rule6_late: list[float] = field(default_factory=list)  # seconds after the deadline
    first_requests: list[float] = field(default_factory=list)  # per boot: s after power-on


class Pc:
    """One PC: a flow core fed by its own loop, with the app's worker threads and its
    own API client, and a customer (the phone) acting on it at random times."""

    def __init__(self, index: int, url: str, plan: Plan, phases: list[threading.Event],
                 phase_ends: list[float], stop: threading.Event) -> None:
        self.plan = plan
        self.timers = plan.timers()
        self.client_id = str(800000 + index)
        self.url = url
        self.flow = Flow(self.timers, random.Random(plan.seed * 100_000 + index))
        self.customer = random.Random(plan.seed * 100_000 + 50_000 + index)
        self.phases = phases
        self.phase_ends = phase_ends
        self.stop = stop
        self.log = PcLog()
        self.phone = requests.Session()
        self.phone.trust_env = False
        self.server_status = 1  # the session state the customer knows from the phone
        self.status_unsure = False  # offline failed on the PC: it may have reached the server
        self.expect: str | None = None  # the rule whose reboot the customer's action calls for
        self.confirmed_at: float | None = None
        self.scan_since = 0.0
        self.start_at: float | None = None
        self.plan_key: tuple[Page, bool] | None = None
        self.plan_at: float | None = None
        self.action: Callable[[float], None] | None = None
        self.min_session_until = 0.0
        self.phase_end = 0.0
        self.answers: queue.SimpleQueue[tuple[str, object]] = queue.SimpleQueue()
        self.thread = threading.Thread(target=self._run, name=f"pc-{index}", daemon=True)

    # --- the loop

    def _run(self) -> None:
        try:
            for number, go in enumerate(self.phases):
                go.wait()
                if self.stop.is_set():
                    break
                self.phase_end = self.phase_ends[number]
                self._power_on(number)
                self._loop(self.phase_end)
                self._power_off()
        except Exception as exc:  # a bug of this tool: make it count, never pass silently
            self._violation(f"the PC's driver failed: {exc!r}")
            raise
        finally:
            self.phone.close()

    def _power_on(self, number: int) -> None:
        """Boot: a fresh API client and workers (the PC lost power), start-up routing."""
        self.api = Api(self.url, self.client_id, timeout_s=4)
        self.api.session.proxies = {}  # the Api read the environment's: never for localhost
        self.callers = {request: Caller(name, getattr(self.api, name), self._post)
                        for request, (name, _) in CALLS.items()}
        self.answers = queue.SimpleQueue()
        self.expect, self.confirmed_at, self.start_at = None, None, None
        self.plan_key, self.plan_at, self.action = None, None, None
        now = time.monotonic()
        self.boot_at: float | None = now
        # the venue boots with every session running: keep them running through the
        # window in which arrivals are examined, so every PC polls as C does
        self.min_session_until = now + self.plan.venue_s(self.plan.window_s) if number == 0 else 0
        self.last = now
        self._feed(Start(now), now)

    def _power_off(self) -> None:
        for caller in self.callers.values():
            caller.stop()
        self.api.close()

    def _loop(self, end: float) -> None:
        """The app's loop: wake about every ``TICK_S``, hand over the workers' answers,
        tick the core. Each PC's loop has its own phase, as separate PCs' loops do."""
        tick = self.plan.venue_s(TICK_S)
        next_tick = time.monotonic() + self.customer.uniform(0, tick)
        while not self.stop.is_set():
            self.stop.wait(max(0.0, next_tick - time.monotonic()))
            now = time.monotonic()
            if now >= end:
                return
            next_tick = now + tick
            while True:
                try:
                    kind, answer = self.answers.get_nowait()
                except queue.Empty:
                    break
                self._feed(RESULTS[kind](now, answer), now)
            self.log.seconds_on[self.flow.page.value] += now - self.last
            self.last = now
            if self.start_at is not None and now >= self.start_at:
                self.start_at = None
                self._feed(Start(now), now)
            self._customer(now)
            self._feed(Tick(now), now)

    def _post(self, kind: str, answer: object) -> None:
        if isinstance(answer, NetworkFault):
            self.log.faults[answer.kind] += 1
        self.answers.put((kind, answer))

    def _feed(self, event: Event, now: float) -> None:
        routing = self.flow.routing
        for command in self.flow.handle(event):
            if isinstance(command, ShowPage):
                self._shown(command, now)
            elif isinstance(command, Reboot):
                self._rebooted(command.reason, now)
                self.start_at = now + self.plan.venue_s(REBOOT_S)
            elif type(command) in self.callers:
                self.log.requests_on[(self.flow.page.value, CALLS[type(command)][0])] += 1
                if isinstance(command, RequestOffline):
                    self.log.offline_sent += 1
                if isinstance(command, RequestStatus) and self.boot_at is not None:
                    self.log.first_requests.append(now - self.boot_at)
                    self.boot_at = None
                self.callers[type(command)].ask()
        if routing and not self.flow.routing and self.flow.page is not Page.REBOOTING:
            self._routed()

    # --- the checks: every page change and reboot against what the customer did

    def _violation(self, what: str) -> None:
        self.log.violations.append(f"{self.client_id}: {what}")

    def _routed(self) -> None:
        """Start-up routing is over: the page must match the session the backend holds
        (the customer waits for the boot, so that cannot change meanwhile)."""
        expected = {1: (Page.STANDBY, Page.SCAN), 2: (Page.SESSION,), 3: (Page.UNPAID,)}
        allowed = expected[self.server_status]
        if self.status_unsure:
            allowed += expected[2] + expected[3]
        if self.flow.page not in allowed:
            self._violation(f"start-up routed to {self.flow.page.value} with backend status "
                            f"{self.server_status}")

    def _shown(self, command: ShowPage, now: float) -> None:
        page, reason = command.page, command.reason
        if page is Page.SESSION and reason not in ("cancel", "offline_failed"):
            if self.server_status != 2:
                self._violation(f"C ({reason}) without a session started on the phone")
            self.log.sessions_shown += 1
        if reason == "rule1:idle":
            waited = now - self.scan_since
            if self.expect != "rule1" or waited < self.timers.scan_idle_s:
                self._violation(f"rule 1 after {waited:.2f}s on B (expected: {self.expect})")
            self.expect = None
        elif reason == "offline_failed":
            # offline may have reached the server all the same: then rule 5 follows
            self.log.notes.append(f"{self.client_id}: offline failed, back to C")
            self.log.offline_failed += 1
            self.expect, self.confirmed_at = "rule5", None
            self.server_status, self.status_unsure = 2, True
        if page is Page.SCAN:
            self.scan_since = now

    def _rebooted(self, reason: str, now: float) -> None:
        rule = reason.split(":")[0]
        self.log.reboots[rule] += 1
        if rule != self.expect:
            self._violation(f"reboot {reason} when the customer's actions call for "
                            f"{self.expect or 'none'}")
        elif rule == "rule6":
            assert self.confirmed_at is not None
            waited = now - self.confirmed_at
            limit = self.timers.after_confirm_reboot_s
            self.log.rule6_late.append(waited - limit)
            # never early; late only by what a starved loop adds (the table shows how much)
            if not limit <= waited <= limit + LATE_S:
                self._violation(f"rule 6 after {waited:.2f}s, not {limit:.2f}s")
        self.expect, self.confirmed_at = None, None

    # --- the customer, acting at random times on whatever page shows

    def _customer(self, now: float) -> None:
        if self.flow.routing:
            return  # customers wait for the boot to finish
        if now >= self.phase_end - self.plan.venue_s(QUIET_S):
            return  # what they do now must still be seen by the kiosk before the run ends
        key = (self.flow.page, self.flow.confirmed)
        if key != self.plan_key:
            self.plan_key = key
            self.plan_at, self.action = self._next_action(now)
        if self.plan_at is not None and now >= self.plan_at and self.action is not None:
            action, self.plan_at, self.action = self.action, None, None
            action(now)

    def _next_action(self, now: float) -> tuple[float | None, Callable[[float], None] | None]:
        r, venue_s = self.customer, self.plan.venue_s
        page = self.flow.page
        if page is Page.STANDBY:
            return now + venue_s(r.uniform(1, 10)), self._touch
        if page is Page.SCAN:
            if r.random() < 0.15:  # walks away: rule 1
                self.expect = "rule1"
                self.log.idles += 1
                return None, None
            return now + venue_s(r.uniform(1, 15)), self._phone("start")
        if page is Page.SESSION:
            at = max(now + venue_s(r.uniform(10, 60)), self.min_session_until)
            return at, (self._phone("end") if r.random() < 0.5 else self._press_end)
        if page is Page.END and not self.flow.confirmed:
            return now + venue_s(r.uniform(0.5, 3)), self._confirm
        if page is Page.END or page is Page.UNPAID:
            return now + venue_s(r.uniform(1, 20)), self._phone("pay")
        return None, None

    def _touch(self, now: float) -> None:
        self._feed(UserInput(now), now)

    def _press_end(self, now: float) -> None:
        self._feed(EndPressed(now), now)

    def _confirm(self, now: float) -> None:
        sent = self.log.offline_sent
        self._feed(Confirm(now), now)
        if self.log.offline_sent > sent:
            self.log.confirms += 1
            self.expect, self.confirmed_at = "rule6", now
            self.server_status = 3  # offline ends the session, unpaid until the phone pays

    def _phone(self, action: str) -> Callable[[float], None]:
        def act(now: float) -> None:
            try:
                response = self.phone.post(f"{self.url}/control/{action}",
                                           params={"clientId": self.client_id}, timeout=10)
            except requests.RequestException as exc:
                self.log.notes.append(f"{self.client_id}: phone {action} failed: {exc!r}")
                return
            if response.status_code != 200:
                self.log.notes.append(f"{self.client_id}: phone {action} refused "
                                      f"{response.status_code}")
                return
            self.status_unsure = False
            if action == "start":
                self.log.starts += 1
                self.server_status = 2
            elif action == "end":
                self.log.phone_ends += 1
                self.server_status, self.expect = 3, "rule5"
            elif action == "pay":
                self.log.pays += 1
                self.server_status = 1
                if not self.flow.confirmed:
                    self.expect = "rule7"  # E: paid → reboot; D confirmed keeps rule 6
        return act


# --- the simulator process ------------------------------------------------------------


@contextlib.contextmanager
def simulator(report_timeout_s: float):
    """One simulator process on a free port; its base URL."""
    argv = [sys.executable, "-m", "kiosk.simulator", "--port", "0",
            "--report-timeout", str(report_timeout_s)]
    proc = subprocess.Popen(argv, cwd=str(ROOT), stdout=subprocess.PIPE,
                            stdin=subprocess.DEVNULL)
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline().decode("utf-8", "replace")
        match = URL_LINE.search(line)
        if match is None:
            raise RuntimeError(f"the simulator did not start: {line!r}")
        yield match.group(1), proc.pid
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process, from /proc (0 where there is no /proc)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


# --- the run ---------------------------------------------------------------------------


@dataclass
class Result:
    plan: Plan
    logs: list[PcLog]
    ledger: dict[str, Any]
    boots: list[float]  # epoch seconds at which the whole venue powered on
    wall_s: float
    simulator_cpu_s: float
    client_ids: list[str]


def run(plan: Plan) -> Result:
    """Run one venue and fetch the simulator's ledger."""
    report_timeout = plan.venue_s(REPORT_TIMEOUT_S)
    with simulator(report_timeout) as (url, pid), requests.Session() as http:
        http.trust_env = False
        stop = threading.Event()
        phases = [threading.Event() for _ in range(2 if plan.power_cut else 1)]
        ends: list[float] = []  # filled in before the first power-on
        pcs = [Pc(i, url, plan, phases, ends, stop) for i in range(plan.pcs)]
        for pc in pcs:  # the venue powers on with every session running (a power cut)
            http.post(f"{url}/control/start", params={"clientId": pc.client_id},
                      timeout=10).raise_for_status()
            pc.log.starts, pc.server_status = 1, 2
        for pc in pcs:
            pc.thread.start()
        t0 = time.monotonic() + 0.5
        if plan.power_cut:
            cut = t0 + plan.seconds / 2
            ends[:], starts = [cut, t0 + plan.seconds], [t0, cut + plan.venue_s(OUTAGE_S)]
        else:
            ends[:], starts = [t0 + plan.seconds], [t0]
        boots = []
        cpu_before = cpu_seconds(pid)
        try:
            for go, at in zip(phases, starts, strict=True):
                time.sleep(max(0.0, at - time.monotonic()))
                boots.append(time.time())
                go.set()  # every PC's loop wakes and feeds Start at this instant
            for pc in pcs:
                pc.thread.join(timeout=max(1.0, ends[-1] - time.monotonic() + 15))
        finally:
            stop.set()
            for go in phases:
                go.set()
        wall = time.monotonic() - t0
        cpu = cpu_seconds(pid) - cpu_before
        ledger = http.get(f"{url}/control/ledger", timeout=30).json()
    return Result(plan, [pc.log for pc in pcs], ledger, boots, wall, cpu,
                  [pc.client_id for pc in pcs])


# --- the analysis (pure: tested on its own) ---------------------------------------------


def max_in_window(times: list[float], width: float) -> int:
    """The most of ``times`` (sorted) inside any window ``width`` long."""
    best, first = 0, 0
    for last, t in enumerate(times):
        while t - times[first] > width:
            first += 1
        best = max(best, last - first + 1)
    return best


def busiest_share(times: list[float], period: float, parts: int = 10) -> float:
    """The share of ``times`` in the busiest tenth of ``period``, folded over periods.

    Polls in lock-step keep their phase: they all fold into the same part (1.0 when
    exact; less when a saturated machine smears them). An even spread gives 1/parts.
    Unlike the densest window it sees lock-step even when the backend or the client
    machine is too slow to take a whole wave at once.
    """
    if not times:
        return 0.0
    counts = Counter(int((t % period) / period * parts) % parts for t in times)
    return max(counts.values()) / len(times)


def first_request_spread(delays: list[float], burst: float) -> tuple[int, float]:
    """How the PCs' first status requests after one boot were issued: the most in any
    ``burst`` window, and the time from the first to the last."""
    delays = sorted(delays)
    return max_in_window(delays, burst), (delays[-1] - delays[0]) if delays else 0.0


def in_range(times: list[float], start: float, end: float) -> list[float]:
    return times[bisect.bisect_left(times, start):bisect.bisect_left(times, end)]


def ledger_problems(ledger: dict[str, Any], logs: dict[str, PcLog]) -> list[str]:
    """Lost, doubled or unended sessions and spurious offline calls, client by client."""
    problems = []
    clients = ledger["clients"]
    for cid, log in logs.items():
        seen = clients.get(cid, {"sessions": [], "offline_calls": 0, "offline_refused": 0})
        sessions = seen["sessions"]
        if len(sessions) != log.starts:
            problems.append(f"{cid}: the backend has {len(sessions)} sessions, the phone "
                            f"started {log.starts}")
        ended = Counter(s["ended_by"] for s in sessions)
        if ended["report_timeout"]:
            problems.append(f"{cid}: {ended['report_timeout']} session(s) lost: the backend "
                            f"ended them for missing reports")
        if ended["offline"] > seen["offline_calls"]:
            problems.append(f"{cid}: {ended['offline']} sessions ended by offline, "
                            f"{seen['offline_calls']} calls")
        if ended["phone"] != log.phone_ends:
            problems.append(f"{cid}: {ended['phone']} sessions ended by the phone, "
                            f"{log.phone_ends} expected")
        # a confirm whose offline failed on the way may not have arrived, or arrived and
        # its answer was lost: then a second confirm is refused; anything else is spurious
        spurious = seen["offline_calls"] > log.confirms or (
            seen["offline_refused"] > 0 and not log.offline_failed)
        if spurious or seen["offline_calls"] < log.confirms - log.offline_failed:
            problems.append(f"{cid}: offline called {seen['offline_calls']} times "
                            f"({seen['offline_refused']} refused) for {log.confirms} confirms")
        if any(s["end"] is None for s in sessions[:-1]):
            problems.append(f"{cid}: a session was never ended before the next began")
        if log.sessions_shown < log.starts:
            problems.append(f"{cid}: {log.starts} sessions but C shown for {log.sessions_shown}")
    return problems


@dataclass
class Summary:
    """The figures of one run, as the table shows them."""

    plan: Plan
    sessions: int
    ended: Counter[str]
    reboots: Counter[str]
    idles: int
    violations: list[str]
    ledger_problems: list[str]
    notes: list[str]
    endpoint_rates: dict[str, tuple[float, int, int]]  # kind → (mean/s, peak in 1 s, in 100 ms)
    per_pc_real: dict[tuple[str, str], float]  # (page, kind) → requests/s per PC, real timers
    boot_spread: list[tuple[int, int, float]]  # per boot: (most in a burst, polls, busiest)
    first_spread: list[tuple[int, float]]  # per boot: (most first requests in a burst, span)
    rule6_late: list[float]
    wall_s: float
    simulator_cpu_s: float
    requests: int
    faults: Counter[str]


def summarise(result: Result) -> Summary:
    plan, ledger = result.plan, result.ledger
    logs = dict(zip(result.client_ids, result.logs, strict=True))
    arrivals = [(t, REST[p]) for t, p in ledger["arrivals"] if p in REST]
    by_kind: dict[str, list[float]] = defaultdict(list)
    for t, kind in arrivals:
        by_kind[kind].append(t)
    first = result.boots[0]
    span = max(1e-9, max((t for t, _ in arrivals), default=first) - first)
    burst = plan.venue_s(BURST_S)
    rates = {kind: (len(ts) / span, max_in_window(ts, 1.0), max_in_window(ts, burst))
             for kind, ts in sorted(by_kind.items())}
    seconds_on: Counter[str] = Counter()
    requests_on: Counter[tuple[str, str]] = Counter()
    for log in result.logs:
        seconds_on.update(log.seconds_on)
        requests_on.update(log.requests_on)
    # a shortened run makes requests 1/scale times as often as the real timers would
    # (the boot page lasts one answer: its one status request per boot is no rate)
    per_pc = {(page, kind): n / seconds_on[page] * plan.scale
              for (page, kind), n in sorted(requests_on.items())
              if seconds_on[page] > 0 and page != Page.BOOT.value}
    timers = plan.timers()
    window = plan.venue_s(plan.window_s)
    statuses = by_kind.get("status", [])
    spread = []
    for boot in result.boots:
        # after a boot's start-up spread, as C polls every session_poll_s
        polls = in_range(statuses, boot, boot + window)
        spread.append((max_in_window(polls, burst), len(polls),
                       busiest_share(polls, timers.session_poll_s)))
    sessions = [s for c in ledger["clients"].values() for s in c["sessions"]]
    return Summary(
        plan=plan,
        sessions=len(sessions),
        ended=Counter(s["ended_by"] or "running at the end" for s in sessions),
        reboots=sum((log.reboots for log in result.logs), Counter()),
        idles=sum(log.idles for log in result.logs),
        violations=[v for log in result.logs for v in log.violations],
        ledger_problems=ledger_problems(ledger, logs),
        notes=[n for log in result.logs for n in log.notes],
        endpoint_rates=rates,
        per_pc_real=per_pc,
        boot_spread=spread,
        wall_s=result.wall_s,
        simulator_cpu_s=result.simulator_cpu_s,
        requests=len(arrivals),
        faults=sum((log.faults for log in result.logs), Counter()),
        first_spread=[first_request_spread([log.first_requests[i] for log in result.logs
                                            if len(log.first_requests) > i], burst)
                      for i in range(len(result.boots))],
        rule6_late=sorted(late for log in result.logs for late in log.rule6_late),
    )


# --- the report --------------------------------------------------------------------------

PAGE_NAMES = {"A": "A standby", "B": "B scan", "C": "C session",
              "D": "D end", "E": "E unpaid"}


def render(summaries: list[Summary]) -> str:
    """Markdown: the runs side by side (without jitter first), then their details."""
    head = "| | " + " | ".join(f"jitter {s.plan.jitter:g}" for s in summaries) + " |"
    rule = "|---|" + "---|" * len(summaries)

    def row(name: str, cell: Callable[[Summary], str]) -> str:
        return f"| {name} | " + " | ".join(cell(s) for s in summaries) + " |"

    plan = summaries[0].plan
    t = plan.timers()
    burst_ms = plan.venue_s(BURST_S) * 1000
    lines = [
        f"# A venue of {plan.pcs} PCs against one simulator",
        "",
        f"{plan.pcs} flow cores with their own API clients and worker threads, "
        f"{plan.seconds:g} s per run, timers × {plan.scale:g}, sessions of "
        f"{10 * plan.scale:g} to {60 * plan.scale:g} s and "
        f"rule 6 after {plan.after_confirm_s * plan.scale:g} s (B polls every "
        f"{t.scan_poll_s:g} s, C every {t.session_poll_s:g} s and reports every "
        f"{t.session_report_s:g} s). The venue powers on at once with every session "
        f"running{', and again after a power cut half-way' if plan.power_cut else ''}; "
        "customers start, end (phone or 结束上机 + confirm) and pay at random times.",
        "",
        "## Sessions and rules",
        "",
        head, rule,
        row("sessions in the backend's ledger", lambda s: str(s.sessions)),
        row("ended by the phone / by offline (confirm on D)",
            lambda s: f"{s.ended['phone']} / {s.ended['offline']}"),
        row("lost (backend ended them: reports missing)", lambda s: str(s.ended["report_timeout"])),
        row("still running at the end", lambda s: str(s.ended["running at the end"])),
        row("reboots rule 5 / 6 / 7", lambda s: " / ".join(
            str(s.reboots[r]) for r in ("rule5", "rule6", "rule7"))),
        row("rule 1 (customer walked away from B)", lambda s: str(s.idles)),
        row("rule 6 fired after its deadline by (min / max s, never before)",
            lambda s: f"{s.rule6_late[0]:.2f} / {s.rule6_late[-1]:.2f}" if s.rule6_late
            else "-"),
        row("rule violations", lambda s: str(len(s.violations))),
        row("lost, doubled or spurious-offline problems", lambda s: str(len(s.ledger_problems))),
        "",
        "## Load on the backend",
        "",
        head, rule,
        row("requests to /rest (all PCs) in the run's wall seconds",
            lambda s: f"{s.requests} in {s.wall_s:.0f} s"),
        *[row(f"{kind}: mean req/s / most in any 1 s / in any {burst_ms:g} ms",
              lambda s, kind=kind: "{:.1f} / {} / {}".format(*s.endpoint_rates.get(
                  kind, (0.0, 0, 0))))
          for kind in ("status", "report", "offline")],
        row("network faults the PCs saw (timeouts, refused, ...)",
            lambda s: ", ".join(f"{k} {n}" for k, n in sorted(s.faults.items())) or "0"),
        row("simulator CPU per 1000 requests (s)",
            lambda s: f"{1000 * s.simulator_cpu_s / max(1, s.requests):.2f}"),
        "",
        "## Arrivals after the whole venue powers on at the same instant",
        "",
        f"Status polls in the first {plan.window_s:g} venue-seconds after each boot "
        "(boot 1: every PC in session; boot 2: PCs on every page). Lock-step means every "
        f"PC's poll arrives together ({plan.pcs} in one window of {burst_ms:g} ms, 100 ms "
        f"of venue time, and every poll in the same tenth of the {t.session_poll_s:g} s "
        f"poll period); an even spread means {plan.pcs * BURST_S / Timers().session_poll_s:.0f}"
        " per window and 10 % per tenth. A machine too slow to send or take a whole wave "
        "at once smears lock-step out of the densest window, not out of its tenth. On a "
        "single machine the simulated PCs' answers to a simultaneous wave return over a "
        "few hundred ms (one Python process sends them all), which already smears the "
        "wave at the backend; the first row shows the PCs' own timing, which that does "
        "not touch.",
        "",
        head, rule,
        *[row(f"boot {i + 1}: first requests issued by the PCs: most in any {burst_ms:g} ms"
              " / first to last",
              lambda s, i=i: f"{s.first_spread[i][0]} / {s.first_spread[i][1] * 1000:.0f} ms")
          for i in range(len(summaries[0].first_spread))],
        *[row(f"boot {i + 1}: polls arriving at the backend: most in any {burst_ms:g} ms "
              "(of all)",
              lambda s, i=i: f"{s.boot_spread[i][0]} (of {s.boot_spread[i][1]})")
          for i in range(len(summaries[0].boot_spread))],
        *[row(f"boot {i + 1}: share of polls in the busiest tenth of the poll period",
              lambda s, i=i: f"{s.boot_spread[i][2]:.0%}")
          for i in range(len(summaries[0].boot_spread))],
        "",
        "## Requests per second per PC at the real timers",
        "",
        "What one PC costs the backend on each page (measured, scaled back to the "
        "configured timers). A venue of N PCs costs N times this on the pages they show, "
        "plus one status request per PC at each boot.",
        "",
        "| page | request | " + " | ".join(f"jitter {s.plan.jitter:g}" for s in summaries) + " |",
        "|---|---|" + "---|" * len(summaries),
    ]
    keys = sorted({k for s in summaries for k in s.per_pc_real})
    for page, kind in keys:
        lines.append(f"| {PAGE_NAMES.get(page, page)} | {kind} | " + " | ".join(
            f"{s.per_pc_real.get((page, kind), 0.0):.3f}" for s in summaries) + " |")
    for s in summaries:
        problems = s.violations + s.ledger_problems
        if problems or s.notes:
            lines += ["", f"### jitter {s.plan.jitter:g}: problems and notes", ""]
            lines += [f"- {p}" for p in problems[:50]] + [f"- note: {n}" for n in s.notes[:20]]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pcs", type=int, default=200)
    parser.add_argument("--seconds", type=float, default=120.0, help="wall seconds per run")
    parser.add_argument("--scale", type=float, default=Plan.scale,
                        help="timers multiplied by this (0.5: twice as fast)")
    parser.add_argument("--jitter", type=float, default=0.05, help="the jittered run's jitter")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--out", type=Path, default=ROOT / "bench-out" / "venue.md")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.ERROR)  # faults are counted, not logged one by one
    summaries = []
    for jitter in (0.0, args.jitter):
        plan = Plan(pcs=args.pcs, seconds=args.seconds, scale=args.scale, jitter=jitter,
                    seed=args.seed)
        print(f"venue: {plan.pcs} PCs, {plan.seconds:g} s, jitter {jitter:g} ...", flush=True)
        summaries.append(summarise(run(plan)))
    text = render(summaries)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text, encoding="utf-8")
    print(text)
    print(f"written to {args.out}")
    bad = sum(len(s.violations) + len(s.ledger_problems) for s in summaries)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
