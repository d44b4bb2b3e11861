"""End to end on Windows' code paths: the real kiosk in the Windows CPython under Wine.

``make test-windows`` runs this file (it is skipped elsewhere): ``main.py`` starts the
guardian, the embedded simulator and the UI as Windows processes, so SDL's Windows video
driver, the low-level keyboard hook, the named mutex, the Windows monitor list and the
process handling run for real against Wine's user32 and kernel32, on the run's Xvfb.

The test process is a Windows process too, so it sees and drives the screen through
Win32 (tests/e2e/win32_desktop.py: BitBlt screenshots, SendInput clicks, EnumWindows,
TerminateProcess; that module says why not xdotool and xwd). Everything else is the Linux
end-to-end tests' own: their kiosk runner, helpers, timings and screenshot checks.
Wine is not Windows: what passes here shows the calls and the flow are right against a
faithful Win32; where Wine differs, Microsoft's documentation decides (README).
"""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from . import win32_desktop, xscreen
from .conftest import SCREEN
from .kiosk_run import QR_URL, fill
from .test_kiosk import (
    FAR_FROM_WIDGET,
    FULL,
    WIDGET,
    WIDGET_BUTTON_RED,
    StartKiosk,
    click_end_button,
    corners,
    entries,
    geometry_is,
    on_standby,
    pay_qr_before_reboot,
    qr_shown,
    standby_page_killed_comes_back,
    to_scan,
    video_plays,
)
from .test_kiosk import kiosk as started_kiosks
from .win32_desktop import Desktop
from .xscreen import wait_until

pytestmark = [pytest.mark.e2e, pytest.mark.win32]

kiosk_fixture = started_kiosks  # pytest knows a fixture by the name it is found under


@pytest.fixture(scope="module")
def screen() -> Desktop:
    """The run's own desktop: Wine's, on the 1280×720 Xvfb that make test-windows starts."""
    desktop = Desktop()
    assert desktop.size == SCREEN, f"the tests' screen is {SCREEN}, this one {desktop.size}"
    return desktop


@pytest.fixture
def kiosk(kiosk_fixture: StartKiosk) -> StartKiosk:
    """test_kiosk's factory: kiosks started with overrides, screenshots on failure, stopped."""
    return kiosk_fixture


def red_button(img: np.ndarray) -> tuple[int, int] | None:
    """The centre of the largest patch of the kiosk's red button colour (结束上机, 确认结束),
    as a customer finds the button: by looking."""
    close = np.abs(img.astype(np.int16) - np.array(WIDGET_BUTTON_RED, np.int16)).max(axis=2)
    mask = (close <= 30).astype(np.uint8)
    count, _, stats, centres = cv2.connectedComponentsWithStats(mask)
    if count < 2:
        return None
    largest = 1 + int(np.argmax(stats[1:, cv2.CC_STAT_AREA]))
    if stats[largest, cv2.CC_STAT_AREA] < 400:  # smaller than any button: a glyph's edge
        return None
    x, y = centres[largest]
    return int(x), int(y)


def locked_page(screen: Desktop) -> np.ndarray | None:
    """The screenshot, if a page covers the whole screen: no corner shows the black of the
    desktop behind it (no window manager draws one)."""
    img = xscreen.screenshot(screen)
    black = any(xscreen.is_mostly(img, rect, (0, 0, 0), tolerance=8) for rect in corners())
    return None if black else img


def test_a_customer_goes_from_standby_through_a_session_to_the_pay_qr_on_windows(
        screen: Desktop, kiosk: StartKiosk) -> None:
    # Rule 1's idle time and rule 6's delay long enough for screenshots on a busy machine.
    delay = 8
    k = kiosk({"timers": {"scan_idle_s": 30, "after_confirm_reboot_s": delay}})
    on_standby(k)
    geometry_is(k, FULL)
    wait_until(lambda: video_plays(screen), 15, interval=0,
               message="the standby video does not play")

    to_scan(k, screen)
    qr_shown(screen, fill(QR_URL))

    since = k.mark()
    k.control("start")  # the customer's phone
    k.wait_scene("C", "rule2:onlineStatus=2", timeout=10, since=since)
    geometry_is(k, WIDGET)

    def widget_alone() -> np.ndarray | None:
        img = xscreen.screenshot(screen)
        uncovered = xscreen.is_mostly(img, FAR_FROM_WIDGET, (0, 0, 0), tolerance=8)
        return img if uncovered and red_button(img) else None

    img = wait_until(widget_alone, 10, message="the widget is not alone on the screen")
    x, y = red_button(img)
    assert WIDGET[0] <= x < WIDGET[0] + WIDGET[2] and WIDGET[1] <= y < WIDGET[1] + WIDGET[3]

    since = k.mark()
    click_end_button(k)  # 结束上机
    k.wait_scene("D", "end_pressed", timeout=5, since=since)
    geometry_is(k, FULL)

    def confirm_button() -> tuple[int, int] | None:
        img = locked_page(screen)
        return None if img is None else red_button(img)

    confirm = wait_until(confirm_button, 10, message="D's confirm button is not on screen")
    assert xscreen.decode_qr(xscreen.screenshot(screen)) == []  # no pay QR before confirming
    xscreen.click(*confirm, screen)  # 确认结束

    wait_until(lambda: k.client()["offline_calls"] == 1, 10, message="offline was not called")
    assert k.client()["status"] == 3
    pay = pay_qr_before_reboot(k, since, timeout=delay)
    assert not any(xscreen.is_mostly(pay, rect, (0, 0, 0), tolerance=8) for rect in corners())
    reboot = k.wait_reboot("", timeout=delay + 10, since=since)
    assert reboot["reason"] == "rule6:after_confirm", entries(k, since)


def test_a_killed_standby_page_is_started_again_by_the_guardian_on_windows(
        screen: Desktop, kiosk: StartKiosk) -> None:
    # TerminateProcess, what Task Manager's End task does.
    standby_page_killed_comes_back(kiosk(), win32_desktop.terminate)
    wait_until(lambda: locked_page(screen), 10, message="page A does not cover the screen")
    wait_until(lambda: video_plays(screen), 15, interval=0,
               message="the standby video does not play after the restart")
