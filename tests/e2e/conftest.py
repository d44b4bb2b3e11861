"""What every end-to-end test needs: the X tools, and one virtual 1280×720 screen per module."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from . import xscreen
from .xscreen import VirtualScreen

SCREEN = (1280, 720)


def require_tools() -> None:
    """Skip on a developer machine without the X tools; fail in CI, which must have them."""
    missing = xscreen.missing_tools()
    if missing:
        if os.environ.get("CI"):
            pytest.fail(f"e2e tools missing in CI: {missing}")
        pytest.skip(f"e2e tools missing: {missing} (apt-get install xvfb xdotool x11-apps)")


@pytest.fixture(scope="module")
def screen() -> Iterator[VirtualScreen]:
    """One Xvfb per module; each test stops what it started, leaving a black root."""
    require_tools()
    with VirtualScreen(*SCREEN) as vs:
        yield vs
