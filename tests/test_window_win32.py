"""The kiosk's windows on a real Win32 (``make test-windows``: Wine on Xvfb): the page and
every cover topmost at every moment on a locked page, read back with
``GetWindowLongPtrW(GWL_EXSTYLE)``; a topmost window of another process under the page
again within a guard period; the covers and the widget never taking the focus.

SDL 2's raise takes topmost away from the page on Windows (kiosk/window.py says how); the
kiosk lifts it again. Under Wine the z-order of top-level windows is the wineserver's, as
``GetWindow`` and ``GetForegroundWindow`` read it for every process.
"""

from __future__ import annotations

import ctypes
import subprocess
import sys
import time
from collections.abc import Iterator

import pygame
import pytest

from kiosk.platform import desktop as dt
from kiosk.platform.desktop import Monitor
from kiosk.window import GUARD_PERIOD_S, KioskWindow
from tests.win32_user32 import WS_EX_TOPMOST, User32
from tests.window_fakes import FakeKeyboard

pytestmark = pytest.mark.win32

INTRUDER = (200, 150, 400, 300)  # x, y, width, height: over the page

# Another program's window: topmost, over the page; with "1" it takes the foreground as it
# shows (an updater's dialog), with "0" it does not (an IME bar, a floating client window).
# It prints its handle and lives until its stdin closes.
INTRUDER_SCRIPT = """\
import ctypes, sys, threading
u = ctypes.WinDLL("user32")
k = ctypes.WinDLL("kernel32")
u.CreateWindowExW.restype = ctypes.c_void_p
u.CreateWindowExW.argtypes = [ctypes.c_uint32, ctypes.c_wchar_p, ctypes.c_wchar_p,
                              ctypes.c_uint32] + [ctypes.c_int] * 4 + [ctypes.c_void_p] * 4
u.ShowWindow.argtypes = [ctypes.c_void_p, ctypes.c_int]
u.SetForegroundWindow.argtypes = [ctypes.c_void_p]
x, y, w, h, takes_focus = map(int, sys.argv[1:6])
ex_style = 0x8 if takes_focus else 0x8 | 0x08000000  # WS_EX_TOPMOST, WS_EX_NOACTIVATE
hwnd = u.CreateWindowExW(ex_style, "STATIC", "intruder", 0x80000000, x, y, w, h,
                         None, None, None, None)  # WS_POPUP
u.ShowWindow(hwnd, 5 if takes_focus else 4)  # SW_SHOW, SW_SHOWNOACTIVATE
if takes_focus:
    u.SetForegroundWindow(hwnd)
thread = k.GetCurrentThreadId()
print(hwnd, flush=True)
threading.Thread(target=lambda: (sys.stdin.read(), u.PostThreadMessageW(thread, 0x12, 0, 0)),
                 daemon=True).start()
msg = ctypes.create_string_buffer(64)
while u.GetMessageW(msg, None, 0, 0) > 0:
    u.DispatchMessageW(msg)
"""


class TwoMonitors(dt.WindowsDesktop):
    """The real user32, with a second monitor beside the one Xvfb has: a cover for it."""

    def monitors(self) -> tuple[Monitor, ...]:
        (first, *_), (x, y, w, h) = super().monitors(), (1280, 0, 1280, 720)
        return first, Monitor("second", (x, y, w, h), (x, y, w, h), False)


@pytest.fixture
def user32() -> User32:
    return User32()


@pytest.fixture
def kiosk(monkeypatch) -> Iterator[KioskWindow]:
    monkeypatch.setenv("SDL_VIDEODRIVER", "windows")  # other window tests ask for "dummy"
    pygame.display.quit()
    pygame.display.init()
    desktop = TwoMonitors(ctypes.WinDLL("user32"))  # type: ignore[attr-defined]
    window = KioskWindow(fullscreen=True, window_size=(0, 0), corner="top-right",
                         keyboard=lambda window, handles: FakeKeyboard(), desktop=desktop)
    try:
        assert window.covers, "the second monitor has a cover"
        yield window
    finally:
        window.close()
        for cover in window.covers:
            cover.destroy()
        window.window.destroy()
        pygame.display.quit()


def handles(kiosk: KioskWindow) -> list[int]:
    return [kiosk.window.handle, *(cover.handle for cover in kiosk.covers)]


def loop_turn(kiosk: KioskWindow, now: float) -> None:
    """What the UI loop does with the window each turn (kiosk/app.py)."""
    for event in pygame.event.get():
        if event.type not in (pygame.WINDOWFOCUSGAINED, pygame.WINDOWFOCUSLOST):
            continue
        if kiosk.is_cover(event.window):
            continue
        if event.type == pygame.WINDOWFOCUSGAINED:
            kiosk.focus_gained()
        elif kiosk.mode == "locked":
            kiosk.focus_lost()
    kiosk.guard(now)


def settle(kiosk: KioskWindow, now: float, turns: int = 10) -> None:
    """A few loop turns at the kiosk's time ``now``: the OS's messages are handled."""
    for _ in range(turns):
        loop_turn(kiosk, now)
        time.sleep(0.02)


@pytest.fixture
def intruder() -> Iterator:
    started: list[subprocess.Popen] = []

    def start(takes_focus: bool) -> int:
        process = subprocess.Popen(
            [sys.executable, "-c", INTRUDER_SCRIPT, *map(str, INTRUDER), str(int(takes_focus))],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        started.append(process)
        assert process.stdout is not None
        return int(process.stdout.readline())

    yield start
    for process in started:
        process.communicate(timeout=30)  # its stdin closes: it ends


def test_the_locked_page_and_every_cover_are_topmost_and_only_the_covers_refuse_focus(
        kiosk, user32):
    settle(kiosk, 0.0)
    page, *covers = handles(kiosk)
    assert all(user32.topmost(hwnd) for hwnd in handles(kiosk))
    assert not user32.ex_style(page) & dt.WS_EX_NOACTIVATE
    assert all(user32.ex_style(hwnd) & dt.WS_EX_NOACTIVATE for hwnd in covers)
    assert user32.dll.GetForegroundWindow() == page


def test_topmost_again_after_each_focus_take_back_and_each_guard_period(kiosk, user32):
    settle(kiosk, 0.0)
    now = 0.0
    for _ in range(3):
        kiosk.take_focus_back()
        assert all(user32.topmost(hwnd) for hwnd in handles(kiosk))
        for hwnd in handles(kiosk):  # whatever took it away (SDL's raise did, every time)
            user32.dll.SetWindowPos(hwnd, -2, 0, 0, 0, 0, 0x13)  # HWND_NOTOPMOST, no move
        assert not any(user32.topmost(hwnd) for hwnd in handles(kiosk))
        now += GUARD_PERIOD_S
        kiosk.guard(now)
        assert all(user32.topmost(hwnd) for hwnd in handles(kiosk))


@pytest.mark.parametrize("takes_focus", [False, True], ids=["no-activate", "takes-focus"])
def test_another_programs_topmost_window_is_under_the_page_within_a_guard_period(
        kiosk, user32, intruder, takes_focus):
    settle(kiosk, 0.0)
    page = kiosk.window.handle
    other = intruder(takes_focus)
    assert user32.above(other, page)  # it is over page A now
    settle(kiosk, GUARD_PERIOD_S * 0.9, turns=5)  # its focus theft, if any, is answered
    settle(kiosk, GUARD_PERIOD_S)  # and one guard period has come
    assert user32.above(page, other)
    assert all(user32.topmost(hwnd) for hwnd in handles(kiosk))
    assert user32.dll.GetForegroundWindow() == page


def test_the_widget_is_topmost_and_leaves_the_focus_to_the_game(kiosk, user32, intruder):
    settle(kiosk, 0.0)
    kiosk.widget("session-1")
    game = intruder(True)  # the customer's game, in front
    settle(kiosk, 10.0)
    settle(kiosk, 20.0)
    assert user32.dll.GetForegroundWindow() == game
    style = user32.ex_style(kiosk.window.handle)
    assert style & WS_EX_TOPMOST and style & dt.WS_EX_NOACTIVATE
