"""A standby: the looping video, full screen, with a slim bar for the service number."""

from __future__ import annotations

import logging

import pygame

from kiosk import strings
from kiosk.flow import Page
from kiosk.scenes import draw
from kiosk.scenes.base import Scene
from kiosk.video import VideoPlayer

log = logging.getLogger(__name__)

BAR_SHARE = 0.08  # the video keeps at least 80% of the screen; the bar takes 8%


class StandbyScene(Scene):
    """Plays the standby video at its own frame rate, aspect kept (letterbox)."""

    page = Page.STANDBY

    def __init__(self, ctx) -> None:
        super().__init__(ctx)
        self.player: VideoPlayer | None = None
        self.active = False
        self._screen: tuple[int, int] = (0, 0)
        self._bar: pygame.Surface | None = None
        self._frame_due = 0.0
        self._frame: pygame.Surface | None = None
        self._rect = (0, 0, 0, 0)
        self._bundled_fallback = False
        self._source: object = None  # ctx.video when the player was started

    @property
    def fps(self) -> float:  # type: ignore[override]
        return self.player.fps if self.player else 10

    def enter(self, now: float) -> None:
        super().enter(now)
        self.active = True
        self._frame_due = now
        self._start_player()

    def leave(self) -> None:
        self.active = False
        self._stop_player()

    def media_changed(self) -> None:
        """A newly downloaded video replaces the playing one at once."""
        super().media_changed()
        self._bar = None
        if self.active and self._source != self.ctx.video:
            self._bundled_fallback = False
            self._start_player()

    def _start_player(self) -> None:
        """(Re)start decoding; only while A is shown, and once the screen size is known."""
        self._stop_player()
        self._source = self.ctx.video
        if self.active and self.ctx.video is not None and self._screen != (0, 0):
            self.player = VideoPlayer(self.ctx.video, self._screen)

    def _stop_player(self) -> None:
        if self.player is not None:
            self.player.stop()
            self.player = None
        self._frame = None

    def update(self, now: float) -> bool:
        if self.player is None:
            return super().update(now)
        if self.player.failed.is_set():
            self._fall_back()
            return super().update(now)
        step = 1.0 / self.player.fps
        if now + step / 2 < self._frame_due:  # a loop wake-up a little early still shows it
            return super().update(now)
        frame = self.player.frame()
        if frame is None:
            return super().update(now)
        rect = self.player.rect or (0, 0, frame.shape[1], frame.shape[0])
        self._rect = rect
        self._frame = pygame.image.frombuffer(frame.data, (rect[2], rect[3]), "BGR")
        self._frame_due = max(self._frame_due + step, now - step)  # pace by the clip, no bursts
        self.dirty = False
        return True

    def _fall_back(self) -> None:
        """A broken video never leaves a blank standby: play the bundled one instead."""
        from kiosk.media import BUNDLED_VIDEO

        assert self.player is not None
        log.error("standby video %s failed; playing the bundled one", self.player.path)
        self.player.stop()
        self.player = None
        if self.ctx.video != BUNDLED_VIDEO and not self._bundled_fallback:
            self._bundled_fallback = True
            self.player = VideoPlayer(BUNDLED_VIDEO, self._screen)

    def draw(self, surface: pygame.Surface, now: float) -> None:
        size = surface.get_size()
        if size != self._screen:
            self._screen = size
            self._bar = None
            self._start_player()
        if self._frame is None or self._rect[2:] != (size[0], size[1]):
            surface.fill(draw.BLACK)
        if self._frame is not None:
            surface.blit(self._frame, self._rect[:2])
        else:
            self._draw_title(surface)
        if self._bar is None:
            self._bar = self._make_bar(size)
        surface.blit(self._bar, (0, size[1] - self._bar.get_height()))

    def _draw_title(self, surface: pygame.Surface) -> None:
        w, h = surface.get_size()
        draw.text(surface, strings.text("title"), h // 8, draw.WHITE, bold=True,
                  center=(w // 2, h // 2 - h // 16))

    def _make_bar(self, size: tuple[int, int]) -> pygame.Surface:
        w, h = size
        bar = pygame.Surface((w, max(28, int(h * BAR_SHARE))), pygame.SRCALPHA)
        bar.fill((0, 0, 0, 170))
        font_px = max(14, bar.get_height() * 2 // 5)
        middle = bar.get_height() // 2
        draw.text(bar, strings.text("touch_hint"), font_px, draw.WHITE, bold=True,
                  midleft=(w // 40, middle))
        draw.text(bar, strings.service_line(self.ctx.service_number), font_px, draw.WHITE,
                  midright=(w - w // 40, middle))
        return bar
