"""C session: the small always-on-top widget with time, cost and the end button."""

from __future__ import annotations

import pygame

from kiosk import strings
from kiosk.flow import Page
from kiosk.scenes import draw
from kiosk.scenes.base import ENTER_KEYS, TickingScene

BACKGROUND = (20, 28, 44)


class SessionScene(TickingScene):
    """Elapsed time ticking every second, cost, rate, service number, 结束上机."""

    page = Page.SESSION
    widget = True
    # Beside the customer's game: two wake-ups a second, one of them on the second
    # (TickingScene.wake_at), so the time ticks evenly. Once the pointer is over the
    # widget (the customer heading for 结束上机), ten, so a click is answered at once.
    IDLE_FPS = 2
    HOVER_FPS = 10

    def __init__(self, ctx) -> None:
        super().__init__(ctx)
        self.end_rect = pygame.Rect(0, 0, 0, 0)
        self.collapse_rect = pygame.Rect(0, 0, 0, 0)
        self.fps = self.IDLE_FPS

    def enter(self, now: float) -> None:
        super().enter(now)
        self.fps = self.IDLE_FPS  # the pointer is in the game when a session starts

    def handle_event(self, event: pygame.event.Event) -> str | None:
        """"end" (结束上机 or Enter), "collapse" (the small control), "grab" (a press anywhere
        else: the customer may be dragging the widget, or clicking the pill to expand it)."""
        if event.type in (pygame.WINDOWENTER, pygame.WINDOWLEAVE):
            self.fps = self.HOVER_FPS if event.type == pygame.WINDOWENTER else self.IDLE_FPS
            return None
        if event.type == pygame.KEYDOWN and event.key in ENTER_KEYS:
            return "end"
        # A touch arrives as a synthesised left click too (SDL's default), so clicks cover it.
        if event.type == pygame.MOUSEBUTTONDOWN and event.button == 1:
            if not self.ctx.widget_collapsed:
                if self.end_rect.collidepoint(event.pos):
                    return "end"
                if self.collapse_rect.collidepoint(event.pos):
                    return "collapse"
            return "grab"
        return None

    def draw(self, surface: pygame.Surface, now: float) -> None:
        if self.ctx.widget_collapsed:
            self._draw_pill(surface, now)
        else:
            self._draw_widget(surface, now)

    def _draw_pill(self, surface: pygame.Surface, now: float) -> None:
        """The elapsed time and a mark that says a click opens the widget again."""
        w, h = surface.get_size()
        surface.fill(BACKGROUND)
        pygame.draw.rect(surface, draw.ACCENT, (0, 0, 4, h))
        draw.text(surface, strings.duration(self.ctx.flow.meter.elapsed(now)), h * 3 // 5,
                  draw.WHITE, bold=True, midleft=(14, h // 2))
        x, y = w - 18, h // 2  # a chevron pointing down: there is more below
        pygame.draw.lines(surface, draw.MUTED, False, [(x - 6, y - 3), (x, y + 3), (x + 6, y - 3)],
                          2)

    def _draw_widget(self, surface: pygame.Surface, now: float) -> None:
        flow = self.ctx.flow
        w, h = surface.get_size()
        surface.fill(BACKGROUND)
        pygame.draw.rect(surface, draw.ACCENT, (0, 0, w, 4))
        pad = 14
        draw.text(surface, strings.text("elapsed"), 15, draw.MUTED, topleft=(pad, 12))
        draw.text(surface, strings.duration(flow.meter.elapsed(now)), 40, draw.WHITE, bold=True,
                  topleft=(pad, 30))
        draw.text(surface, strings.text("cost"), 15, draw.MUTED, topright=(w - pad, 12))
        draw.text(surface, strings.money(flow.meter.cost), 26, draw.ACCENT, bold=True,
                  topright=(w - pad, 34))
        rate = strings.text("rate", rate=f"{flow.meter.charging:g}")
        draw.text(surface, rate, 15, draw.MUTED, topright=(w - pad, 70))
        notice = flow.notice_at(now)
        if notice:
            line, color = strings.text(notice), draw.DANGER
        else:
            line, color = strings.service_line(self.ctx.service_number), draw.MUTED
        draw.text(surface, line, draw.fit_size(line, 14, w - 2 * pad), color,
                  topleft=(pad, 98))
        control = 40  # a finger's width: the control that collapses the widget to the pill
        self.end_rect = pygame.Rect(pad, h - 52, w - 2 * pad - control - 8, 40)
        draw.button(surface, self.end_rect, strings.text("end_button"), fill=draw.DANGER, size=18)
        self.collapse_rect = pygame.Rect(w - pad - control, h - 52, control, 40)
        pygame.draw.rect(surface, (44, 56, 80), self.collapse_rect, border_radius=8)
        cx, cy = self.collapse_rect.center  # a chevron pointing up: fold it away
        pygame.draw.lines(surface, draw.WHITE, False, [(cx - 8, cy + 4), (cx, cy - 4),
                                                       (cx + 8, cy + 4)], 3)
