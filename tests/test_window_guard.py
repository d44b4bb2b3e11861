"""A locked page takes the focus back from whatever took it, at once when SDL says so and
within a guard period when nobody does, with one log line per theft; the widget in C
leaves the focus to the customer's game."""

from __future__ import annotations

import logging
import os

import pygame
import pytest

os.environ.setdefault("SDL_VIDEODRIVER", "dummy")

from kiosk.cover import Cover  # noqa: E402
from kiosk.platform.desktop import Monitor  # noqa: E402
from kiosk.window import GUARD_PERIOD_S, KioskWindow  # noqa: E402
from tests.window_fakes import FakeDesktop, FakeKeyboard, FakeWindow  # noqa: E402

TAKING_BACK = "something took the focus from the locked screen; taking it back"


@pytest.fixture
def kiosk_window() -> KioskWindow:
    pygame.display.init()
    keyboard = FakeKeyboard()
    locked = KioskWindow(fullscreen=False, window_size=(640, 360), corner="top-right",
                         keyboard=lambda window, handles: keyboard,
                         cover=Cover(FakeWindow(), [], 0.0),
                         desktop=FakeDesktop(Monitor("screen", (0, 0, 1280, 720),
                                                     (0, 0, 1280, 720), True)))
    locked.guard(0.0)  # locked and focused: from here on, losing the focus is a theft
    return locked


def taking_back_lines(caplog: pytest.LogCaptureFixture) -> int:
    return sum(r.getMessage() == TAKING_BACK for r in caplog.records)


def test_sdls_focus_lost_is_answered_at_once_and_logged(kiosk_window, caplog):
    caplog.set_level(logging.INFO, logger="kiosk.window")
    window = kiosk_window.window
    window.focused, window.always_on_top, before = False, False, window.focus_calls

    kiosk_window.take_focus_back()

    assert window.focused and window.always_on_top and window.focus_calls > before
    assert taking_back_lines(caplog) == 1


def test_one_theft_is_one_line_however_often_it_is_taken_back(kiosk_window, caplog):
    caplog.set_level(logging.INFO, logger="kiosk.window")
    window = kiosk_window.window
    for _ in range(3):  # SDL's event, then the guard finding it gone again and again
        window.focused = False
        kiosk_window.take_focus_back()
    now = 100.0
    for _ in range(3):
        window.focused = False
        kiosk_window.guard(now)
        now += GUARD_PERIOD_S
    assert window.focused and taking_back_lines(caplog) == 1

    kiosk_window.guard(now)  # held again for a guard period: the theft is over
    window.focused = False  # a new one
    kiosk_window.guard(now + GUARD_PERIOD_S)
    assert window.focused and taking_back_lines(caplog) == 2
    kiosk_window.focus_gained()  # or SDL says it has the focus again, before any check
    window.focused = False
    kiosk_window.take_focus_back()
    assert taking_back_lines(caplog) == 3


def test_the_guard_takes_it_back_within_a_period_when_nobody_tells(kiosk_window, caplog):
    caplog.set_level(logging.INFO, logger="kiosk.window")
    window = kiosk_window.window
    window.focused = False
    kiosk_window.guard(GUARD_PERIOD_S / 2)  # not due yet
    assert not window.focused
    kiosk_window.guard(GUARD_PERIOD_S)
    assert window.focused and taking_back_lines(caplog) == 1
    assert kiosk_window.keyboard.engaged >= 2  # the keyboard lock is renewed on each check


def test_on_x11_the_guard_refocuses_even_when_it_has_the_focus(kiosk_window, caplog):
    caplog.set_level(logging.INFO, logger="kiosk.window")
    kiosk_window.x11 = True  # X11 tells no one that a window was raised over ours
    before = kiosk_window.window.focus_calls
    kiosk_window.guard(GUARD_PERIOD_S)
    assert kiosk_window.window.focus_calls == before + 1
    assert taking_back_lines(caplog) == 0  # nothing was seen to be taken: no line


def test_locking_takes_the_focus_from_the_game_without_calling_it_a_theft(kiosk_window,
                                                                         caplog):
    caplog.set_level(logging.INFO, logger="kiosk.window")
    kiosk_window.widget("")
    window = kiosk_window.window
    window.focused = False  # the customer's game has it
    kiosk_window.lock()  # 结束上机: page D
    assert window.focused and window.always_on_top
    window.focused = False  # the X server had not moved the focus yet when it was asked
    kiosk_window.guard(GUARD_PERIOD_S)
    assert window.focused and taking_back_lines(caplog) == 0
    kiosk_window.focus_gained()  # SDL's word that it has it: a theft from now on is one
    window.focused = False
    kiosk_window.take_focus_back()
    assert taking_back_lines(caplog) == 1


def test_the_widget_leaves_the_focus_to_the_game(kiosk_window, caplog):
    caplog.set_level(logging.INFO, logger="kiosk.window")
    kiosk_window.widget("")
    window = kiosk_window.window
    window.focused, before = False, window.focus_calls
    for step in range(5):
        kiosk_window.guard(100.0 + step * GUARD_PERIOD_S)
    assert not window.focused and window.focus_calls == before
    assert taking_back_lines(caplog) == 0
