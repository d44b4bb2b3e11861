"""Generate the bundled default media shown until the venue server provides its own.

media/background.png is the scan page background (the client draws the QR card in its
centre, so the centre stays clean) and media/standby.mp4 is the looping standby video.
Both are rendered with pygame and the bundled font, deterministically, so regenerating
them gives the same pictures. Run tools/make_fonts.py first.

    .venv/bin/python tools/make_default_media.py
"""

from __future__ import annotations

import math
import os
from pathlib import Path

import cv2
import numpy as np
import pygame

ROOT = Path(__file__).resolve().parent.parent
MEDIA = ROOT / "media"
FONT_BOLD = MEDIA / "fonts" / "NotoSansSC-Bold.otf"
FONT_REGULAR = MEDIA / "fonts" / "NotoSansSC-Regular.otf"

TITLE = "扫码上机"
SUBTITLE = "微信扫一扫 · 即刻开玩"

# Palette: a deep navy top-left that turns teal bottom-right.
NAVY = (8, 20, 46)
TEAL = (0, 86, 96)
WHITE = (255, 255, 255)
ACCENT = (90, 220, 230)

VIDEO_SIZE = (960, 540)
FPS = 25
SECONDS = 8
FRAMES = FPS * SECONDS
SEED = 20240501

Float3 = tuple[float, float, float]


def gradient(width: int, height: int) -> np.ndarray:
    """Return a (height, width, 3) float diagonal navy-to-teal gradient, eased at the ends."""
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    t = (x / width * 0.65 + y / height * 0.35)[..., None]
    t = t * t * (3 - 2 * t)  # smoothstep keeps the corners calm
    return np.array(NAVY, np.float32) * (1 - t) + np.array(TEAL, np.float32) * t


def glow(
    image: np.ndarray, centre: tuple[float, float], radius: float, colour: Float3, strength: float
) -> None:
    """Add a soft round light to `image` in place (separable Gaussian, so it is cheap)."""
    height, width, _ = image.shape
    gx = np.exp(-(((np.arange(width) - centre[0]) / radius) ** 2), dtype=np.float32)
    gy = np.exp(-(((np.arange(height) - centre[1]) / radius) ** 2), dtype=np.float32)
    image += np.outer(gy, gx)[..., None] * (np.array(colour, np.float32) * strength)


def to_surface(image: np.ndarray) -> pygame.Surface:
    """Convert a (height, width, 3) float image to a pygame surface."""
    pixels = np.clip(image, 0, 255).astype(np.uint8)
    return pygame.surfarray.make_surface(pixels.transpose(1, 0, 2))


def text_with_glow(
    font: pygame.font.Font, text: str, colour: tuple[int, int, int]
) -> tuple[pygame.Surface, pygame.Surface]:
    """Render `text` and a blurred halo of it, to lift large text off a busy background."""
    sharp = font.render(text, True, colour)
    pad = font.get_height() // 2
    halo = pygame.Surface((sharp.get_width() + 2 * pad, sharp.get_height() + 2 * pad))
    halo.fill((0, 0, 0))
    halo.blit(font.render(text, True, ACCENT), (pad, pad))
    halo = pygame.transform.gaussian_blur(halo, max(2, pad // 3))
    return sharp, halo


def blit_centred(target: pygame.Surface, source: pygame.Surface, centre_y: int, **kw: int) -> None:
    """Blit `source` horizontally centred on `target` at the given vertical centre."""
    target.blit(source, source.get_rect(center=(target.get_width() // 2, centre_y)), **kw)


def add_halo(target: pygame.Surface, halo: pygame.Surface, centre_y: int, strength: float) -> None:
    """Add `halo` scaled by `strength` (additive blits ignore surface alpha, so scale RGB)."""
    level = round(255 * strength)
    dimmed = halo.copy()
    dimmed.fill((level, level, level), special_flags=pygame.BLEND_RGB_MULT)
    blit_centred(target, dimmed, centre_y, special_flags=pygame.BLEND_RGB_ADD)


def make_background(path: Path) -> None:
    """Write the 1920x1080 scan page background: quiet edges, an empty centre for the QR card."""
    width, height = 1920, 1080
    image = gradient(width, height)
    glow(image, (-80, -120), 620, (40, 140, 200), 0.55)
    glow(image, (width + 120, height + 80), 700, (30, 200, 190), 0.45)
    glow(image, (width * 0.86, height * 0.1), 300, (60, 110, 220), 0.25)
    glow(image, (width * 0.1, height * 0.92), 260, (40, 180, 200), 0.2)

    # A faint dot grid that fades out well before the QR card in the middle.
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    dx, dy = (x - width / 2) / (width / 2), (y - height / 2) / (height / 2)
    edge = np.clip((np.sqrt(dx * dx * 0.8 + dy * dy * 0.6) - 0.7) / 0.4, 0, 1)
    on_grid = ((x % 48) < 3) & ((y % 48) < 3)
    image += (on_grid * edge * 22)[..., None]

    surface = to_surface(image)
    # Thin concentric arcs in two corners, like a scanner's ripples.
    rings = pygame.Surface((width, height), pygame.SRCALPHA)
    for i in range(6):
        alpha = 34 - i * 5
        pygame.draw.circle(rings, (*ACCENT, alpha), (width - 40, height - 30), 260 + i * 70, 2)
        pygame.draw.circle(rings, (*ACCENT, alpha), (40, 30), 200 + i * 70, 2)
    surface.blit(rings, (0, 0))

    pygame.image.save(surface, path)


class Standby:
    """The standby animation; every motion has a whole number of cycles per loop."""

    def __init__(self) -> None:
        width, height = VIDEO_SIZE
        self.base = gradient(width, height)
        rng = np.random.default_rng(SEED)
        # Soft lights: centre, path amplitude, cycles per loop (x, y), phase, size, colour.
        self.lights = [
            ((0.22, 0.30), (0.12, 0.10), (1, 2), 0.0, 0.30, (40, 150, 230)),
            ((0.78, 0.68), (0.14, 0.12), (1, 1), 1.7, 0.34, (20, 210, 200)),
            ((0.55, 0.18), (0.20, 0.08), (2, 1), 3.1, 0.22, (110, 120, 240)),
            ((0.30, 0.82), (0.16, 0.08), (1, 2), 4.4, 0.26, (30, 190, 220)),
            ((0.90, 0.25), (0.06, 0.14), (1, 1), 5.5, 0.20, (70, 170, 255)),
        ]
        # Motes rising through the frame; each crosses it a whole number of times per loop.
        count = 60
        self.motes_x = rng.uniform(0, width, count)
        self.motes_y = rng.uniform(0, height, count)
        self.motes_laps = rng.integers(1, 3, count)
        self.motes_sway = rng.uniform(4, 14, count)
        self.motes_phase = rng.uniform(0, 2 * math.pi, count)
        self.motes_size = rng.integers(1, 3, count)

        self.title, self.halo = text_with_glow(pygame.font.Font(FONT_BOLD, 112), TITLE, WHITE)
        self.subtitle = pygame.font.Font(FONT_REGULAR, 34).render(SUBTITLE, True, (215, 240, 245))
        self.beam = pygame.Surface((76, 24), pygame.SRCALPHA)
        for row in range(24):
            alpha = int(160 * math.exp(-(((row - 12) / 5) ** 2)))
            pygame.draw.line(self.beam, (*ACCENT, alpha), (0, row), (75, row))

    def frame(self, index: int) -> pygame.Surface:
        """Render frame `index`; frame FRAMES would equal frame 0, so the loop is seamless."""
        width, height = VIDEO_SIZE
        phase = 2 * math.pi * index / FRAMES
        image = self.base.copy()
        for (cx, cy), (ax, ay), (kx, ky), p, size, colour in self.lights:
            x = (cx + ax * math.sin(kx * phase + p)) * width
            y = (cy + ay * math.sin(ky * phase + p * 1.3)) * height
            radius = size * height * (1 + 0.12 * math.sin(phase + p))
            glow(image, (x, y), radius, colour, 0.42)
        surface = to_surface(image)

        motes = pygame.Surface(VIDEO_SIZE, pygame.SRCALPHA)
        rise = (self.motes_y - self.motes_laps * (height + 20) * index / FRAMES) % (height + 20)
        sway = self.motes_sway * np.sin(phase * self.motes_laps + self.motes_phase)
        twinkle = 0.5 + 0.5 * np.sin(phase * 2 * self.motes_laps + self.motes_phase)
        for x, y, a, r in zip(
            self.motes_x + sway, rise - 10, twinkle, self.motes_size, strict=True
        ):
            pygame.draw.circle(motes, (*ACCENT, int(40 + 110 * a)), (x, y), int(r))
        surface.blit(motes, (0, 0))

        self.draw_scan_icon(surface, phase)
        add_halo(surface, self.halo, 290, 0.5 + 0.25 * math.sin(phase * 2))
        blit_centred(surface, self.title, 290)
        blit_centred(surface, self.subtitle, 386)
        return surface

    def draw_scan_icon(self, surface: pygame.Surface, phase: float) -> None:
        """Draw a scanner frame above the title with a sweeping line, hinting 'scan me'."""
        size, corner, cx, cy = 96, 26, surface.get_width() // 2, 150
        left, top = cx - size // 2, cy - size // 2
        right, bottom = left + size, top + size
        for x, y, sx, sy in (
            (left, top, 1, 1),
            (right, top, -1, 1),
            (left, bottom, 1, -1),
            (right, bottom, -1, -1),
        ):
            pygame.draw.line(surface, WHITE, (x, y), (x + sx * corner, y), 4)
            pygame.draw.line(surface, WHITE, (x, y), (x, y + sy * corner), 4)
        scan_y = cy + int((size / 2 - 14) * math.sin(phase * 2))
        surface.blit(self.beam, self.beam.get_rect(center=(cx, scan_y)))


def open_writer(path: Path) -> tuple[cv2.VideoWriter, str]:
    """Open an MP4 writer, preferring H.264 where this OpenCV build can encode it."""
    for fourcc in ("avc1", "mp4v"):
        writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*fourcc), FPS, VIDEO_SIZE)
        if writer.isOpened():
            return writer, fourcc
        print(f"{fourcc} is not available in this OpenCV build")
    raise RuntimeError("OpenCV can write neither avc1 nor mp4v")


def make_standby(path: Path) -> str:
    """Write the standby video and return the FourCC it was encoded with."""
    standby = Standby()
    writer, fourcc = open_writer(path)
    try:
        for index in range(FRAMES):
            rgb = pygame.surfarray.array3d(standby.frame(index)).transpose(1, 0, 2)
            writer.write(np.ascontiguousarray(rgb[..., ::-1]))
    finally:
        writer.release()
    return fourcc


def main() -> None:
    """Render both files into media/."""
    os.environ.setdefault("SDL_VIDEODRIVER", "dummy")  # headless: no window, works in CI
    pygame.display.init()
    pygame.font.init()
    for font in (FONT_BOLD, FONT_REGULAR):
        if not font.exists():
            raise SystemExit(f"{font.relative_to(ROOT)} is missing: run tools/make_fonts.py")
    background = MEDIA / "background.png"
    make_background(background)
    print(f"{background.relative_to(ROOT)}: {background.stat().st_size / 1e6:.2f} MB")
    standby = MEDIA / "standby.mp4"
    fourcc = make_standby(standby)
    print(f"{standby.relative_to(ROOT)} ({fourcc}): {standby.stat().st_size / 1e6:.2f} MB")


if __name__ == "__main__":
    main()
