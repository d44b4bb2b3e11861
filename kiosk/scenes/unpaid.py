"""E unpaid: the previous session ended unpaid; the PC stays locked until it is paid."""

from __future__ import annotations

import pygame

from kiosk import strings
from kiosk.flow import Page
from kiosk.scenes import draw
from kiosk.scenes.base import Scene

BACKGROUND = (40, 16, 20)


class UnpaidScene(Scene):
    """Amount, duration, the pay QR and the service number (rule 7 reboots once paid)."""

    page = Page.UNPAID

    def __init__(self, ctx) -> None:
        super().__init__(ctx)
        self._figures: tuple[float, int] | None = None

    def handle_event(self, event: pygame.event.Event) -> str | None:
        return None

    def update(self, now: float) -> bool:
        """Redrawn only when an answer brings new figures."""
        figures = (self.ctx.flow.meter.cost, int(self.ctx.flow.meter.elapsed(now)))
        changed = figures != self._figures
        self._figures = figures
        return super().update(now) or changed

    def draw(self, surface: pygame.Surface, now: float) -> None:
        w, h = surface.get_size()
        surface.fill(BACKGROUND)
        meter = self.ctx.flow.meter
        draw.text(surface, strings.text("unpaid_title"), h // 16, draw.WHITE, bold=True,
                  midtop=(w // 2, h // 40))
        summary = strings.summary("unpaid_summary", meter.elapsed(now), meter.cost)
        draw.qr_card(surface, self.ctx.pay_qr, [summary, strings.text("unpaid_hint")])
        draw.footer(surface, strings.service_line(self.ctx.service_number))
