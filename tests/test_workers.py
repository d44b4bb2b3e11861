"""Worker threads: every asked call answers once, a bug never stops polling, media refresh."""

from __future__ import annotations

import os
import queue
import random
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

os.environ.setdefault("SDL_VIDEODRIVER", "dummy")
import pygame  # noqa: E402

from kiosk.contract import NetworkFault, ServiceNumber  # noqa: E402
from kiosk.media import ITEMS, MediaCache  # noqa: E402
from kiosk.simulator import Simulator  # noqa: E402
from kiosk.workers import Caller, Refresher  # noqa: E402

QUIET_S = 0.2  # how long to watch for an answer that must not come


class Posted:
    """The app's event queue, as seen by the workers."""

    def __init__(self) -> None:
        self.queue: queue.Queue = queue.Queue()

    def __call__(self, kind: str, answer: object) -> None:
        self.queue.put((kind, answer))

    def next(self, timeout: float = 2.0) -> tuple[str, object]:
        return self.queue.get(timeout=timeout)

    def none_within(self, seconds: float = QUIET_S) -> bool:
        try:
            extra = self.queue.get(timeout=seconds)
        except queue.Empty:
            return True
        pytest.fail(f"unexpected answer {extra!r}")


@pytest.fixture
def posted() -> Posted:
    return Posted()


@pytest.fixture
def callers() -> Iterator[list[Caller]]:
    started: list[Caller] = []
    yield started
    for caller in started:
        caller.stop()


def test_each_ask_gets_exactly_one_answer_of_its_kind(posted, callers):
    count = iter(range(1, 100))
    caller = Caller("report", lambda: next(count), posted)
    callers.append(caller)

    caller.ask()
    assert posted.next() == ("report", 1)
    caller.ask()
    assert posted.next() == ("report", 2)
    assert posted.none_within()


def test_asking_often_during_a_slow_call_makes_one_more_call_not_a_backlog(posted, callers):
    running, release = threading.Event(), threading.Event()
    calls = []

    def slow_status() -> int:
        calls.append(time.monotonic())
        running.set()
        release.wait(2)
        return len(calls)

    caller = Caller("status", slow_status, posted)
    callers.append(caller)
    caller.ask()
    assert running.wait(2)
    for _ in range(20):
        caller.ask()
    release.set()

    assert posted.next() == ("status", 1)
    assert posted.next() == ("status", 2)  # the asks during the call are not lost
    assert posted.none_within()
    assert len(calls) == 2


def test_a_call_that_raises_becomes_a_fault_and_polling_goes_on(posted, callers):
    answers = iter([ZeroDivisionError("oops"), "fine"])

    def flaky() -> object:
        answer = next(answers)
        if isinstance(answer, Exception):
            raise answer
        return answer

    caller = Caller("status", flaky, posted)
    callers.append(caller)

    caller.ask()
    kind, fault = posted.next()
    assert kind == "status"
    assert isinstance(fault, NetworkFault) and fault.kind == "bug"
    assert "oops" in fault.detail

    caller.ask()
    assert posted.next() == ("status", "fine")


def test_stop_ends_the_callers_thread(posted):
    caller = Caller("offline", lambda: 1, posted)
    caller.ask()
    assert posted.next() == ("offline", 1)

    caller.stop()
    caller._thread.join(1)
    assert not caller._thread.is_alive()
    caller.ask()  # asking a stopped caller is harmless and calls nothing
    assert posted.none_within()


# --- the background refresher --------------------------------------------------------------


class FakeApi:
    def __init__(self) -> None:
        self.calls = 0

    def service_number(self) -> ServiceNumber:
        self.calls += 1
        return ServiceNumber("13738196887")


@pytest.fixture
def server(tmp_path: Path) -> Iterator[str]:
    files = tmp_path / "server"
    files.mkdir()
    surface = pygame.Surface((32, 18))
    surface.fill((200, 100, 0))
    pygame.image.save(surface, str(files / "background.png"))
    sim = Simulator(files_dir=files)
    yield sim.start()
    sim.stop()


@pytest.fixture
def media(tmp_path: Path, server: str, http: requests.Session) -> MediaCache:
    return MediaCache(tmp_path / "cache", server, timeout_s=2, session=http)


def test_refresher_posts_service_number_then_the_new_background(posted, media):
    refresher = Refresher(FakeApi(), media, posted, media_every_s=60)
    refresher.start()
    try:
        assert posted.next() == ("service", ServiceNumber("13738196887"))
        assert posted.next() == ("media", "background")  # the server has no video: no event
        assert posted.none_within()
    finally:
        refresher.stop()
        refresher._thread.join(2)
    background = next(item for item in ITEMS if item.name == "background")
    assert media.current(background) == media.cache_dir / "background.png"


def test_refresher_fetches_no_media_in_a_session_and_at_once_when_a_page_shows_them(
        posted, media):
    background = next(item for item in ITEMS if item.name == "background")
    refresher = Refresher(FakeApi(), media, posted, media_every_s=600, service_every_s=600,
                          media_shown=False)
    refresher.start()
    try:
        assert posted.next() == ("service", ServiceNumber("13738196887"))
        assert posted.none_within()  # the widget: no download, no decoder loaded to check one
        assert media.current(background) == background.bundled
        refresher.show_media(True)  # A or B: due since the start, fetched now, not in 600 s
        assert posted.next() == ("media", "background")
        refresher.show_media(False)
        refresher.show_media(True)  # not due again: nothing more
        assert posted.none_within()
    finally:
        refresher.stop()
        refresher._thread.join(2)


def test_refresher_announces_a_background_only_when_it_changed(posted, media):
    api = FakeApi()
    refresher = Refresher(api, media, posted, media_every_s=0.05, service_every_s=0.05)
    refresher.start()
    try:
        kinds = [posted.next()[0] for _ in range(8)]
    finally:
        refresher.stop()
        refresher._thread.join(2)
    assert kinds.count("media") == 1
    assert kinds.count("service") == 7


def test_refresher_of_a_pc_switched_on_with_the_venue_waits_its_own_delay_first(posted, media):
    refresher = Refresher(FakeApi(), media, posted, media_every_s=600, service_every_s=600,
                          first_delay_s=0.4, jitter=0.05)
    started = time.monotonic()
    refresher.start()
    try:
        assert posted.next() == ("service", ServiceNumber("13738196887"))
        assert time.monotonic() - started >= 0.4
    finally:
        refresher.stop()
        refresher._thread.join(2)


def test_refresher_periods_spread_by_jitter_around_the_set_period(posted, media):
    refresher = Refresher(FakeApi(), media, posted, media_every_s=60, jitter=0.05,
                          rng=random.Random(5))
    periods = [refresher._period(60) for _ in range(2000)]
    assert 57 <= min(periods) < 57.5 and 62.5 < max(periods) <= 63
    assert abs(sum(periods) / len(periods) - 60) < 0.1


def test_refresher_stops_promptly(posted, media):
    refresher = Refresher(FakeApi(), media, posted, media_every_s=600, service_every_s=600)
    refresher.start()
    posted.next()
    posted.next()

    started = time.monotonic()
    refresher.stop()
    refresher._thread.join(10)
    assert not refresher._thread.is_alive()
    assert time.monotonic() - started < 5  # not the 600 s its next refresh is due in
