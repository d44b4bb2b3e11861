"""The locked "未登记的机器" page: ``client.id: auto`` found no id for this PC."""

from __future__ import annotations

import pygame

from kiosk import strings
from kiosk.flow import Page
from kiosk.identity import Unregistered
from kiosk.scenes import draw
from kiosk.scenes.base import Context, Scene

BACKGROUND = (40, 24, 16)  # dark amber: not a customer page, not the reboot page
WARNING = (255, 196, 0)


class UnregisteredScene(Scene):
    """Shows the hostname and MACs an operator needs to register the PC; nothing unlocks it."""

    page = Page.BOOT  # the flow never starts on an unregistered PC: it stays on its lock
    fps = 5

    def __init__(self, ctx: Context, machine: Unregistered) -> None:
        super().__init__(ctx)
        self.machine = machine

    def handle_event(self, event: pygame.event.Event) -> str | None:
        return None

    def lines(self) -> list[str]:
        """The operator's facts, in the order they are typed into the mapping file."""
        found = self.machine.machine
        return [strings.text("unregistered_host", hostname=found.hostname or "?"),
                strings.text("unregistered_mac", macs=", ".join(found.macs) or "-"),
                strings.text("unregistered_fix", file=self.machine.file_name,
                             line=self.machine.line)]

    def draw(self, surface: pygame.Surface, now: float) -> None:
        surface.fill(BACKGROUND)
        w, h = surface.get_size()
        draw.text(surface, strings.text("unregistered"), max(24, h // 10), WARNING, bold=True,
                  center=(w // 2, h // 4))
        draw.text(surface, strings.text("unregistered_hint"), max(14, h // 30), draw.WHITE,
                  center=(w // 2, h // 4 + h // 9))
        y = h // 2
        for line in self.lines():
            size = draw.fit_size(line, max(14, h // 32), w - w // 10)
            draw.text(surface, line, size, draw.WHITE, midtop=(w // 2, y))
            y += int(max(14, h // 32) * 1.8)
