"""End-to-end: a 1080p standby clip on a 21:9 ultrawide screen (3440×1440), through SDL's
renderer and through the window's surface: letterboxed left and right, scaled as smoothly
as OpenCV's ``INTER_LINEAR`` (which the surface path has always used), the bar over it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import cv2
import numpy as np
import pytest

from kiosk.scenes.standby import BAR_SHARE
from kiosk.video import letterbox

from . import xscreen
from .conftest import require_tools
from .kiosk_run import start_kiosk
from .xscreen import VirtualScreen, wait_until

pytestmark = [pytest.mark.e2e, pytest.mark.linux]  # an Xvfb screen of its own, xwd

ULTRAWIDE = (3440, 1440)
CLIP = (1920, 1080)
EDGE_X = 960  # the clip's dark left half meets its light right half here


@pytest.fixture(scope="module")
def wide_screen() -> Iterator[VirtualScreen]:
    require_tools()
    with VirtualScreen(*ULTRAWIDE) as screen:
        yield screen


@pytest.fixture(scope="module")
def still_clip(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, np.ndarray]:
    """A clip of one still picture with sharp edges, and that picture as OpenCV decodes it
    (the reference is scaled from what the kiosk decodes, not from what was encoded)."""
    image = np.zeros((CLIP[1], CLIP[0], 3), np.uint8)
    image[:, :EDGE_X] = (40, 40, 40)
    image[:, EDGE_X:] = (230, 230, 230)
    for x in range(100, 900, 80):
        image[200:800, x:x + 8] = (0, 0, 255)
    cv2.line(image, (1000, 100), (1800, 900), (255, 0, 0), 3)
    folder = tmp_path_factory.mktemp("files")
    path = folder / "video.mp4"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), 25, CLIP)
    for _ in range(25):
        writer.write(image)
    writer.release()
    ok, decoded = cv2.VideoCapture(str(path)).read()
    assert ok
    return path, decoded


@pytest.mark.parametrize(("renderer", "presenter"), [("software", "renderer software"),
                                                     ("surface", "surface")])
def test_a_1080p_clip_on_an_ultrawide_screen_is_letterboxed_and_smoothly_scaled(
        renderer: str, presenter: str, wide_screen: VirtualScreen,
        still_clip: tuple[Path, np.ndarray], tmp_path: Path) -> None:
    path, decoded = still_clip
    k = start_kiosk(wide_screen, tmp_path, {"simulator": {"files_dir": str(path.parent)},
                                            "media": {"renderer": renderer}})
    try:
        cached = str(Path(k.config["media"]["cache_dir"]) / "video.mp4")
        wait_until(lambda: any(e.get("event") == "video" and e.get("path") == cached
                               and e.get("shown", 0) > 0 and e.get("presenter") == presenter
                               for e in k.trace()), 30, interval=0.2,
                   message=f"the served clip did not play through {presenter}\n{k.logs()}")
        shot = xscreen.screenshot(wide_screen).astype(int)
    finally:
        k.stop()
    x, y, w, h = letterbox(CLIP, ULTRAWIDE)
    assert (x, y, w, h) == (440, 0, 2560, 1440)
    bar_top = ULTRAWIDE[1] - int(ULTRAWIDE[1] * BAR_SHARE)
    assert shot[:bar_top, :x].max() <= 2 and shot[:bar_top, x + w:].max() <= 2  # black bars
    expected = cv2.resize(decoded, (w, h), interpolation=cv2.INTER_LINEAR).astype(int)
    video = shot[:bar_top, x:x + w]
    assert np.abs(video - expected[:bar_top]).mean() <= 1.0
    # Smooth, not blocky: across the dark/light edge the same greys as INTER_LINEAR's.
    edge = x + EDGE_X * w // CLIP[0]
    row = video[700, edge - x - 6:edge - x + 6, 1]
    assert np.abs(row - expected[700, edge - x - 6:edge - x + 6, 1]).max() <= 3
    assert any(45 < v < 225 for v in row)
    # The bar darkens the bottom of the picture across the whole screen.
    assert shot[bar_top + 5:, x + w - 200:x + w, 1].mean() < 0.8 * video[-50:, -200:, 1].mean()
