"""End-to-end: no other window keeps the focus or the top of the screen from a locked page.

A second X client (``xlogo`` painted all green) plays the program that pops up over
the kiosk: xdotool gives it the input focus and raises it, as a window manager would
for a newly started program. No window manager runs under Xvfb, so stacking is read
from the X server itself (``xwininfo -root -children`` lists the top-most first) and
from the screenshot: the green rectangle must be gone.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from . import xscreen
from .kiosk_run import Kiosk, start_kiosk
from .xscreen import VirtualScreen, wait_until

pytestmark = pytest.mark.e2e

INTRUDER = (60, 240, 360, 300)  # x, y, w, h: left middle, clear of the widget's corner
GREEN = (0, 255, 0)  # BGR and RGB alike
TAKE_BACK_S = 0.5 + 1.0  # window.GUARD_PERIOD_S, plus a second for a busy 2-core machine
START_S = 15.0


def x(args: list[str], screen: VirtualScreen) -> str:
    done = subprocess.run(args, env=screen.env(), capture_output=True, text=True, timeout=10,
                          check=True)
    return done.stdout


def focused(screen: VirtualScreen) -> int:
    return int(x(["xdotool", "getwindowfocus"], screen).split()[0])


def stacking(screen: VirtualScreen) -> list[int]:
    """The root's children, top-most first (that is how xwininfo lists them)."""
    ids = []
    for line in x(["xwininfo", "-root", "-children"], screen).splitlines():
        word = line.strip().split(" ", 1)[0]
        if word.startswith("0x"):
            ids.append(int(word, 16))
    return ids


def above(screen: VirtualScreen, upper: int, lower: int) -> bool:
    order = stacking(screen)
    return upper in order and lower in order and order.index(upper) < order.index(lower)


GRAB_SUCCESS, ALREADY_GRABBED = 0, 1  # XGrabKeyboard's answers (X.h)


def keyboard_grab_free(screen: VirtualScreen) -> bool:
    """Whether another X client may grab the keyboard now (it is let go at once).

    While a locked page holds SDL's keyboard grab the X server answers AlreadyGrabbed:
    a window manager's shortcuts cannot fire either.
    """
    path = ctypes.util.find_library("X11")
    if path is None:
        pytest.skip("libX11 not found")
    xlib = ctypes.CDLL(path)
    xlib.XOpenDisplay.restype = ctypes.c_void_p
    xlib.XOpenDisplay.argtypes = [ctypes.c_char_p]
    xlib.XDefaultRootWindow.restype = ctypes.c_ulong
    xlib.XDefaultRootWindow.argtypes = [ctypes.c_void_p]
    xlib.XGrabKeyboard.argtypes = [ctypes.c_void_p, ctypes.c_ulong, ctypes.c_int, ctypes.c_int,
                                   ctypes.c_int, ctypes.c_ulong]
    xlib.XUngrabKeyboard.argtypes = [ctypes.c_void_p, ctypes.c_ulong]
    xlib.XCloseDisplay.argtypes = [ctypes.c_void_p]
    display = xlib.XOpenDisplay(screen.display.encode())
    assert display, f"cannot open {screen.display}"
    try:
        answer = xlib.XGrabKeyboard(display, xlib.XDefaultRootWindow(display), 0, 1, 1, 0)
        assert answer in (GRAB_SUCCESS, ALREADY_GRABBED), answer
        if answer == GRAB_SUCCESS:
            xlib.XUngrabKeyboard(display, 0)
        return answer == GRAB_SUCCESS
    finally:
        xlib.XCloseDisplay(display)


def green_shown(screen: VirtualScreen) -> bool:
    return xscreen.is_mostly(xscreen.screenshot(screen), INTRUDER, GREEN, fraction=0.9)


def steal(screen: VirtualScreen, wid: int) -> float:
    """Give ``wid`` the focus and the top, as a new program's window would get them."""
    # No --sync: it would wait forever for a focus the kiosk takes back at once.
    x(["xdotool", "windowfocus", str(wid), "windowraise", str(wid)], screen)
    return time.monotonic()


def takes_back(k: Kiosk, intruder: int, since: float) -> float:
    """Wait until the kiosk has the focus and the top again; seconds since ``since``."""
    kiosk = k.window()

    def back() -> bool:
        return focused(k.screen) == kiosk and above(k.screen, kiosk, intruder)

    wait_until(back, TAKE_BACK_S - (time.monotonic() - since), interval=0.02,
               message=f"the kiosk did not take the focus and the top back\n{k.logs()}")
    took = time.monotonic() - since
    print(f"taken back after {took:.2f} s")
    # What a customer sees: the kiosk's page where the green window was.
    wait_until(lambda: not green_shown(k.screen), 2, message="the other window still shows")
    return took


@pytest.fixture
def intruder(screen: VirtualScreen) -> Iterator[int]:
    """An all-green xlogo window on the screen; its X window id."""
    if shutil.which("xlogo") is None:
        pytest.skip("xlogo missing (apt-get install x11-apps)")
    w, h = INTRUDER[2], INTRUDER[3]
    proc = screen.popen(["xlogo", "-geometry", f"{w}x{h}+{INTRUDER[0]}+{INTRUDER[1]}",
                         "-bg", "#00ff00", "-fg", "#00ff00", "-bw", "0"],
                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wids = xscreen.windows_of(proc.pid, screen, class_name="XLogo", timeout=10)
        assert wids, "xlogo shows no window"
        yield wids[-1]
    finally:
        xscreen.stop_process(proc)


@pytest.fixture
def kiosk(screen: VirtualScreen, tmp_path: Path) -> Iterator[Kiosk]:
    k = start_kiosk(screen, tmp_path, {"timers": {"scan_idle_s": 60}})
    try:
        yield k
    finally:
        k.stop()


def test_standby_takes_focus_and_the_top_back_from_another_window(
        screen: VirtualScreen, kiosk: Kiosk, intruder: int) -> None:
    kiosk.wait_scene("A", "startup", timeout=START_S)
    own = kiosk.window()
    wait_until(lambda: focused(screen) == own and above(screen, own, intruder), 5,
               message="the kiosk never had the focus and the top at start")
    wait_until(lambda: not keyboard_grab_free(screen), 2, message="no keyboard grab on A")

    since = steal(screen, intruder)
    takes_back(kiosk, intruder, since)
    # Raised over the kiosk without taking the focus: X sends the kiosk no event at all,
    # so only its own periodic check can notice.
    x(["xdotool", "windowraise", str(intruder)], screen)
    since = time.monotonic()
    takes_back(kiosk, intruder, since)
    assert kiosk.trace()[-1]["scene"] == "A"  # taking focus back is no page change
    wait_until(lambda: not keyboard_grab_free(screen), 2,
               message="the keyboard grab did not come back with the focus")


def test_widget_leaves_the_focus_to_the_game_and_page_d_takes_it_back(
        screen: VirtualScreen, kiosk: Kiosk, intruder: int) -> None:
    kiosk.wait_scene("A", "startup", timeout=START_S)
    since = kiosk.mark()
    xscreen.click(700, 200, screen)
    kiosk.wait_scene("B", "input", timeout=5, since=since)
    kiosk.control("start")
    kiosk.wait_scene("C", "rule2:onlineStatus=2", timeout=5, since=since)

    steal(screen, intruder)  # the customer's game
    wait_until(lambda: focused(screen) == intruder, 2, message="the game never got the focus")
    deadline = time.monotonic() + 3 * TAKE_BACK_S  # well past the kiosk's check period
    while time.monotonic() < deadline:
        assert focused(screen) == intruder, "the widget took the focus from the game"
        time.sleep(0.1)
    assert above(screen, intruder, kiosk.window())
    assert green_shown(screen)  # the screenshot check sees an intruder when there is one

    since = kiosk.mark()
    x_, y_, w_, h_ = kiosk.geometry()
    xscreen.click(x_ + w_ // 2, y_ + h_ - 32, screen)  # 结束上机 → D asks to confirm
    kiosk.wait_scene("D", timeout=5, since=since)
    clicked = time.monotonic()
    takes_back(kiosk, intruder, clicked)
    wait_until(lambda: not keyboard_grab_free(screen), 2, message="no keyboard grab on D")
    since = steal(screen, intruder)  # D before confirmation stays locked too
    takes_back(kiosk, intruder, since)
