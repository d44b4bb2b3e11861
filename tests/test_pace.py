"""The UI loop's sleep: a frame period, cut short by a worker's answer."""

from __future__ import annotations

import itertools
import threading
import time

import pygame

from kiosk.flow import Flow, Timers
from kiosk.pace import Pace
from kiosk.scenes.base import Context
from kiosk.scenes.session import SessionScene


def test_loop_sleeps_the_rest_of_the_frame_period():
    pace = Pace()
    started = time.monotonic()
    assert pace.sleep(started, fps=20) is False
    assert time.monotonic() - started >= 0.049


def test_a_step_longer_than_the_period_does_not_sleep_at_all():
    pace = Pace(clock=lambda: 100.0)
    started = time.monotonic()
    assert pace.sleep(started=80.0, fps=0.1) is False  # 20 s into a 10 s period
    assert time.monotonic() - started < 2.5  # a sleeping bug would take 10 s


def test_a_workers_answer_wakes_the_loop_long_before_the_period_ends():
    pace = Pace()
    threading.Timer(0.05, pace.wake).start()
    started = time.monotonic()
    assert pace.sleep(started, fps=0.2) is True  # a 5 s period
    assert time.monotonic() - started < 2.5  # generous: a shared, busy machine


def test_an_answer_posted_while_the_loop_was_busy_ends_the_next_sleep_at_once():
    pace = Pace()
    pace.wake()
    started = time.monotonic()
    assert pace.sleep(started, fps=0.2) is True
    assert pace.sleep(time.monotonic(), fps=50) is False  # one wake-up is used once


def test_the_next_video_frame_wakes_the_loop_before_the_pages_period_ends():
    pace = Pace()
    started = time.monotonic()
    assert pace.sleep(started, fps=0.2, until=started + 0.05) is False
    assert time.monotonic() - started < 2.5


def widget_schedule(scene, start: float, end: float) -> tuple[list[float], list[float]]:
    """The app's loop on ``scene``: step (update, maybe draw), then sleep as Pace does."""
    now, wakes, drawn = start, [], []
    while now < end:
        if scene.update(now):
            drawn.append(now)
        wakes.append(now)
        now = min(now + 1.0 / scene.fps, scene.wake_at(now))
    return wakes, drawn


def session_scene() -> SessionScene:
    scene = SessionScene(Context(flow=Flow(Timers()), client_id="1", scan_qr="", pay_qr=""))
    scene.enter(0.0)
    return scene


def test_the_widget_wakes_twice_a_second_and_draws_each_second_as_it_starts():
    scene = session_scene()
    wakes, drawn = widget_schedule(scene, 100.3, 110)
    assert drawn == [100.3, *map(float, range(101, 110))]  # the first draw, then each second
    assert len(wakes) <= 2 * 10 + 1  # beside a game: two wake-ups a second
    assert max(b - a for a, b in itertools.pairwise(wakes)) <= 0.5  # a click waits ≤ 0.5 s


def test_the_widget_answers_faster_while_the_pointer_is_over_it():
    scene = session_scene()
    scene.handle_event(pygame.event.Event(pygame.WINDOWENTER))
    wakes, drawn = widget_schedule(scene, 100.3, 103)
    assert max(b - a for a, b in itertools.pairwise(wakes)) <= 0.1  # a click waits ≤ 0.1 s
    assert drawn == [100.3, 101.0, 102.0]  # still drawn once a second
    scene.handle_event(pygame.event.Event(pygame.WINDOWLEAVE))  # back to the game
    wakes, _ = widget_schedule(scene, 103.0, 110)
    assert len(wakes) <= 2 * 7 + 1
