"""What is drawn over any page: the 维护模式 banner and the admin exit's password prompt.

The prompt opens on Ctrl+Alt+Shift+F10 (with ``admin.password_hash`` set), shows the
typed characters as dots, checks the password on a thread (PBKDF2 is slow on
purpose, the loop must not wait for it), and counts wrong tries (``PasswordGate``).
"""

from __future__ import annotations

import logging
import math
import threading

import pygame

from kiosk import strings
from kiosk.admin import PasswordGate, PasswordHash, verify
from kiosk.scenes import draw

log = logging.getLogger(__name__)

CHORD_KEY = pygame.K_F10
CHORD_MODS = (pygame.KMOD_CTRL, pygame.KMOD_ALT, pygame.KMOD_SHIFT)
MAX_LENGTH = 64
BANNER_FILL = (214, 120, 0)
SHADE = (0, 0, 0, 190)


def is_admin_chord(event: pygame.event.Event) -> bool:
    """Ctrl+Alt+Shift+F10 (either side's modifier keys)."""
    return (event.type == pygame.KEYDOWN and event.key == CHORD_KEY
            and all(event.mod & mod for mod in CHORD_MODS))


def maintenance_banner(surface: pygame.Surface) -> None:
    """A small 维护模式 label at the top centre, readable on every page and on the widget."""
    w, h = surface.get_size()
    size = 12 if h <= 200 else max(14, h // 45)
    label = draw.render(strings.text("maintenance"), size, draw.WHITE, bold=True)
    rect = label.get_rect().inflate(size, size // 3)
    rect.midtop = (w // 2, 0 if h <= 200 else size // 2)
    pygame.draw.rect(surface, BANNER_FILL, rect, border_radius=max(3, size // 3))
    surface.blit(label, label.get_rect(center=rect.center))


class AdminExit:
    """The chord, the prompt and the check; ``poll`` turns True once the password was right."""

    def __init__(self, stored: PasswordHash | None, gate: PasswordGate | None = None) -> None:
        self.stored = stored
        self.gate = gate or PasswordGate()
        self.open = False
        self.typed = ""
        self.message: str | None = None
        self.dirty = False
        self._checking: threading.Thread | None = None
        self._result: list[bool] = []
        self._confirmed = False
        self._trying = ""
        self.password: str | None = None  # the right one, once typed: the watchdog checks it

    def handle(self, event: pygame.event.Event, now: float) -> bool:
        """Take the chord, and every key while the prompt is open; True when consumed."""
        if is_admin_chord(event):
            if self.stored is None:
                log.warning("admin exit chord pressed, but admin.password_hash is not set")
            elif not self.open:
                log.info("admin exit prompt opened")
                self.open, self.typed, self.message, self.dirty = True, "", None, True
            return True
        if not self.open or event.type not in (pygame.KEYDOWN, pygame.TEXTINPUT):
            return False
        if event.type == pygame.KEYDOWN and self._checking is None:
            self._key(event, now)
        return True

    def _key(self, event: pygame.event.Event, now: float) -> None:
        self.dirty = True
        if event.key == pygame.K_ESCAPE:
            log.info("admin exit prompt cancelled")
            self.open, self.typed = False, ""
        elif event.key == pygame.K_BACKSPACE:
            self.typed = self.typed[:-1]
        elif event.key in (pygame.K_RETURN, pygame.K_KP_ENTER):
            self._submit(now)
        elif event.unicode and event.unicode.isprintable() and len(self.typed) < MAX_LENGTH:
            self.typed += event.unicode

    def _submit(self, now: float) -> None:
        if self.gate.wait_left(now) > 0 or not self.typed:
            return
        assert self.stored is not None
        password, stored, result = self.typed, self.stored, self._result
        self.typed, self.message, self._trying = "", "admin_checking", password
        self._checking = threading.Thread(target=lambda: result.append(verify(password, stored)),
                                          daemon=True, name="admin-check")
        self._checking.start()

    def poll(self, now: float) -> bool:
        """Collect a finished check; True when the kiosk must exit now."""
        if self._checking is not None and not self._checking.is_alive():
            self._checking = None
            ok = bool(self._result and self._result.pop())
            self.gate.record(ok, now)
            self.dirty = True
            if ok:
                log.warning("admin exit: correct password, the kiosk stops without a reboot")
                self.open, self._confirmed, self.password = False, True, self._trying
            else:
                log.warning("admin exit: wrong password")
                self._trying = ""
                self.message = "admin_wrong"
        if self.open and self.gate.wait_left(now) > 0:
            self.dirty = True  # the countdown ticks
        return self._confirmed

    def changed(self) -> bool:
        dirty, self.dirty = self.dirty, False
        return dirty

    def draw(self, surface: pygame.Surface, now: float) -> None:
        if not self.open:
            return
        w, h = surface.get_size()
        shade = pygame.Surface((w, h), pygame.SRCALPHA)
        shade.fill(SHADE)
        surface.blit(shade, (0, 0))
        small = h <= 200  # the session widget
        card = pygame.Rect(0, 0, w - 16 if small else min(w - 40, 520),
                           h - 16 if small else 240)
        card.center = (w // 2, h // 2)
        draw.panel(surface, card)
        line = max(12, card.height // 8)
        y = card.top + line // 2
        draw.text(surface, strings.text("admin_prompt"), line, draw.INK, bold=True,
                  midtop=(card.centerx, y))
        box = pygame.Rect(card.left + line, y + int(line * 1.8), card.width - 2 * line,
                          int(line * 1.6))
        pygame.draw.rect(surface, draw.WHITE, box, border_radius=6)
        pygame.draw.rect(surface, draw.MUTED, box, width=1, border_radius=6)
        dots = "•" * len(self.typed)
        draw.text(surface, dots, draw.fit_size(dots, line, box.width - 8) if dots else line,
                  draw.INK, midleft=(box.left + 6, box.centery))
        draw.text(surface, self._status(now), max(11, line * 4 // 5), draw.DANGER,
                  midtop=(card.centerx, box.bottom + line // 3))
        draw.text(surface, strings.text("admin_keys"), max(11, line * 4 // 5), draw.MUTED,
                  midbottom=(card.centerx, card.bottom - line // 3))

    def _status(self, now: float) -> str:
        wait = self.gate.wait_left(now)
        if wait > 0:
            return strings.text("admin_wait", seconds=math.ceil(wait))
        return strings.text(self.message) if self.message else " "
