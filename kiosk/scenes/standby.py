"""A standby: the looping video, full screen, with a slim bar for the service number.

On a screen of another size than the clip's, the frames go through SDL's renderer when
there is one on a graphics chip (kiosk/present.py), else OpenCV scales them on the CPU."""

from __future__ import annotations

import logging

import pygame

from kiosk import strings
from kiosk.flow import Page
from kiosk.present import SURFACE, GpuScreen, needs_scaling, open_gpu, usable
from kiosk.scenes import draw
from kiosk.scenes.base import Scene
from kiosk.video import Frame, VideoPlayer, convert_into

log = logging.getLogger(__name__)

BAR_SHARE = 0.08  # the video keeps at least 80% of the screen; the bar takes 8%
STATS_EVERY_S = 5.0


class StandbyScene(Scene):
    """Plays the standby video at its own frame rate, aspect kept (letterbox)."""

    page = Page.STANDBY

    def __init__(self, ctx) -> None:
        super().__init__(ctx)
        self.player: VideoPlayer | None = None
        self.active = False
        self._screen: tuple[int, int] = (0, 0)
        self._bar: pygame.Surface | None = None
        self._frame: Frame | None = None  # due now, not yet on screen
        self._shown_rect: tuple[int, int, int, int] | None = None  # where the video is drawn
        self._bundled_fallback = False
        self._source: object = None  # ctx.video when the player was started
        self._stats_at = 0.0
        self._cpu_scaling = False  # no renderer for this screen: OpenCV scales the frames

    @property
    def fps(self) -> float:  # type: ignore[override]
        # The clip's own rate: each wake-up shows the frame due within half a period.
        return self.player.fps if self.player else 10

    def wake_at(self, now: float) -> float | None:
        return self.player.wake_at(now) if self.player else None

    def enter(self, now: float) -> None:
        super().enter(now)
        self.active = True
        self._cpu_scaling = False  # a renderer is looked for again on each showing
        self._stats_at = now + STATS_EVERY_S
        self._start_player()

    def leave(self) -> None:
        self.active = False
        self._stop_player()

    def release(self) -> None:
        self._bar = None

    def media_changed(self) -> None:
        """A newly downloaded video replaces the playing one at once."""
        super().media_changed()
        self._bar = None  # drawn again over the next frame
        if self.active and self._source != self.ctx.video:
            self._bundled_fallback = False
            self._start_player()

    def _start_player(self) -> None:
        """(Re)start decoding; only while A is shown, and once the screen size is known."""
        self._stop_player()
        self._source = self.ctx.video
        if self.active and self.ctx.video is not None and self._screen != (0, 0):
            self.player = VideoPlayer(self.ctx.video, self._screen, hw_decode=self.ctx.hw_decode,
                                      scale=not self._renderer_allowed())

    def _renderer_allowed(self) -> bool:
        """Whether frames are left at the clip's size, for a renderer to scale."""
        return (self.ctx.window is not None and not self._cpu_scaling
                and bool(usable(self.ctx.renderer)))

    def _stop_player(self) -> None:
        if self.player is not None:
            self._report(self.player)
            self.player.stop()
            self.player = None
        self._frame = None
        self._shown_rect = None
        self._close_gpu()

    def _close_gpu(self) -> None:
        """The renderer and its textures go: the window's surface is made again when the
        next page (or the title) draws."""
        if self.gpu is not None:
            self.gpu.close()
            self.gpu = None

    def drop_gpu(self) -> None:
        log.error("drawing the standby video through SDL's renderer failed; OpenCV scales it")
        self._scale_on_cpu()

    def _scale_on_cpu(self) -> None:
        self._cpu_scaling = True
        self._start_player()

    def _report(self, player: VideoPlayer) -> None:
        """Frames shown and dropped, to the log and the trace (``make bench`` reads it)."""
        stats = {**player.stats(),
                 "presenter": f"renderer {self.gpu.driver}" if self.gpu else SURFACE}
        log.info("standby video %s: %s", player.path.name, stats)
        if self.ctx.trace is not None:
            self.ctx.trace.video(path=str(player.path), **stats)

    def update(self, now: float) -> bool:
        if self.player is None:
            return super().update(now)
        if self.player.failed.is_set():
            self._fall_back()
            return super().update(now)
        if now >= self._stats_at:
            self._stats_at = now + STATS_EVERY_S
            self._report(self.player)
        self._frame = self.player.take(now)
        if self._frame is None:
            # Until the first frame, the title page is drawn (and redrawn when it changes).
            return self._shown_rect is None and super().update(now)
        self._choose_path(self._frame)
        self.dirty = False
        return True

    def _choose_path(self, frame: Frame) -> None:
        """A frame left at the clip's size that must be scaled: through SDL's renderer,
        made now on the page's window; without one, the player starts again with OpenCV
        scaling (the title shows until its first frame)."""
        assert self.player is not None and self.player.rect is not None
        clip = (frame.pixels.shape[1], frame.pixels.shape[0])
        if self.gpu is not None or not needs_scaling(clip, self.player.rect):
            return
        assert self.ctx.window is not None
        self.gpu = open_gpu(self.ctx.window, self.ctx.renderer)
        if self.gpu is None:
            self._scale_on_cpu()

    def _fall_back(self) -> None:
        """A broken video never leaves a blank standby: play the bundled one instead."""
        from kiosk.media import BUNDLED_VIDEO

        assert self.player is not None
        log.error("standby video %s failed; playing the bundled one", self.player.path)
        self.player.stop()
        self.player = None
        self._shown_rect = None
        self._close_gpu()
        if self.ctx.video != BUNDLED_VIDEO and not self._bundled_fallback:
            self._bundled_fallback = True
            self.player = VideoPlayer(BUNDLED_VIDEO, self._screen, hw_decode=self.ctx.hw_decode,
                                      scale=not self._renderer_allowed())

    def draw(self, surface: pygame.Surface, now: float) -> None:
        size = surface.get_size()
        if size != self._screen:
            self._screen = size
            self._bar = None
            self._start_player()
        if self._bar is None:
            self._bar = self._make_bar(size)
        frame, self._frame = self._frame, None  # its buffer goes back to the decoder
        if frame is None or self.player is None or self.player.rect is None:
            self._shown_rect = None
            surface.fill(draw.BLACK)
            self._draw_title(surface)
        else:
            rect = self.player.rect
            if rect != self._shown_rect and rect[2:] != size:
                surface.fill(draw.BLACK)  # letterbox bars, once: later frames cover the rest
            self._shown_rect = rect
            convert_into(surface, frame.pixels, rect[:2])
        surface.blit(self._bar, (0, size[1] - self._bar.get_height()))

    def draw_gpu(self, gpu: GpuScreen, now: float) -> None:
        """The due frame into the renderer's texture (scaled as it is drawn) and the bar
        over it; a window of a new size starts the player again, through the surface
        until its first frame."""
        size = gpu.size
        if size != self._screen:
            self._screen = size
            self._bar = None
            self._start_player()
            return
        if self._bar is None:
            self._bar = self._make_bar(size)
        frame, self._frame = self._frame, None
        if frame is not None and self.player is not None and self.player.rect is not None:
            gpu.frame(frame.pixels, self.player.rect)
            self._shown_rect = self.player.rect
        gpu.bar(self._bar)

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
