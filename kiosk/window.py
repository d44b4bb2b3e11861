"""The kiosk's windows: the page full screen and on top while locked, with every other
monitor covered; in C the small widget, which the customer may move and collapse.

On top means topmost, and the kiosk sees to it itself through the Desktop (``lift``):
on Windows SDL 2's ``WIN_RaiseWindow`` (``SDL_HINT_FORCE_RAISEWINDOW``, kiosk/cover.py)
sets ``HWND_TOPMOST`` and then, unconditionally, ``HWND_NOTOPMOST`` on every raise
(src/video/windows/SDL_windowswindow.c, release-2.32.x; SDL 3 keeps the flag), while SDL
still believes its always-on-top flag set, so ``always_on_top = True`` does nothing (a
move or resize puts ``HWND_TOPMOST`` back, WIN_SetWindowPositionInternal: the widget and
the covers kept it). Under
Wine the page had lost ``WS_EX_TOPMOST`` from its first frame, and a topmost window of
another program stayed over it. So the page and every cover are lifted after each raise
and in every guard period; the widget once as C starts, without taking the focus.
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Callable
from dataclasses import replace
from typing import TYPE_CHECKING

import pygame

from kiosk.cover import Cover, black_window, cover_screen
from kiosk.layout import PRIMARY, Layout, corner_position, keep_visible, plan, resized_in_place
from kiosk.platform.desktop import Point, Pointer
from kiosk.widget import Drag, WidgetPlace

if TYPE_CHECKING:
    from kiosk.platform.desktop import Desktop, Monitor
    from kiosk.platform.lockdown import Lockdown

log = logging.getLogger(__name__)

WIDGET_SIZE = (320, 180)
PILL_SIZE = (150, 40)  # the collapsed widget: the elapsed time only
GUARD_PERIOD_S = 0.5  # how often a locked page makes sure it is on top, focused, on every monitor
WIDGET_LOOK_S = 1.0  # how often the widget makes sure it is still on a monitor


class KioskWindow:
    """Switches between the locked full-screen mode and the session widget."""

    def __init__(self, *, fullscreen: bool, window_size: tuple[int, int], corner: str,
                 monitor: str = PRIMARY,
                 keyboard: Callable[[pygame.Window, Callable[[], list[int]]], Lockdown]
                 | None = None,
                 cover: Cover | None = None, desktop: Desktop | None = None,
                 place: WidgetPlace | None = None,
                 on_place: Callable[[WidgetPlace], None] = lambda place: None,
                 make_cover: Callable[[tuple[int, int], Point], pygame.Window] = black_window,
                 on_first_frame: Callable[[float], None] = lambda shown_at: None) -> None:
        """``cover``: the black windows ``cover_screen`` made at the UI's start, if it did;
        ``place``: where the widget was in this session before the UI started again;
        ``on_place`` hears of every place the customer gives it; ``keyboard`` makes the
        lock of locked pages from the page's window and a way to list every window (the
        app's whole lock-down; without it, the keys alone)."""
        self.fullscreen = fullscreen
        self.window_size = window_size
        self.corner = corner
        self.wanted_monitor = monitor
        self.window, self.covers, shown_at = cover or cover_screen(fullscreen, window_size)
        on_first_frame(shown_at)
        # Without a window manager (X11 kiosks, Xvfb) only an explicit input focus works.
        self.x11 = pygame.display.get_driver() == "x11"
        if desktop is None:  # ctypes and the OS's libraries load after the black frame
            from kiosk.platform.desktop import this_desktop

            desktop = this_desktop(pygame.display.get_driver(),
                                   pygame.display.get_desktop_sizes())
        self.desktop = desktop
        self.monitors: tuple[Monitor, ...] = ()
        self.layout: Layout | None = None
        self._look()
        self.place = place
        self.on_place = on_place
        self.make_cover = make_cover
        self.drag = Drag()
        self.mode = ""
        self.next_guard = 0.0
        self.stolen = False
        if keyboard is None:  # ctypes and the hook load after the black frame
            from kiosk.platform.lockdown import keys_only as keyboard
        self.keyboard = keyboard(self.window, self.handles)
        self.lock()

    @property
    def surface(self) -> pygame.Surface:
        return self.window.get_surface()

    @property
    def size(self) -> tuple[int, int]:
        return self.window.size

    @property
    def collapsed(self) -> bool:
        return self.mode == "widget" and self.place is not None and self.place.collapsed

    # --- locked pages ---

    def lock(self) -> None:
        """Full screen (or the configured window), borderless, on top, focused; with
        every other monitor covered."""
        if self.mode != "locked":
            self.mode = "locked"
            self.drag.release()
            # The focus may still be where the widget left it (the game) or where the
            # desktop had it at start: taking it is no theft, so it is not logged as one.
            self.stolen = True
            self.desktop.no_activate(self.window.handle, False)
            if self.fullscreen:
                self._cover_monitors()
            else:
                self.window.size = self.window_size
                self.window.position = (0, 0)
            self.window.borderless = True
            self.keyboard.engage()
            log.info("window locked at %s; %s", self.window.size, self.keyboard.status())
        self.raise_()

    def _cover_monitors(self) -> None:
        """The page on its monitor, a black window over each of the others."""
        if self.layout is None:  # the OS could not say: the first display SDL saw
            self.window.size = pygame.display.get_desktop_sizes()[0]
            self.window.position = (0, 0)
            return
        x, y, w, h = self.layout.page.rect
        self.window.size = (w, h)
        self.window.position = (x, y)
        rects = [m.rect for m in self.layout.covered]
        while len(self.covers) > len(rects):
            self.covers.pop().destroy()
        for cover, (x, y, w, h) in zip(self.covers, rects, strict=False):
            if cover.size != (w, h):
                cover.size = (w, h)
            cover.position = (x, y)
            self._paint(cover)
        for x, y, w, h in rects[len(self.covers):]:
            self.covers.append(self.make_cover((w, h), (x, y)))
        for cover in self.covers:
            self.desktop.no_activate(cover.handle, True)

    def _paint(self, cover: pygame.Window) -> None:
        cover.get_surface().fill((0, 0, 0))
        cover.flip()

    def handles(self) -> list[int]:
        """The OS's handles of the page's window and of every cover now."""
        return [self.window.handle, *(cover.handle for cover in self.covers)]

    def typing(self, on: bool) -> None:
        """The admin prompt takes typed text (``on``) or no longer does."""
        self.keyboard.typing(on)

    def is_cover(self, window: pygame.Window | None) -> bool:
        """Whether an event came from a window over another monitor."""
        return window is not None and any(window.id == c.id for c in self.covers)

    def exposed(self, window: pygame.Window | None) -> bool:
        """An X server lost a window's pixels (something was over it): a cover is black
        again at once; True when it was the page's, which must then be drawn again."""
        for cover in self.covers:
            if window is not None and window.id == cover.id:
                self._paint(cover)
                return False
        return True

    def raise_(self) -> None:
        self.window.always_on_top = True
        self.window.show()
        self.window.focus()
        if self.x11:
            with warnings.catch_warnings():
                # Deprecated in pygame-ce 2.5 (SDL 3 drops it), yet the only way to take
                # the input focus back on an X server without a window manager.
                warnings.simplefilter("ignore", DeprecationWarning)
                self.window.focus(input_only=True)
        self._on_top()

    def _on_top(self) -> None:
        """Every cover and the page topmost again, above any other program's topmost
        window (on Windows SDL's raise has just taken it away: see the module)."""
        for cover in self.covers:
            self.desktop.lift(cover.handle)
        self.desktop.lift(self.window.handle)

    def guard(self, now: float) -> bool:
        """Called every loop turn. On a locked page, every GUARD_PERIOD_S: every monitor
        covered again if the monitors changed, the keyboard lock again if it failed or
        its thread died, the page and covers topmost above any other program's topmost
        window, and the focus back if something took it (some window managers never send
        the focus-lost event). In C, every WIDGET_LOOK_S: the widget back on a monitor if
        its own went. True when the page's size changed."""
        if self.mode == "widget":
            if now >= self.next_guard:
                self.next_guard = now + WIDGET_LOOK_S
                if self._look() and not self.drag.active:
                    self._move_widget(self.window.position)
            return False
        if self.mode != "locked" or now < self.next_guard:
            return False
        self.next_guard = now + GUARD_PERIOD_S
        size = self.window.size
        if self._look() and self.fullscreen or self._misplaced():
            self._cover_monitors()
            self.raise_()  # a new cover took the focus as it was shown: the page's again
        self.keyboard.engage()  # a no-op while it holds
        if not self.window.focused:
            self.take_focus_back()
        else:
            self.stolen = False
            # Neither Windows nor X11 tells anyone that a window went over ours.
            self._on_top()
            if self.x11:
                self.window.focus()
        return self.window.size != size

    def _misplaced(self) -> bool:
        """Whether the page or a cover is off its monitor's rectangle: something moved or
        resized it (Windows does on a DPI change; so may another program); one log line."""
        if not self.fullscreen or self.layout is None:
            return False
        wanted = [self.layout.page.rect, *(m.rect for m in self.layout.covered)]
        placed = [(*w.position, *w.size) for w in (self.window, *self.covers)]
        if placed == wanted:
            return False
        log.warning("the page or a cover was moved off its monitor (%s, not %s): placed again",
                    placed, wanted)
        return True

    def _look(self) -> bool:
        """Read the monitors again; True (and one log line) when they changed."""
        monitors = self.desktop.monitors()
        if not monitors or monitors == self.monitors:
            return False  # the OS could not say right now: keep what we knew
        self.monitors = monitors
        self.layout = plan(monitors, self.wanted_monitor)
        if self.layout is not None:
            log.info("monitors: %s", self.layout.describe())
        return True

    def focus_gained(self) -> None:
        """SDL says the window has the focus: whatever took it before, that theft is over.
        On a locked page the lock is renewed at once: SDL gave the window its IME back if
        text input is on (the admin prompt)."""
        self.stolen = False
        if self.mode == "locked":
            self.keyboard.engage()

    def focus_lost(self) -> None:
        """SDL says a locked page lost the focus: taken back, unless it is back already.
        Without a window manager every window SDL shows takes the focus (a cover over a
        new monitor too); ``raise_`` gives it back before this event is read."""
        if not self.window.focused:
            self.take_focus_back()

    def take_focus_back(self) -> None:
        """Something took the focus from a locked page (SDL said so, or the guard found it
        gone): on top and focused again, with one log line per theft, not one per try. A
        cover that took it (a click on another monitor, under a window manager) is ours."""
        if not any(cover.focused for cover in self.covers):
            if not self.stolen:
                log.warning("something took the focus from the locked screen; taking it back")
            self.stolen = True
        self.raise_()

    # --- the widget ---

    def widget(self, session: str,
               first_frame: Callable[[pygame.Surface], None] = lambda surface: None) -> None:
        """The small always-on-top session widget: where the customer put it earlier in
        this session (``session`` names it), else in the configured corner.
        ``first_frame`` draws the widget (``collapsed`` says which) before the window
        takes its size, so it is on screen the moment the page is gone: never a window of
        the widget's size holding the page's pixels, or none."""
        if self.mode == "widget":
            return
        self.mode = "widget"
        self.next_guard = 0.0
        if self.place is None or not session or self.place.session != session:
            area = self.layout.page.work if self.layout else (
                0, 0, *pygame.display.get_desktop_sizes()[0])
            self.place = WidgetPlace(session, corner_position(self.corner, area, WIDGET_SIZE))
        size = PILL_SIZE if self.place.collapsed else WIDGET_SIZE
        frame = pygame.Surface(size)
        first_frame(frame)
        self.keyboard.release()  # the customer's games get every key
        self.window.size = size
        self._move_widget(self.place.position)
        self.surface.blit(frame, (0, 0))
        self.window.flip()
        while self.covers:  # their pixels are the game's memory now
            self.covers.pop().destroy()
        self.window.borderless = True
        self.window.always_on_top = True
        self.desktop.no_activate(self.window.handle, True)  # a click leaves the game focused
        self.desktop.lift(self.window.handle)  # SDL's last raise took topmost away
        log.info("window is the widget at %s%s", self.window.position,
                 " (collapsed)" if self.place.collapsed else "")

    def _move_widget(self, position: Point) -> None:
        """The widget at ``position``, or as near as it stays whole on a monitor."""
        x, y = keep_visible((*position, *self.window.size), self.monitors)
        if (x, y) != self.window.position:
            self.window.position = (x, y)
        self._placed(position=(x, y))

    def _placed(self, **changes: object) -> None:
        assert self.place is not None
        place = replace(self.place, **changes)
        if place != self.place:
            self.place = place
            self.on_place(place)

    def set_collapsed(self, collapsed: bool) -> None:
        """The slim pill (elapsed time only), or the whole widget again, where it is."""
        if self.mode != "widget" or self.collapsed == collapsed:
            return
        size = PILL_SIZE if collapsed else WIDGET_SIZE
        position = resized_in_place((*self.window.position, *self.window.size), size,
                                    self.monitors)
        self.window.size = size
        self.window.position = position
        self._placed(collapsed=collapsed)
        self._move_widget(position)

    def _pointer(self, local: Point | None) -> Pointer | None:
        """The pointer on the desktop: the OS's word, else the event's in-window position."""
        pointer = self.desktop.pointer()
        if pointer is not None or local is None:
            return pointer
        x, y = self.window.position
        return Pointer(x + local[0], y + local[1], True)

    def grab(self, local: Point) -> None:
        """A press on the widget's body, at ``local`` in it: it follows the pointer until
        ``let_go``. The press's own position, not the pointer's now: the hand may have
        moved on before the loop read the press."""
        if self.mode == "widget":
            x, y = self.window.position
            self.drag.press((x + local[0], y + local[1]), (x, y))

    def follow(self, local: Point | None = None) -> bool:
        """The widget where the drag puts it for the pointer now (``local``: an event's
        position in the widget, where the OS does not say); False once the OS says the
        button is up (a release the window never heard of, off the widget)."""
        pointer = self._pointer(local)
        if pointer is None:
            return True
        position = self.drag.follow(pointer[:2])
        if position is not None:
            self.window.position = position
        return pointer.pressed

    def let_go(self) -> bool:
        """The end of a press on the body; True when it was a click, not a drag."""
        moved = self.drag.moved
        clicked = self.drag.release()
        if moved:
            self._move_widget(self.window.position)
        return clicked

    def close(self) -> None:
        """Give every key back (the hook is removed) before the window goes."""
        self.keyboard.close()
        self.desktop.close()

    def flip(self) -> None:
        self.window.flip()
