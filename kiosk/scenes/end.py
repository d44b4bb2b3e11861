"""D end: confirm the end of the session, then the pay QR and the countdown (rule 6)."""

from __future__ import annotations

import math

import pygame

from kiosk import strings
from kiosk.flow import Page
from kiosk.scenes import draw
from kiosk.scenes.base import ENTER_KEYS, TickingScene

BACKGROUND = (14, 20, 34)


class EndScene(TickingScene):
    """Before confirmation: the summary and two buttons; after it: pay and wait."""

    page = Page.END

    def __init__(self, ctx) -> None:
        super().__init__(ctx)
        self.confirm_rect = pygame.Rect(0, 0, 0, 0)
        self.cancel_rect = pygame.Rect(0, 0, 0, 0)

    def handle_event(self, event: pygame.event.Event) -> str | None:
        if event.type == pygame.KEYDOWN:
            if event.key in ENTER_KEYS:
                return "confirm"
            if event.key == pygame.K_ESCAPE:
                return "cancel"
        if event.type == pygame.MOUSEBUTTONDOWN and event.button == 1:
            if self.confirm_rect.collidepoint(event.pos):
                return "confirm"
            if self.cancel_rect.collidepoint(event.pos):
                return "cancel"
        return None

    def draw(self, surface: pygame.Surface, now: float) -> None:
        surface.fill(BACKGROUND)
        if self.ctx.flow.confirmed:
            self._draw_pay(surface, now)
        else:
            self._draw_confirm(surface, now)

    def _summary(self, key: str, now: float) -> str:
        meter = self.ctx.flow.meter
        return strings.summary(key, meter.elapsed(now), meter.cost)

    def _draw_confirm(self, surface: pygame.Surface, now: float) -> None:
        w, h = surface.get_size()
        card = pygame.Rect(0, 0, min(w - 40, int(h * 1.1)), h // 2)
        card.center = (w // 2, h // 2)
        draw.panel(surface, card)
        draw.text(surface, strings.text("end_title"), h // 16, draw.INK, bold=True,
                  midtop=(card.centerx, card.top + h // 18))
        draw.text(surface, self._summary("end_summary", now), h // 28, draw.INK,
                  midtop=(card.centerx, card.top + h // 18 + h // 10))
        bw, bh = card.width // 2 - h // 14, h // 11
        self.confirm_rect = pygame.Rect(card.left + h // 28, card.bottom - bh - h // 28, bw, bh)
        self.cancel_rect = pygame.Rect(card.right - h // 28 - bw, self.confirm_rect.top, bw, bh)
        draw.button(surface, self.confirm_rect, strings.text("end_confirm"), fill=draw.DANGER)
        draw.button(surface, self.cancel_rect, strings.text("end_cancel"), fill=draw.ACCENT)

    def _draw_pay(self, surface: pygame.Surface, now: float) -> None:
        w, h = surface.get_size()
        flow = self.ctx.flow
        draw.text(surface, strings.text("pay_title"), h // 18, draw.WHITE, bold=True,
                  midtop=(w // 2, h // 40))
        status = strings.text("end_wait") if flow.offline_pending else \
            self._summary("unpaid_summary", now)
        service = strings.service_line(self.ctx.service_number)
        draw.qr_card(surface, self.ctx.pay_qr, [status, service])
        left = max(0, math.ceil((flow.reboot_at or now) - now))
        draw.text(surface, strings.text("pay_countdown", seconds=left), h // 22, draw.WHITE,
                  bold=True, midbottom=(w // 2, h - h // 40))
