"""What every page shares: the hooks the app calls and the facts a page may show."""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import pygame

from kiosk.flow import Flow, Page
from kiosk.logs import Trace
from kiosk.present import GpuScreen

ENTER_KEYS = (pygame.K_RETURN, pygame.K_KP_ENTER)


@dataclass
class Context:
    """Read-only facts for drawing; the app updates them, scenes only read them."""

    flow: Flow
    client_id: str
    scan_qr: str
    pay_qr: str
    service_number: str | None = None
    background: Path | None = None
    video: Path | None = None
    debug: bool = False
    hw_decode: bool = False  # media.hw_decode: try the GPU for the standby video
    renderer: str = "auto"  # media.renderer: how the video reaches another screen size
    window: pygame.Window | None = None  # the page's window (SDL's renderer is made on it)
    trace: Trace | None = None
    widget_collapsed: bool = False  # C shows the slim pill (the window's place says so)


class Scene:
    """One page. It draws and reports user intent; it never decides where the flow goes.

    Intents returned by ``handle_event``: "input" (any activity), "end", "confirm",
    "cancel". ``update`` says whether the page must be drawn again.
    """

    page: Page
    widget = False  # C is the small widget; every other page locks the screen
    # How often the loop wakes on this page to read input and the clock; a worker's
    # answer wakes it at once (kiosk/pace.py), whatever the rate.
    fps = 10
    # Set while the page's frames go through SDL's renderer instead of the window's
    # surface (A on a screen of another size than its clip's): the app draws through it.
    gpu: GpuScreen | None = None

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self.dirty = True

    def enter(self, now: float) -> None:
        self.dirty = True

    def wake_at(self, now: float) -> float | None:
        """A moment (``time.monotonic``) the loop must wake for before its next 1/fps
        wake-up, e.g. the next video frame; None: just the page's rate."""
        return None

    def leave(self) -> None:
        """Stop what runs only while the page is shown (a decoder thread)."""

    def release(self) -> None:
        """Drop what the page keeps for its next showing (a scaled background, a bar):
        called on entering C, where the full-screen pages' memory is the game's. The
        page makes it again when it is drawn next."""

    def media_changed(self) -> None:
        self.dirty = True

    def handle_event(self, event: pygame.event.Event) -> str | None:
        if event.type in (pygame.MOUSEBUTTONDOWN, pygame.FINGERDOWN, pygame.KEYDOWN):
            return "input"
        return None

    def update(self, now: float) -> bool:
        dirty, self.dirty = self.dirty, False
        return dirty

    def draw(self, surface: pygame.Surface, now: float) -> None:
        raise NotImplementedError

    def draw_gpu(self, gpu: GpuScreen, now: float) -> None:
        """Draw through ``gpu`` (only pages that set ``gpu``)."""
        raise NotImplementedError

    def drop_gpu(self) -> None:
        """Drawing through the renderer failed: the window's surface from now on."""


class TickingScene(Scene):
    """A page whose text changes once a second (a timer or a countdown)."""

    def __init__(self, ctx: Context) -> None:
        super().__init__(ctx)
        self._second = -1

    def wake_at(self, now: float) -> float | None:
        return math.floor(now) + 1.0  # the text changes on the second: drawn then, not later

    def update(self, now: float) -> bool:
        second = math.floor(now)
        changed = second != self._second
        self._second = second
        return super().update(now) or changed
