"""The one kiosk window: full screen and on top while locked, a small widget in C."""

from __future__ import annotations

import logging
import warnings
from collections.abc import Callable
from typing import TYPE_CHECKING

import pygame

from kiosk.cover import Cover, cover_screen

if TYPE_CHECKING:
    from kiosk.platform.keyboard import CombinedLock

log = logging.getLogger(__name__)

WIDGET_SIZE = (320, 180)
WIDGET_MARGIN = 16
GUARD_PERIOD_S = 0.5  # how often a locked page makes sure it is on top and focused


def widget_position(corner: str, screen: tuple[int, int],
                    size: tuple[int, int] = WIDGET_SIZE) -> tuple[int, int]:
    """Top-left of the widget in ``corner`` of a screen, clear of the edge."""
    x = WIDGET_MARGIN if corner.endswith("left") else screen[0] - size[0] - WIDGET_MARGIN
    y = WIDGET_MARGIN if corner.startswith("top") else screen[1] - size[1] - WIDGET_MARGIN
    return max(0, x), max(0, y)


class KioskWindow:
    """Switches between the locked full-screen mode and the session widget."""

    def __init__(self, *, fullscreen: bool, window_size: tuple[int, int], corner: str,
                 keyboard: Callable[[pygame.Window], CombinedLock] | None = None,
                 cover: Cover | None = None,
                 on_first_frame: Callable[[float], None] = lambda shown_at: None) -> None:
        """``cover``: the black window ``cover_screen`` made at the UI's start, if it did."""
        self.fullscreen = fullscreen
        self.window_size = window_size
        self.corner = corner
        self.window, shown_at = cover or cover_screen(fullscreen, window_size)
        on_first_frame(shown_at)
        self.screen_size = pygame.display.get_desktop_sizes()[0]
        # Without a window manager (X11 kiosks, Xvfb) only an explicit input focus works.
        self.x11 = pygame.display.get_driver() == "x11"
        self.mode = ""
        self.next_guard = 0.0
        self.stolen = False
        if keyboard is None:  # ctypes and the hook load after the black frame
            from kiosk.platform.keyboard import keyboard_lock as keyboard
        self.keyboard = keyboard(self.window)
        self.lock()

    @property
    def surface(self) -> pygame.Surface:
        return self.window.get_surface()

    @property
    def size(self) -> tuple[int, int]:
        return self.window.size

    def lock(self) -> None:
        """Full screen (or the configured window), borderless, on top, focused."""
        if self.mode != "locked":
            self.mode = "locked"
            # The focus may still be where the widget left it (the game) or where the
            # desktop had it at start: taking it is no theft, so it is not logged as one.
            self.stolen = True
            if self.fullscreen:
                # Cover the screen as a window first: without a window manager (X11 kiosks,
                # Xvfb) set_fullscreen alone leaves the X window at the widget's size.
                self.window.size = self.screen_size
                self.window.position = (0, 0)
                self.window.set_fullscreen(desktop=True)
            else:
                self.window.set_windowed()
                self.window.size = self.window_size
                self.window.position = (0, 0)
            self.window.borderless = True
            self.keyboard.engage()
            log.info("window locked at %s; %s", self.window.size, self.keyboard.status())
        self.raise_()

    def widget(self) -> None:
        """The small always-on-top session widget in the configured corner."""
        if self.mode == "widget":
            return
        self.mode = "widget"
        self.keyboard.release()  # the customer's games get every key
        self.window.set_windowed()
        self.window.borderless = True
        self.window.size = WIDGET_SIZE
        self.window.position = widget_position(self.corner, self.screen_size)
        self.window.always_on_top = True
        log.info("window is the widget at %s", self.window.position)

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

    def guard(self, now: float) -> None:
        """On a locked page, every GUARD_PERIOD_S: the keyboard lock again if it failed
        or its thread died, back on top, and the focus back if something took it (some
        window managers never send the focus-lost event)."""
        if self.mode != "locked" or now < self.next_guard:
            return
        self.next_guard = now + GUARD_PERIOD_S
        self.keyboard.engage()  # a no-op while it holds
        if not self.window.focused:
            self.take_focus_back()
            return
        self.stolen = False
        if self.x11:
            self.window.focus()  # X11 tells no one that a window was raised over ours

    def focus_gained(self) -> None:
        """SDL says the window has the focus: whatever took it before, that theft is over."""
        self.stolen = False

    def take_focus_back(self) -> None:
        """Something took the focus from a locked page (SDL said so, or the guard found it
        gone): on top and focused again, with one log line per theft, not one per try."""
        if not self.stolen:
            log.warning("something took the focus from the locked screen; taking it back")
        self.stolen = True
        self.raise_()

    def close(self) -> None:
        """Give every key back (the hook is removed) before the window goes."""
        self.keyboard.close()

    def flip(self) -> None:
        self.window.flip()
