"""Every monitor covered on a locked page, the cover following monitors that come, go and
change resolution, and the widget placed, collapsed, dragged and kept on a visible
monitor: KioskWindow over a fake desktop (the real X server: tests/e2e/test_monitors.py)."""

from __future__ import annotations

import logging
import os

import pygame
import pytest

os.environ.setdefault("SDL_VIDEODRIVER", "dummy")

from kiosk.cover import Cover  # noqa: E402
from kiosk.platform.desktop import Monitor, Pointer  # noqa: E402
from kiosk.widget import WidgetPlace  # noqa: E402
from kiosk.window import GUARD_PERIOD_S, PILL_SIZE, WIDGET_LOOK_S, WIDGET_SIZE, KioskWindow  # noqa: E402
from tests.window_fakes import FakeDesktop, FakeKeyboard, FakeWindow  # noqa: E402

LEFT = Monitor("DUMMY0", (0, 0, 1280, 720), (0, 0, 1280, 720), True)
RIGHT = Monitor("DUMMY1", (1280, 0, 1280, 720), (1280, 0, 1280, 720))
THIRD = Monitor("DUMMY2", (2560, 0, 1920, 1080), (2560, 0, 1920, 1080))
SESSION = "a1b2c3d4e5f6"


class Kiosk:
    """A full-screen KioskWindow and what it made."""

    def __init__(self, desktop: FakeDesktop, monitor: str = "primary",
                 place: WidgetPlace | None = None, boot_covers: int = 0) -> None:
        pygame.display.init()
        self.desktop = desktop
        self.made: list[FakeWindow] = []
        self.places: list[WidgetPlace] = []
        boot = [FakeWindow() for _ in range(boot_covers)]
        self.main = FakeWindow()
        self.window = KioskWindow(
            fullscreen=True, window_size=(1280, 720), corner="top-right", monitor=monitor,
            keyboard=lambda window, handles: FakeKeyboard(), cover=Cover(self.main, boot, 0.0),
            desktop=desktop, place=place, on_place=self.places.append,
            make_cover=self._make)

    def _make(self, size: tuple[int, int], position: tuple[int, int]) -> FakeWindow:
        cover = FakeWindow(size, position)
        cover.flip()  # as kiosk.cover.black_window paints its window
        cover.focused = False  # the page's raise took the focus back from it
        self.made.append(cover)
        return cover

    def pressed_widget(self) -> tuple[int, int]:
        """The widget in C, pressed 10 px into it from its corner; where its corner was."""
        self.window.widget(SESSION)
        x, y = self.main.position
        self.desktop.cursor = Pointer(x + 10, y + 10, True)
        self.window.grab((10, 10))
        return x, y

    def covered(self) -> list[tuple[int, int, int, int]]:
        return sorted((*c.position, *c.size) for c in self.window.covers)

    def page(self) -> tuple[int, int, int, int]:
        return (*self.main.position, *self.main.size)


def test_a_locked_page_fills_the_primary_monitor_and_covers_every_other():
    kiosk = Kiosk(FakeDesktop(RIGHT, LEFT, THIRD))
    assert kiosk.page() == LEFT.rect
    assert kiosk.covered() == [RIGHT.rect, THIRD.rect]
    assert all(c.flips >= 1 for c in kiosk.window.covers)  # painted black at once
    # Clicks on a cover never take the focus from the page (Windows); covers are on top.
    assert all(kiosk.desktop.no_activate_calls[c.handle] for c in kiosk.window.covers)
    assert kiosk.desktop.no_activate_calls[kiosk.main.handle] is False
    assert {c.handle for c in kiosk.window.covers} <= set(kiosk.desktop.lifted)


def test_the_boot_covers_are_reused_not_made_again():
    kiosk = Kiosk(FakeDesktop(LEFT, RIGHT), boot_covers=1)
    assert kiosk.made == [] and kiosk.covered() == [RIGHT.rect]


def test_display_monitor_puts_the_page_on_another_monitor():
    kiosk = Kiosk(FakeDesktop(LEFT, RIGHT), monitor="DUMMY1")
    assert kiosk.page() == RIGHT.rect and kiosk.covered() == [LEFT.rect]


def test_monitors_added_removed_and_resized_are_covered_again_and_logged_once(caplog):
    caplog.set_level(logging.INFO, logger="kiosk.window")
    desktop = FakeDesktop(LEFT)
    kiosk = Kiosk(desktop)
    now = 10.0
    assert kiosk.covered() == []

    desktop.screens = (LEFT, RIGHT)  # plugged in
    assert kiosk.window.guard(now) is False  # the page's own size did not change
    assert kiosk.covered() == [RIGHT.rect]

    bigger = Monitor("DUMMY1", (1280, 0, 1920, 1080), (1280, 0, 1920, 1080))
    desktop.screens = (LEFT, bigger)  # a game left it at another resolution
    kiosk.window.guard(now + GUARD_PERIOD_S)
    assert kiosk.covered() == [bigger.rect] and len(kiosk.made) == 1  # resized, not remade

    smaller = Monitor("DUMMY0", (0, 0, 1024, 768), (0, 0, 1024, 768), True)
    desktop.screens = (smaller, bigger)
    assert kiosk.window.guard(now + 2 * GUARD_PERIOD_S) is True  # the page must be laid out
    assert kiosk.page() == smaller.rect

    desktop.screens = (smaller,)  # unplugged
    kiosk.window.guard(now + 3 * GUARD_PERIOD_S)
    assert kiosk.covered() == [] and kiosk.made[0].destroyed
    for step in range(4, 8):  # nothing changes: no new line
        assert kiosk.window.guard(now + step * GUARD_PERIOD_S) is False
    lines = [r.getMessage() for r in caplog.records if r.getMessage().startswith("monitors:")]
    assert lines == [
        "monitors: 1 monitor: DUMMY0 1280x720+0+0 (page, primary)",
        "monitors: 2 monitors: DUMMY0 1280x720+0+0 (page, primary), "
        "DUMMY1 1280x720+1280+0 (covered)",
        "monitors: 2 monitors: DUMMY0 1280x720+0+0 (page, primary), "
        "DUMMY1 1920x1080+1280+0 (covered)",
        "monitors: 2 monitors: DUMMY0 1024x768+0+0 (page, primary), "
        "DUMMY1 1920x1080+1280+0 (covered)",
        "monitors: 1 monitor: DUMMY0 1024x768+0+0 (page, primary)",
    ]


def test_a_moment_the_os_cannot_tell_changes_nothing():
    desktop = FakeDesktop(LEFT, RIGHT)
    kiosk = Kiosk(desktop)
    desktop.screens = ()
    assert kiosk.window.guard(10.0) is False
    assert kiosk.page() == LEFT.rect and kiosk.covered() == [RIGHT.rect]


def test_a_cover_that_lost_its_pixels_is_black_again_and_the_page_is_drawn_again():
    kiosk = Kiosk(FakeDesktop(LEFT, RIGHT))
    cover = kiosk.window.covers[0]
    flips = cover.flips
    assert kiosk.window.exposed(cover) is False and cover.flips == flips + 1
    assert kiosk.window.exposed(kiosk.main) is True
    assert kiosk.window.is_cover(cover) and not kiosk.window.is_cover(kiosk.main)


def test_a_cover_taking_the_focus_is_no_theft(caplog):
    caplog.set_level(logging.INFO, logger="kiosk.window")
    kiosk = Kiosk(FakeDesktop(LEFT, RIGHT))
    kiosk.window.guard(1.0)
    kiosk.main.focused, kiosk.window.covers[0].focused = False, True  # clicked, under a WM
    kiosk.window.take_focus_back()
    assert kiosk.main.focused
    assert "taking it back" not in caplog.text


def test_the_widget_starts_in_its_corner_of_the_page_monitor_and_covers_go():
    desktop = FakeDesktop(RIGHT, LEFT)
    kiosk = Kiosk(desktop, monitor="DUMMY1")
    covers = list(kiosk.window.covers)
    kiosk.window.widget(SESSION)
    assert kiosk.main.size == WIDGET_SIZE
    assert kiosk.main.position == (2560 - 16 - 320, 16)
    assert kiosk.window.covers == [] and all(c.destroyed for c in covers)
    assert desktop.no_activate_calls[kiosk.main.handle] is True  # the game keeps the focus
    assert kiosk.window.place == WidgetPlace(SESSION, (2560 - 16 - 320, 16))
    assert kiosk.places == []  # the corner is where a restarted UI puts it anyway


@pytest.mark.parametrize("collapsed", [False, True], ids=["widget", "pill"])
def test_the_widget_is_drawn_before_the_page_shrinks_so_it_shows_whole_at_once(collapsed):
    kiosk = Kiosk(FakeDesktop(LEFT, RIGHT), place=WidgetPlace(SESSION, (900, 16), collapsed))
    covers = list(kiosk.window.covers)
    size = PILL_SIZE if collapsed else WIDGET_SIZE
    drawn = []

    def first_frame(surface: pygame.Surface) -> None:
        drawn.append((surface.get_size(), kiosk.main.size, kiosk.window.collapsed,
                      any(c.destroyed for c in covers)))
        surface.fill((20, 28, 44))

    kiosk.window.widget(SESSION, first_frame=first_frame)
    # Drawn while the page still had its monitor, and every other monitor its cover.
    assert drawn == [(size, LEFT.rect[2:], collapsed, False)]
    # The first frame at the widget's size is the drawn widget: never the window's fresh
    # pixels (magenta here, the page's or garbage on a screen).
    assert kiosk.main.resizes[-1] == size
    assert kiosk.main.frames[-1] == (size, (20, 28, 44))
    assert all(c.destroyed for c in covers)


def test_the_widget_comes_back_where_it_was_in_the_same_session_only():
    place = WidgetPlace(SESSION, (300, 400), collapsed=True)
    kiosk = Kiosk(FakeDesktop(LEFT, RIGHT), place=place)
    kiosk.window.widget(SESSION)
    assert kiosk.main.position == (300, 400) and kiosk.main.size == PILL_SIZE
    assert kiosk.window.collapsed

    again = Kiosk(FakeDesktop(LEFT, RIGHT), place=place)
    again.window.widget("0f0f0f0f0f0f")  # the next customer's session
    assert again.main.position == (1280 - 16 - 320, 16) and again.main.size == WIDGET_SIZE
    assert not again.window.collapsed
    unnamed = Kiosk(FakeDesktop(LEFT, RIGHT), place=WidgetPlace("", (300, 400)))
    unnamed.window.widget("")  # a server that names no session: never restored
    assert unnamed.main.position == (1280 - 16 - 320, 16)


def test_a_restored_place_off_every_monitor_now_is_brought_back_into_view():
    kiosk = Kiosk(FakeDesktop(LEFT), place=WidgetPlace(SESSION, (1500, 100)))  # was on DUMMY1
    kiosk.window.widget(SESSION)
    assert kiosk.main.position == (1280 - 320, 100)


def test_collapsing_and_expanding_keeps_the_corner_and_tells_the_guardian():
    kiosk = Kiosk(FakeDesktop(LEFT))
    kiosk.window.widget(SESSION)
    kiosk.window.set_collapsed(True)
    assert kiosk.main.size == PILL_SIZE and kiosk.main.position == (1280 - 16 - 150, 16)
    assert kiosk.places[-1] == WidgetPlace(SESSION, (1280 - 16 - 150, 16), collapsed=True)
    kiosk.window.set_collapsed(True)  # already: nothing more
    assert len(kiosk.places) == 2
    kiosk.window.set_collapsed(False)
    assert kiosk.main.size == WIDGET_SIZE and kiosk.main.position == (1280 - 16 - 320, 16)
    assert kiosk.places[-1] == WidgetPlace(SESSION, (1280 - 16 - 320, 16))


def test_locking_again_in_the_session_keeps_the_place_for_the_widget_after_d():
    kiosk = Kiosk(FakeDesktop(LEFT, RIGHT))
    kiosk.window.widget(SESSION)
    kiosk.window.set_collapsed(True)
    kiosk.window.lock()  # 结束上机: D, then 继续上机 back to C
    assert kiosk.page() == LEFT.rect and kiosk.covered() == [RIGHT.rect]
    kiosk.window.widget(SESSION)
    assert kiosk.window.collapsed and kiosk.main.size == PILL_SIZE


@pytest.mark.parametrize("pointer", [True, False], ids=["os-pointer", "event-positions"])
def test_a_drag_moves_the_widget_to_another_monitor_and_a_click_does_not(pointer):
    desktop = FakeDesktop(LEFT, RIGHT)
    kiosk = Kiosk(desktop)
    kiosk.window.widget(SESSION)
    start = kiosk.main.position
    grab = (100, 30)  # on the body, in the widget's own pixels

    def at(x: int, y: int) -> tuple[int, int]:
        """Move the pointer to (x, y) on the desktop; the position in the window's pixels."""
        if pointer:
            desktop.cursor = Pointer(x, y, True)
        return x - kiosk.main.position[0], y - kiosk.main.position[1]

    kiosk.window.grab(at(start[0] + grab[0], start[1] + grab[1]))
    kiosk.window.follow(at(start[0] + grab[0] + 2, start[1] + grab[1]))
    assert kiosk.main.position == start  # within the slop: still a click
    assert kiosk.window.let_go() is True and kiosk.main.position == start

    kiosk.window.grab(at(start[0] + grab[0], start[1] + grab[1]))
    for x, y in ((1200, 200), (1700, 300), (2000, 400)):
        kiosk.window.follow(at(x, y))
        assert kiosk.main.position == (x - grab[0], y - grab[1])
    assert kiosk.window.let_go() is False
    assert kiosk.places[-1] == WidgetPlace(SESSION, (2000 - grab[0], 400 - grab[1]))


def test_a_widget_dropped_over_the_edge_lands_wholly_on_the_monitor():
    desktop = FakeDesktop(LEFT)
    kiosk = Kiosk(desktop)
    x, y = kiosk.pressed_widget()
    desktop.cursor = Pointer(1275, 715, True)
    kiosk.window.follow((0, 0))
    assert kiosk.main.position == (1265, 705)  # it follows the pointer past the edge
    kiosk.window.let_go()
    assert kiosk.main.position == (1280 - 320, 720 - 180)


def test_the_widget_stays_on_a_visible_monitor_when_its_own_goes():
    desktop = FakeDesktop(LEFT, RIGHT)
    kiosk = Kiosk(desktop, place=WidgetPlace(SESSION, (2000, 500)))
    kiosk.window.widget(SESSION)
    assert kiosk.main.position == (2000, 500)
    desktop.screens = (LEFT,)  # unplugged, or turned off
    kiosk.window.guard(100.0)
    assert kiosk.main.position == (1280 - 320, 500)  # moved the least: leftwards only
    assert kiosk.places[-1].position == (960, 500)
    shrunk = Monitor("DUMMY0", (0, 0, 800, 600), (0, 0, 800, 600), True)
    desktop.screens = (shrunk,)
    kiosk.window.guard(100.0 + WIDGET_LOOK_S / 2)  # not due yet
    assert kiosk.main.position == (960, 500)
    kiosk.window.guard(100.0 + WIDGET_LOOK_S)
    assert kiosk.main.position == (800 - 320, 600 - 180)


def test_a_release_the_widget_never_heard_of_ends_the_drag():
    desktop = FakeDesktop(LEFT)
    kiosk = Kiosk(desktop)
    x, y = kiosk.pressed_widget()
    desktop.cursor = Pointer(x - 300, y + 200, True)
    assert kiosk.window.follow() is True and kiosk.main.position == (x - 310, y + 190)
    desktop.cursor = Pointer(x - 300, y + 200, False)  # let go off the widget
    assert kiosk.window.follow() is False


def test_a_focus_loss_already_undone_is_no_theft(caplog):
    caplog.set_level(logging.INFO, logger="kiosk.window")
    desktop = FakeDesktop(LEFT)
    kiosk = Kiosk(desktop)
    kiosk.window.guard(1.0)
    kiosk.window.focus_gained()
    desktop.screens = (LEFT, RIGHT)  # the new cover takes the focus as it is shown...
    kiosk.window.guard(2.0)  # ...and the guard gives it back before SDL's event is read
    kiosk.window.focus_lost()
    assert "taking it back" not in caplog.text
    kiosk.main.focused = False  # a real theft
    kiosk.window.focus_lost()
    assert kiosk.main.focused and caplog.text.count("taking it back") == 1


def test_the_grab_point_is_where_the_press_was_not_where_the_pointer_went_since():
    desktop = FakeDesktop(LEFT, RIGHT)
    kiosk = Kiosk(desktop)
    kiosk.window.widget(SESSION)
    x, y = kiosk.main.position
    desktop.cursor = Pointer(x + 160, y + 90, True)  # the hand moved on before the loop woke
    kiosk.window.grab((100, 40))
    desktop.cursor = Pointer(1500, 140, True)
    kiosk.window.follow()
    assert kiosk.main.position == (1400, 100)
