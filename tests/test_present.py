"""The standby video on a screen of another size than its clip's: SDL's renderer scales the
clip-sized frame, or OpenCV does when there is none (kiosk/present.py)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pygame
import pytest

os.environ.setdefault("SDL_VIDEODRIVER", "dummy")

from kiosk import present  # noqa: E402
from kiosk.config import ConfigError, load  # noqa: E402
from kiosk.flow import DebugJump, Page, UserInput  # noqa: E402
from kiosk.present import candidates, needs_scaling, open_gpu  # noqa: E402
from kiosk.scenes.draw import PANEL  # noqa: E402
from kiosk.video import letterbox  # noqa: E402
from tests.app_run import running_app, running_simulator, until  # noqa: E402

SDL_ON_WINDOWS = ["direct3d", "direct3d11", "direct3d12", "opengl", "opengles2", "software"]
SDL_ON_X11 = ["opengl", "opengles2", "opengles", "software"]


# --- which renderer


def test_auto_uses_direct3d_11_then_9_on_windows():
    assert candidates("auto", SDL_ON_WINDOWS, "windows") == ["direct3d11", "direct3d"]
    assert candidates("auto", ["direct3d", "software"], "windows") == ["direct3d"]


def test_auto_never_picks_sdls_software_renderer_nor_opengl_off_windows():
    """SDL's software renderer scales slower than OpenCV; Mesa's OpenGL stays in memory."""
    assert candidates("auto", SDL_ON_X11, "x11") == []
    assert candidates("auto", ["software"], "windows") == []


def test_a_named_renderer_is_tried_only_when_sdl_has_it():
    assert candidates("opengl", SDL_ON_X11, "x11") == ["opengl"]
    assert candidates("software", SDL_ON_X11, "x11") == ["software"]
    assert candidates("direct3d11", SDL_ON_X11, "x11") == []


def test_surface_means_opencv_scales_whatever_sdl_has():
    assert candidates("surface", SDL_ON_WINDOWS, "windows") == []


def test_media_renderer_must_be_one_of_the_known_values(tmp_path):
    def config(**media: str):
        return load(tmp_path / "c.yaml", {"client": {"id": "370011"}, "media": media})

    assert config(renderer="opengl").renderer == "opengl"
    assert config().renderer == "auto"
    with pytest.raises(ConfigError, match="media.renderer"):
        config(renderer="vulkan")


# --- where the picture goes


def test_a_16_9_clip_on_an_ultrawide_screen_gets_bars_left_and_right():
    assert letterbox((1920, 1080), (3440, 1440)) == (440, 0, 2560, 1440)


def test_a_1080p_clip_fills_1440p_and_4k_screens():
    assert letterbox((1920, 1080), (2560, 1440)) == (0, 0, 2560, 1440)
    assert letterbox((1920, 1080), (3840, 2160)) == (0, 0, 3840, 2160)


def test_only_a_clip_of_another_size_than_its_letterbox_is_scaled():
    assert not needs_scaling((1920, 1080), (0, 0, 1920, 1080))
    assert needs_scaling((1920, 1080), (0, 0, 3840, 2160))
    assert needs_scaling((1920, 1080), (440, 0, 2560, 1440))


@pytest.fixture
def window():
    pygame.display.init()
    window = pygame.Window("present", (200, 100))
    window.get_surface().fill((9, 9, 9))  # a surface first, as the pages before A leave it
    window.flip()
    yield window
    window.destroy()


def test_the_renderer_scales_the_frame_smoothly_into_its_letterbox_and_the_bar_stays_crisp(
        window):
    clip = (32, 18)
    rect = letterbox(clip, window.size)  # (11, 0, 178, 100): bars left and right
    pixels = np.zeros((clip[1], clip[0], 3), np.uint8)
    pixels[:, clip[0] // 2:] = (255, 255, 255)  # black left half, white right half
    bar = pygame.Surface((200, 10), pygame.SRCALPHA)
    bar.fill((10, 20, 200, 255))
    gpu = open_gpu(window, "software")
    assert gpu is not None and gpu.driver == "software"
    try:
        gpu.frame(pixels, rect)
        gpu.bar(bar)
        gpu.compose()  # read before the present: a back buffer is undefined after it
        shot = pygame.surfarray.array3d(gpu._renderer.to_surface()).transpose(1, 0, 2)
    finally:
        gpu.close()
    row = shot[50, :, 0].astype(int)
    assert row[:rect[0]].max() == 0 and row[rect[0] + rect[2]:].max() == 0  # the bars
    assert row[rect[0] + 2] == 0 and row[rect[0] + rect[2] - 3] == 255
    # Linear filtering: the edge between the halves passes through greys over a few pixels
    # (nearest neighbour would jump from 0 to 255 in one, and blocks show at 4K).
    greys = [v for v in row[rect[0]:rect[0] + rect[2]] if 0 < v < 255]
    assert 2 <= len(greys) <= 8
    # The bar is drawn 1:1 at the bottom: its colour exactly, edge to edge.
    assert (shot[95, :] == (10, 20, 200)).all()


def test_the_window_draws_on_its_surface_again_once_the_renderer_is_gone(window):
    gpu = open_gpu(window, "software")
    assert gpu is not None
    gpu.present()
    gpu.close()
    surface = window.get_surface()
    surface.fill((0, 200, 0))
    window.flip()
    assert window.get_surface().get_at((5, 5))[:3] == (0, 200, 0)
    again = open_gpu(window, "software")  # and the next showing of A makes one again
    assert again is not None
    again.close()


WINDOWS_RENDERER = """
import pygame, numpy as np
from kiosk import present
pygame.display.init()
window = pygame.Window("present", (640, 360))
window.get_surface().fill((9, 9, 9))
gpu = present.open_gpu(window, "auto")
pixels = np.zeros((54, 96, 3), np.uint8)
pixels[:, 48:] = 255
gpu.frame(pixels, (0, 0, 640, 360))
gpu.compose()
shot = gpu._renderer.to_surface()
print(gpu.driver, *[shot.get_at((x, 180))[0] for x in range(300, 340)])
gpu.close()
window.get_surface()
"""


@pytest.mark.win32
def test_on_windows_auto_scales_through_direct3d_smoothly_and_gives_the_surface_back():
    """Under Wine, Direct3D 11 is wined3d on OpenGL; Windows has the GPU's own driver."""
    env = {k: v for k, v in os.environ.items() if k != "SDL_VIDEODRIVER"}
    done = subprocess.run([sys.executable, "-c", WINDOWS_RENDERER], env=env, text=True,
                          capture_output=True, timeout=120, cwd=Path(__file__).parents[1])
    assert done.returncode == 0, done.stderr[-2000:]
    driver, *row = done.stdout.split()[-41:]
    assert driver in ("direct3d11", "direct3d")
    greys = [int(v) for v in row if 0 < int(v) < 255]
    assert 2 <= len(greys) <= 12, row  # 96 px to 640: greys across the edge, no step


# --- the standby page


def presenter(kiosk) -> str | None:
    scene = kiosk.scenes[Page.STANDBY]
    if scene.player is None or scene.player.pacer.shown < 3:
        return None
    return f"renderer {scene.gpu.driver}" if scene.gpu else "surface"


def test_standby_goes_through_the_renderer_and_the_next_page_draws_as_before(tmp_path):
    """The bundled 960×540 clip on a 640×360 window: scaled by SDL's renderer; page B
    after it draws on the window's surface, and A makes a renderer again."""
    with running_simulator() as sim, running_app(sim, tmp_path, renderer="software") as kiosk:
        until(kiosk, lambda: presenter(kiosk) == "renderer software", 10)
        assert kiosk.scenes[Page.STANDBY].player.scale is False  # frames at the clip's size
        kiosk._feed(UserInput(time.monotonic()), time.monotonic())
        until(kiosk, lambda: kiosk.flow.page == Page.SCAN, 5)
        assert kiosk.scenes[Page.STANDBY].gpu is None  # the renderer went with A
        kiosk._draw(time.monotonic(), always=True)
        surface = kiosk.window.surface
        assert surface.get_size() == (640, 360)
        assert any(surface.get_at((x, 180))[:3] == (255, 255, 255) for x in range(200, 440))
        kiosk._feed(DebugJump(time.monotonic(), Page.STANDBY), time.monotonic())
        until(kiosk, lambda: presenter(kiosk) == "renderer software", 10)


def test_without_a_renderer_opencv_scales_the_frames(tmp_path, monkeypatch):
    from pygame._sdl2 import video

    def refused(*args, **kwargs):
        raise pygame.error("no renderer here")

    monkeypatch.setattr(video, "Renderer", refused)
    monkeypatch.setattr(present, "_unusable", set())
    with running_simulator() as sim, running_app(sim, tmp_path, renderer="software") as kiosk:
        until(kiosk, lambda: presenter(kiosk) == "surface", 10)
        player = kiosk.scenes[Page.STANDBY].player
        assert player.scale and player.rect == (0, 0, 640, 360)
        assert kiosk.window.surface.get_at((320, 100))[:3] != (0, 0, 0)  # the video shows


def test_the_admin_prompt_shows_over_the_video_drawn_by_the_renderer(tmp_path):
    with running_simulator() as sim, running_app(sim, tmp_path, renderer="software") as kiosk:
        until(kiosk, lambda: presenter(kiosk) == "renderer software", 10)
        gpu = kiosk.scenes[Page.STANDBY].gpu

        def panel_pixels() -> int:
            gpu.compose()
            shot = gpu._renderer.to_surface()
            return sum(shot.get_at((320, y))[:3] == PANEL for y in range(0, 360))

        assert panel_pixels() == 0
        kiosk.admin.open = kiosk.admin.dirty = True  # as the admin chord opens it
        until(kiosk, lambda: gpu.has_overlay, 5)
        assert panel_pixels() > 20  # the prompt's card over the video
        kiosk.admin.open, kiosk.admin.dirty = False, True
        until(kiosk, lambda: not gpu.has_overlay, 5)
