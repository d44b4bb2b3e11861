"""The session widget sits in the configured corner, fully on screen, clear of the edges."""

from __future__ import annotations

import pytest

from kiosk.window import widget_position

WIDGET = (320, 180)
MARGIN = 16


@pytest.mark.parametrize("screen", [(1920, 1080), (1280, 720)], ids=["1080p", "720p"])
@pytest.mark.parametrize("corner", ["top-left", "top-right", "bottom-left", "bottom-right"])
def test_widget_sits_in_its_corner_16px_from_the_nearest_edges(corner, screen):
    x, y = widget_position(corner, screen, WIDGET)
    right, bottom = x + WIDGET[0], y + WIDGET[1]

    assert x >= 0 and y >= 0 and right <= screen[0] and bottom <= screen[1]
    if corner.endswith("left"):
        assert x == MARGIN
    else:
        assert screen[0] - right == MARGIN
    if corner.startswith("top"):
        assert y == MARGIN
    else:
        assert screen[1] - bottom == MARGIN


def test_widget_defaults_to_the_320_by_180_size():
    assert widget_position("bottom-right", (1920, 1080)) == (1920 - 320 - 16, 1080 - 180 - 16)
