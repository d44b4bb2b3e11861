"""The desktop reader (kiosk/platform/desktop.py) against the real user32 (``make
test-windows``: Wine on an Xvfb screen of 1280x720): the monitors, the pointer, and the
window styles it sets, read back. The fakes of tests/test_desktop.py stay for what Wine
cannot show: several monitors and work areas, swapped mouse buttons, a pointer on a secure
desktop, 32-bit Windows' GetWindowLongW.
"""

from __future__ import annotations

import ctypes
from collections.abc import Iterator

import pygame
import pytest

from kiosk.platform import desktop as dt
from kiosk.platform.desktop import Pointer, WindowsDesktop, this_desktop
from tests.win32_user32 import User32

pytestmark = pytest.mark.win32


@pytest.fixture
def desktop() -> WindowsDesktop:
    found = this_desktop("windows", [(1280, 720)])
    assert isinstance(found, WindowsDesktop)
    return found


@pytest.fixture
def user32() -> User32:
    return User32()


@pytest.fixture
def windows(monkeypatch) -> Iterator[list[pygame.Window]]:
    """Plain SDL windows, neither topmost nor refusing the focus; the first one focused."""
    monkeypatch.setenv("SDL_VIDEODRIVER", "windows")  # other tests ask for "dummy"
    pygame.display.quit()
    pygame.display.init()
    made = [pygame.Window("game", (320, 200), position=(x, 100)) for x in (100, 500)]
    made[0].focus()
    for _ in range(10):
        pygame.event.pump()
    yield made
    for window in made:
        window.destroy()
    pygame.display.quit()


def test_the_monitor_is_listed_with_its_rectangle_work_area_and_as_primary(desktop):
    (monitor,) = desktop.monitors()
    assert monitor.rect == (0, 0, 1280, 720) and monitor.primary
    assert monitor.name.startswith("\\\\.\\DISPLAY")
    x, y, w, h = monitor.work
    assert x >= 0 and y >= 0 and x + w <= 1280 and y + h <= 720 and w * h > 0


def test_the_pointer_is_where_the_system_put_it_with_no_button_down(desktop, user32):
    before = dt.POINT()
    user32.dll.GetCursorPos(ctypes.byref(before))
    try:
        assert user32.dll.SetCursorPos(321, 123)
        assert desktop.pointer() == Pointer(321, 123, False)
    finally:
        user32.dll.SetCursorPos(before.x, before.y)


def test_no_activate_is_set_and_cleared_and_keeps_the_other_styles(desktop, user32, windows):
    hwnd = windows[1].handle
    before = user32.ex_style(hwnd)
    assert not before & dt.WS_EX_NOACTIVATE
    desktop.no_activate(hwnd, True)
    assert user32.ex_style(hwnd) == before | dt.WS_EX_NOACTIVATE
    desktop.no_activate(hwnd, False)
    assert user32.ex_style(hwnd) == before


def test_a_lifted_window_is_topmost_above_the_focused_one_which_keeps_the_focus(
        desktop, user32, windows):
    focused, other = (window.handle for window in windows)
    assert user32.dll.GetForegroundWindow() == focused
    assert not user32.topmost(other)
    desktop.lift(other)
    for _ in range(10):
        pygame.event.pump()
    assert user32.topmost(other) and user32.above(other, focused)
    assert user32.dll.GetForegroundWindow() == focused
