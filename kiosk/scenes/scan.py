"""B scan: the background full screen with this client's QR code, big enough to scan."""

from __future__ import annotations

import logging
import math

import pygame

from kiosk import strings
from kiosk.flow import Page
from kiosk.scenes import draw
from kiosk.scenes.base import TickingScene

log = logging.getLogger(__name__)

COUNTDOWN_FROM_S = 10  # the last seconds before rule 1 are shown, so the page never jumps


def load_background(ctx, size: tuple[int, int]) -> pygame.Surface:
    """The server's background scaled to cover the screen; the bundled one if it is broken."""
    from kiosk.media import BUNDLED_BACKGROUND

    for path in (ctx.background, BUNDLED_BACKGROUND):
        if path is None:
            continue
        try:
            return draw.cover(pygame.image.load(str(path)), size)
        except (pygame.error, OSError, ValueError) as exc:
            log.error("background %s cannot be shown (%s)", path, exc)
    plain = pygame.Surface(size)
    plain.fill((16, 40, 72))
    return plain


class ScanScene(TickingScene):
    """Shows the QR that opens the customer's session on their phone."""

    page = Page.SCAN

    def __init__(self, ctx) -> None:
        super().__init__(ctx)
        self._background: pygame.Surface | None = None

    def media_changed(self) -> None:
        super().media_changed()
        self._background = None

    def release(self) -> None:
        self._background = None  # 8 MB at 1080p

    def handle_event(self, event: pygame.event.Event) -> str | None:
        if event.type == pygame.MOUSEMOTION:
            return "input"  # rule 1 counts any activity, motion included
        return super().handle_event(event)

    def draw(self, surface: pygame.Surface, now: float) -> None:
        w, h = surface.get_size()
        if self._background is None or self._background.get_size() != (w, h):
            self._background = load_background(self.ctx, (w, h))
        surface.blit(self._background, (0, 0))
        lines = [strings.text("scan_hint"),
                 strings.text("scan_client", client_id=self.ctx.client_id)]
        draw.qr_card(surface, self.ctx.scan_qr, lines)
        draw.footer(surface, strings.service_line(self.ctx.service_number))
        left = self.ctx.flow.idle_left(now)
        if left is not None and left <= COUNTDOWN_FROM_S:
            draw.text(surface, strings.text("scan_back", seconds=math.ceil(left)),
                      max(14, h // 40), draw.WHITE, topright=(w - w // 40, h // 40))
