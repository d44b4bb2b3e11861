"""B scan: the background full screen with this client's QR code, big enough to scan."""

from __future__ import annotations

import logging
import math

import pygame

from kiosk import strings
from kiosk.flow import Page
from kiosk.scenes import draw
from kiosk.scenes.base import TickingScene
from kiosk.scenes.standby import service_line

log = logging.getLogger(__name__)

QR_SHARE = 0.46  # of the screen height: about 20 cm on a 24" screen, fine from half a metre
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


def qr_card(surface: pygame.Surface, payload: str, lines: list[str], *, top: int) -> None:
    """A white card centred horizontally: the QR code, then a few lines of text under it."""
    w, h = surface.get_size()
    side = max(200, int(h * QR_SHARE))
    qr = draw.qr_surface(payload, side)
    line_px = max(16, h // 30)
    pad = line_px
    card = pygame.Rect(0, 0, qr.get_width() + 2 * pad,
                       qr.get_height() + pad * 2 + len(lines) * int(line_px * 1.5))
    card.midtop = (w // 2, top)
    draw.panel(surface, card)
    surface.blit(qr, qr.get_rect(midtop=(card.centerx, card.top + pad)))
    y = card.top + pad + qr.get_height() + pad // 2
    for line in lines:
        size = draw.fit_size(line, line_px, card.width - pad)
        draw.text(surface, line, size, draw.INK, midtop=(card.centerx, y))
        y += int(line_px * 1.5)


class ScanScene(TickingScene):
    """Shows the QR that opens the customer's session on their phone."""

    page = Page.SCAN

    def __init__(self, ctx) -> None:
        super().__init__(ctx)
        self._background: pygame.Surface | None = None

    def media_changed(self) -> None:
        super().media_changed()
        self._background = None

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
        qr_card(surface, self.ctx.scan_qr, lines, top=h // 9)
        draw.text(surface, service_line(self.ctx.service_number), max(18, h // 26), draw.WHITE,
                  bold=True, midbottom=(w // 2, h - h // 30))
        left = self.ctx.flow.idle_left(now)
        if left is not None and left <= COUNTDOWN_FROM_S:
            draw.text(surface, strings.text("scan_back", seconds=math.ceil(left)),
                      max(14, h // 40), draw.WHITE, topright=(w - w // 40, h // 40))
