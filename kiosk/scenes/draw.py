"""Drawing helpers shared by the scenes: fonts with a CJK fallback, text, QR, buttons."""

from __future__ import annotations

import logging
from functools import lru_cache
from pathlib import Path

import pygame
import pygame.freetype
import qrcode

log = logging.getLogger(__name__)

FONT_DIR = Path(__file__).resolve().parent.parent.parent / "media" / "fonts"
BUNDLED = {False: FONT_DIR / "NotoSansSC-Regular.otf", True: FONT_DIR / "NotoSansSC-Bold.otf"}
# Tried, in order, for characters the bundled subset lacks.
SYSTEM_CJK = ("notosanscjksc", "notosanscjk", "microsoftyahei", "microsoftyaheiui", "simhei",
              "dengxian", "wenquanyimicrohei", "wqymicrohei", "sourcehansanssc", "simsun")

WHITE = (255, 255, 255)
BLACK = (0, 0, 0)
INK = (24, 32, 48)
MUTED = (120, 130, 150)
ACCENT = (0, 168, 120)
DANGER = (214, 64, 69)
PANEL = (250, 251, 253)
QR_SHARE = 0.46  # of the screen height: about 14 cm on a 24" screen, fine from half a metre
CARD_TOP_SHARE = 1 / 7  # room above the QR card for a page title


@lru_cache(maxsize=64)
def font(size: int, bold: bool = False) -> pygame.font.Font:
    """The bundled Simplified Chinese face at ``size`` pixels."""
    try:
        return pygame.font.Font(BUNDLED[bold], size)
    except (OSError, pygame.error) as exc:
        log.error("bundled font %s unusable (%s); using the system font", BUNDLED[bold], exc)
        return fallback_font(size, bold)


@lru_cache(maxsize=16)
def fallback_font(size: int, bold: bool = False) -> pygame.font.Font:
    """A system CJK font for characters outside the bundled subset."""
    path = pygame.font.match_font(list(SYSTEM_CJK), bold=bold)
    return pygame.font.Font(path, size) if path else pygame.font.Font(None, size)


@lru_cache(maxsize=2)
def _glyph_probe(bold: bool) -> pygame.freetype.Font | None:
    try:
        pygame.freetype.init()
        return pygame.freetype.Font(BUNDLED[bold], 16)
    except (OSError, pygame.error):
        return None


def covers(text: str, bold: bool = False) -> bool:
    """Whether the bundled face has a glyph for every character (no tofu boxes).

    Asked through freetype: ``pygame.font.Font.metrics`` reports the missing-glyph box
    instead of None (pygame-ce 2.5), so it cannot tell.
    """
    probe = _glyph_probe(bold)
    return probe is not None and all(m is not None for m in probe.get_metrics(text))


@lru_cache(maxsize=128)
def render(text: str, size: int, color: tuple, bold: bool = False) -> pygame.Surface:
    """``text`` as an image, kept: pages draw the same labels every second (the widget
    beside a game most of all), and only a few change. Callers blit it, never draw on it."""
    face = font(size, bold) if covers(text, bold) else fallback_font(size, bold)
    return face.render(text, True, color)


def text(surface: pygame.Surface, value: str, size: int, color: tuple, *, bold: bool = False,
         **anchor: tuple[int, int] | int) -> pygame.Rect:
    """Draw ``value`` anchored like a Rect attribute (``center=``, ``topleft=``, ``midtop=`` …)."""
    image = render(value, size, color, bold)
    rect = image.get_rect(**anchor)
    surface.blit(image, rect)
    return rect


def forget() -> None:
    """Drop every kept font, text image and QR code: in C the widget needs a few labels
    at its own sizes, and the full-screen pages' (titles at a tenth of the screen's
    height, QR codes half of it) make themselves again when drawn next."""
    for kept in (render, qr_surface, font, fallback_font):
        kept.cache_clear()


def fit_size(value: str, size: int, width: int, bold: bool = False) -> int:
    """The largest size up to ``size`` at which ``value`` fits in ``width`` pixels."""
    while size > 10 and font(size, bold).size(value)[0] > width:
        size -= 2
    return size


@lru_cache(maxsize=8)
def qr_surface(data: str, side: int) -> pygame.Surface:
    """A scannable QR code of ``data``, ``side`` pixels square, with its quiet zone."""
    code = qrcode.QRCode(border=4, error_correction=qrcode.constants.ERROR_CORRECT_M)
    code.add_data(data)
    code.make(fit=True)
    matrix = code.get_matrix()
    cell = max(1, side // len(matrix))
    image = pygame.Surface((cell * len(matrix), cell * len(matrix)))
    image.fill(WHITE)
    for y, row in enumerate(matrix):
        for x, dark in enumerate(row):
            if dark:
                image.fill(BLACK, (x * cell, y * cell, cell, cell))
    return image


def button(surface: pygame.Surface, rect: pygame.Rect, label: str, *, fill: tuple,
           color: tuple = WHITE, size: int | None = None) -> pygame.Rect:
    pygame.draw.rect(surface, fill, rect, border_radius=max(4, rect.height // 5))
    text(surface, label, size or max(12, rect.height * 2 // 5), color, bold=True,
         center=rect.center)
    return rect


def panel(surface: pygame.Surface, rect: pygame.Rect, fill: tuple = PANEL) -> pygame.Rect:
    shadow = pygame.Surface(rect.inflate(16, 16).size, pygame.SRCALPHA)
    pygame.draw.rect(shadow, (0, 0, 0, 70), shadow.get_rect(), border_radius=28)
    surface.blit(shadow, rect.inflate(16, 16).move(0, 6))
    pygame.draw.rect(surface, fill, rect, border_radius=22)
    return rect


def cover(image: pygame.Surface, size: tuple[int, int]) -> pygame.Surface:
    """``image`` scaled to fill ``size`` with its aspect kept (cropped, never stretched)."""
    iw, ih = image.get_size()
    scale = max(size[0] / iw, size[1] / ih)
    scaled = pygame.transform.smoothscale(image, (max(1, round(iw * scale)),
                                                  max(1, round(ih * scale))))
    out = pygame.Surface(size)
    out.blit(scaled, scaled.get_rect(center=(size[0] // 2, size[1] // 2)))
    return out


def qr_card(surface: pygame.Surface, payload: str, lines: list[str]) -> None:
    """A white card centred horizontally: the QR code, then a few lines of text under it."""
    w, h = surface.get_size()
    side = max(200, int(h * QR_SHARE))
    qr = qr_surface(payload, side)
    line_px = max(16, h // 30)
    pad = line_px
    card = pygame.Rect(0, 0, qr.get_width() + 2 * pad,
                       qr.get_height() + pad * 2 + len(lines) * int(line_px * 1.5))
    card.midtop = (w // 2, int(h * CARD_TOP_SHARE))
    panel(surface, card)
    surface.blit(qr, qr.get_rect(midtop=(card.centerx, card.top + pad)))
    y = card.top + pad + qr.get_height() + pad // 2
    for line in lines:
        size = fit_size(line, line_px, card.width - pad)
        text(surface, line, size, INK, midtop=(card.centerx, y))
        y += int(line_px * 1.5)


def footer(surface: pygame.Surface, line: str) -> None:
    """The service number line at the bottom of a full-screen page."""
    w, h = surface.get_size()
    text(surface, line, max(18, h // 26), WHITE, bold=True, midbottom=(w // 2, h - h // 30))
