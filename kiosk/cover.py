"""The UI's first frame: black over the screen before anything else of the kiosk loads.

At boot the desktop shows until this frame is up (the boot race), so this module
imports nothing but pygame: no logging, no config. main.py calls ``cover_screen`` for
the UI the guardian starts (``--window full|WxH``); the window is then handed on to
``kiosk.window.KioskWindow``.
"""

from __future__ import annotations

import os
import time
from typing import NamedTuple

import pygame

TITLE = "扫码上机"

# Set before the video subsystem starts: a full-screen kiosk must not minimise when
# another program steals focus, and must not let the screensaver blank it.
SDL_HINTS = {
    "SDL_VIDEO_MINIMIZE_ON_FOCUS_LOSS": "0",
    "SDL_VIDEO_ALLOW_SCREENSAVER": "0",
    "SDL_VIDEO_X11_NET_WM_BYPASS_COMPOSITOR": "0",
    # SDL would turn SIGTERM into a QUIT event; a killed UI must die (rule 3 watches that).
    "SDL_NO_SIGNAL_HANDLERS": "1",
    # With the keyboard grabbed SDL would itself minimise a full-screen window on Alt+Tab.
    "SDL_ALLOW_ALT_TAB_WHILE_GRABBED": "0",
    # Kept: without it SDL 2's raise is a bare SetForegroundWindow, which Windows refuses
    # a background process (the page would only flash in the taskbar), so a locked page
    # could never take the focus back from another program. With it SDL attaches to the
    # foreground thread's input, bumps the window through HWND_TOPMOST and back to
    # HWND_NOTOPMOST, then takes the foreground, focus and activation (WIN_RaiseWindow,
    # SDL 2.32). The kiosk makes its windows topmost again after every raise
    # (kiosk/window.py). SDL 2 spells this hint's name with the HINT in it.
    "SDL_HINT_FORCE_RAISEWINDOW": "1",
    # Windows: per-monitor DPI aware (v2), declared by SDL as its video starts, before the
    # first window; SDL 2 declares none unless asked, and Windows would then draw the page
    # at 2560x1440 on a 4K monitor at 150 % and stretch it. DPI_SCALING 0 keeps SDL's
    # coordinates in pixels, the same physical pixels as user32's (kiosk/platform/dpi.py).
    "SDL_WINDOWS_DPI_AWARENESS": "permonitorv2",
    "SDL_WINDOWS_DPI_SCALING": "0",
}


class Cover(NamedTuple):
    """The first black windows: the page's, one over each other monitor, and when."""

    window: pygame.Window
    others: list[pygame.Window]
    shown_at: float  # epoch s


def apply_hints() -> None:
    for name, value in SDL_HINTS.items():
        os.environ.setdefault(name, value)


def window_spec(text: str) -> tuple[bool, tuple[int, int]] | None:
    """``full`` or ``WxH`` (the guardian's ``--window``) as (fullscreen, window size);
    None if it is neither."""
    if text == "full":
        return True, (0, 0)
    width, _, height = text.partition("x")
    if all(n.isascii() and n.isdigit() and int(n) >= 1 for n in (width, height)):
        return False, (int(width), int(height))
    return None


def black_window(size: tuple[int, int], position: tuple[int, int]) -> pygame.Window:
    """A borderless, on-top window of plain black, drawn at once."""
    window = pygame.Window(TITLE, size, position=position, borderless=True, always_on_top=True)
    window.get_surface().fill((0, 0, 0))
    window.flip()
    return window


def cover_screen(fullscreen: bool, window_size: tuple[int, int]) -> Cover:
    """Black over every monitor, borderless and on top: the UI's first frame (the boot
    race), made before anything else is loaded. The monitors are the ones SDL found as it
    started, which at this moment are the ones there are; each window is centred on its
    display, which at that display's size covers it exactly. Returns the window of the
    primary display first (SDL counts it first), then the others."""
    apply_hints()
    pygame.display.init()
    if not fullscreen:
        return Cover(black_window(window_size, (0, 0)), [], time.time())
    windows = [black_window(size, (pygame.WINDOWPOS_CENTERED | i, pygame.WINDOWPOS_CENTERED | i))
               for i, size in enumerate(pygame.display.get_desktop_sizes())]
    return Cover(windows[0], windows[1:], time.time())
