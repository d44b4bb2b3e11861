"""Every text the customer sees has real glyphs (never tofu boxes), and QR codes scan."""

from __future__ import annotations

import os
import string

import cv2
import pytest

os.environ.setdefault("SDL_VIDEODRIVER", "dummy")
import pygame  # noqa: E402
import pygame.freetype  # noqa: E402

from kiosk import strings  # noqa: E402
from kiosk.scenes import draw  # noqa: E402

# Sample values for every placeholder; together they hold all ten digits.
SAMPLES = {
    "number": "13738196887",
    "client_id": "370011",
    "seconds": "180",
    "rate": "1.32",
    "amount": "3243.24",
    "duration": strings.duration(3725),
    "cost": strings.money(3243.24),
    "hostname": "PC-12",
    "macs": "52:54:00:12:34:56, 0a:00:27:00:00:0c",
    "file": "clients.csv",
    "line": "PC-12,52:54:00:12:34:56,",
}
OUTSIDE_SUBSET = "𠀋"  # CJK Extension B: not in the bundled GB2312 subset


@pytest.fixture(scope="module", autouse=True)
def fonts():
    pygame.font.init()
    pygame.freetype.init()
    yield


def filled(template: str) -> str:
    fields = {name for _, name, _, _ in string.Formatter().parse(template) if name}
    return template.format(**{name: SAMPLES[name] for name in fields})


def missing_glyphs(path, text: str) -> set[str]:
    """Characters ``path`` has no glyph for (freetype reports those as None)."""
    face = pygame.freetype.Font(str(path), 16)
    return {ch for ch, metrics in zip(text, face.get_metrics(text), strict=True)
            if metrics is None}


@pytest.mark.parametrize("bold", [False, True], ids=["regular", "bold"])
def test_every_customer_text_has_glyphs_in_the_bundled_font(bold):
    assert set("0123456789") <= set("".join(SAMPLES.values()))
    every_text = "".join(filled(value) for value in strings.STRINGS.values())
    # The check itself must be able to see a missing glyph.
    assert missing_glyphs(draw.BUNDLED[bold], OUTSIDE_SUBSET) == {OUTSIDE_SUBSET}

    assert missing_glyphs(draw.BUNDLED[bold], every_text) == set()


def test_bundled_font_covers_every_customer_text():
    for value in strings.STRINGS.values():
        assert draw.covers(filled(value)), value
        assert draw.covers(filled(value), bold=True), value


def test_text_outside_the_bundled_subset_is_drawn_with_a_fallback_font(monkeypatch):
    assert not draw.covers(OUTSIDE_SUBSET)
    used = []
    real = draw.fallback_font
    monkeypatch.setattr(draw, "fallback_font",
                        lambda size, bold=False: used.append(size) or real(size, bold))

    image = draw.render(f"客服{OUTSIDE_SUBSET}", 24, draw.INK)

    assert used == [24]
    assert image.get_width() > 0 and image.get_height() > 0


def test_text_inside_the_subset_is_drawn_with_the_bundled_font(monkeypatch):
    monkeypatch.setattr(draw, "fallback_font", lambda *args: pytest.fail("fallback used"))
    image = draw.render(strings.text("service", number="13738196887"), 24, draw.INK, bold=True)
    assert image.get_width() > 0


@pytest.mark.parametrize("side", [160, 300, 301, 512])
def test_qr_code_decodes_back_to_its_url_and_fits_its_square(side):
    data = "http://47.92.114.240:8080/h5/scan?clientId=370011"
    image = draw.qr_surface(data, side)

    assert image.get_width() == image.get_height() <= side
    assert image.get_width() > side // 2  # whole pixels per module, not tiny
    pixels = pygame.surfarray.array3d(image).transpose(1, 0, 2)
    decoded, _, _ = cv2.QRCodeDetector().detectAndDecode(cv2.cvtColor(pixels, cv2.COLOR_RGB2BGR))
    assert decoded == data


@pytest.mark.parametrize(("seconds", "shown"), [
    (0, "0:00:00"),
    (59, "0:00:59"),
    (3600, "1:00:00"),
    (3725.9, "1:02:05"),
    (-5, "0:00:00"),
    (36000, "10:00:00"),
])
def test_elapsed_time_reads_as_hours_minutes_seconds(seconds, shown):
    assert strings.duration(seconds) == shown


def test_money_shows_yuan_with_two_decimals():
    assert strings.money(3243.24) == "¥3243.24"
    assert strings.money(39.6) == "¥39.60"
    assert strings.money(0) == "¥0.00"
