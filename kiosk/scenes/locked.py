"""The plain locked screens: the black start-up lock, "系统重启中" and "请联系网管"."""

from __future__ import annotations

import pygame

from kiosk import strings
from kiosk.flow import Page
from kiosk.scenes import draw
from kiosk.scenes.base import Scene

FAILED_FILL = (120, 24, 28)  # a dark red the staff notice from across the room


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


class RebootFailedScene(Scene):
    """Every reboot command failed: locked for good until the staff come (never unlocked)."""

    page = Page.REBOOT_FAILED

    def handle_event(self, event: pygame.event.Event) -> str | None:
        return None

    def draw(self, surface: pygame.Surface, now: float) -> None:
        surface.fill(FAILED_FILL)
        w, h = surface.get_size()
        draw.text(surface, strings.text("reboot_failed"), max(24, h // 10), draw.WHITE,
                  bold=True, center=(w // 2, h // 2 - h // 20))
        draw.text(surface, strings.text("reboot_failed_hint"), max(14, h // 30), draw.WHITE,
                  center=(w // 2, h // 2 + h // 12))
        draw.footer(surface, strings.service_line(self.ctx.service_number))
