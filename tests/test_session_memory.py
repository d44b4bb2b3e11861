"""In C the UI keeps nothing of the full-screen pages: the decoder stops, their images and
fonts go, the heap goes back to the OS; they are made again, drawn whole, when a
full-screen page comes back. And each page's trace line is written once it is on screen."""

from __future__ import annotations

import logging
import os
import sys

import pygame
import pytest

os.environ.setdefault("SDL_VIDEODRIVER", "dummy")

from kiosk.flow import Page  # noqa: E402
from kiosk.scenes import draw, end, session  # noqa: E402
from kiosk.window import WIDGET_SIZE  # noqa: E402
from tests.app_run import CLIENT, running_app, running_simulator, steps, until  # noqa: E402

SCREEN = (1280, 720)


@pytest.fixture
def sim():
    with running_simulator() as simulator:
        yield simulator


def key(code: int) -> None:
    pygame.event.post(pygame.event.Event(pygame.KEYDOWN, key=code, mod=0, unicode=""))


def on_screen_at_trace(app) -> list[tuple[str, tuple[int, int], tuple[int, int, int]]]:
    """What the window held (size, a pixel near its top-left) as each page's line was traced."""
    seen = []
    scene = app.trace.scene

    def traced(page: str, reason: str) -> None:
        seen.append((page, app.window.size, tuple(app.window.surface.get_at((6, 60)))[:3]))
        scene(page, reason)

    app.trace.scene = traced
    return seen


def test_the_widget_keeps_nothing_of_the_full_screen_pages(sim, tmp_path, caplog):
    caplog.set_level(logging.INFO, logger="kiosk.app")
    with running_app(sim, tmp_path, SCREEN) as app:
        standby, scan = app.scenes[Page.STANDBY], app.scenes[Page.SCAN]
        until(app, lambda: standby.player is not None and standby.player.pacer.shown > 0)
        key(pygame.K_a)  # A → B: the background scaled to the screen, the QR
        until(app, lambda: app.flow.page is Page.SCAN and scan._background is not None)
        steps(app, 0.2)
        assert draw.qr_surface.cache_info().currsize >= 1  # B's QR, kept while locked
        sim.venue.start(CLIENT)
        until(app, lambda: app.flow.page is Page.SESSION)
        assert standby.player is None and standby._bar is None and scan._background is None
        assert draw.qr_surface.cache_info().currsize == 0
        steps(app, 1.2)  # the widget drew its next second
        # The fonts kept are the widget's own few sizes, none of the pages' big titles.
        assert draw.font.cache_info().currsize <= 6
        released = [line for line in caplog.messages if "memory is released" in line]
        # glibc's heap on Linux, the working set on Windows (kiosk/platform/memory.py)
        trimmed = "working set trimmed" if sys.platform == "win32" else "heap trimmed"
        assert len(released) == 1 and trimmed in released[0]


def test_each_page_is_traced_once_it_is_drawn_and_d_comes_back_whole_after_c(sim, tmp_path):
    with running_app(sim, tmp_path, SCREEN) as app:
        seen = on_screen_at_trace(app)
        until(app, lambda: app.flow.page is Page.STANDBY)
        key(pygame.K_a)
        until(app, lambda: app.flow.page is Page.SCAN)
        sim.venue.start(CLIENT)
        until(app, lambda: app.flow.page is Page.SESSION)
        key(pygame.K_RETURN)  # 结束上机 from the keyboard: D, drawn again from nothing
        until(app, lambda: app.flow.page is Page.END)
        key(pygame.K_ESCAPE)  # 继续上机: the widget again, released again
        until(app, lambda: app.flow.page is Page.SESSION and len(seen) == 5)
    assert [(page, size) for page, size, _ in seen[:2]] == [("A", SCREEN), ("B", SCREEN)]
    assert seen[2:] == [("C", WIDGET_SIZE, session.BACKGROUND), ("D", SCREEN, end.BACKGROUND),
                        ("C", WIDGET_SIZE, session.BACKGROUND)]
