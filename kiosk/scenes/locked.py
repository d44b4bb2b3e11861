"""The plain locked screens: the black start-up lock and "系统重启中"."""

from __future__ import annotations

import pygame

from kiosk import strings
from kiosk.flow import Page
from kiosk.scenes import draw
from kiosk.scenes.base import Scene


class BootScene(Scene):
    """Black while start-up routing asks the server where to go (DESIGN.md §2)."""

    page = Page.BOOT

    def handle_event(self, event: pygame.event.Event) -> str | None:
        return None

    def draw(self, surface: pygame.Surface, now: float) -> None:
        surface.fill(draw.BLACK)
        w, h = surface.get_size()
        draw.text(surface, strings.text("connecting"), max(14, h // 40), draw.MUTED,
                  midbottom=(w // 2, h - h // 20))


class RebootingScene(Scene):
    """Locked while the machine goes down; nothing on it can be used."""

    page = Page.REBOOTING

    def handle_event(self, event: pygame.event.Event) -> str | None:
        return None

    def draw(self, surface: pygame.Surface, now: float) -> None:
        surface.fill((10, 14, 24))
        w, h = surface.get_size()
        draw.text(surface, strings.text("rebooting"), max(24, h // 10), draw.WHITE, bold=True,
                  center=(w // 2, h // 2 - h // 20))
        draw.text(surface, strings.text("rebooting_hint"), max(14, h // 30), draw.MUTED,
                  center=(w // 2, h // 2 + h // 12))
