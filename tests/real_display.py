"""SDL's own video driver (windows under Wine) for one test, where the rest of the suite runs
on the dummy driver; the driver the suite had is put back after."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pygame
import pytest


@pytest.fixture
def real_video() -> Iterator[None]:
    """pygame's display on the platform's driver (real window handles) for the test."""
    before = os.environ.pop("SDL_VIDEODRIVER", None)
    pygame.display.quit()  # an earlier test may have started it on the dummy driver
    pygame.display.init()
    try:
        yield
    finally:
        pygame.display.quit()
        if before is not None:
            os.environ["SDL_VIDEODRIVER"] = before
