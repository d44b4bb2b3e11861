"""How the standby video's frames reach a screen of another size than the clip's.

Two paths (README "Performance" says which runs where, and why):

- **renderer**: SDL's 2D renderer on the page's window (Direct3D 11 or 9 on Windows,
  OpenGL elsewhere). The clip-sized frame goes into a streaming texture each frame and
  the graphics chip scales it to the letterbox with linear filtering, so the CPU's cost
  does not grow with the screen; the bar is a small texture drawn 1:1 (crisp).
- **surface**: the window's surface, as every other page: OpenCV scales the frame
  (``INTER_LINEAR``) on the decoder thread and converts it into the window's pixels. It
  is also the path when the clip already has the screen's size (nothing to scale: a
  renderer would only add its buffers), and the fallback when no renderer can be made.

SDL 2.32 facts this relies on (src/render/SDL_render.c, src/video/SDL_video.c):

- A window has either its surface (``SDL_GetWindowSurface``, which every other page uses
  through ``pygame.Window.get_surface``) or a renderer made by the app:
  ``SDL_CreateRenderer`` refuses a window that has a surface ("Surface already associated
  with window"). pygame-ce 2.5 cannot drop a window's surface, so ``SDL_DestroyWindowSurface``
  (SDL >= 2.28) is called through ctypes before a renderer is made.
- Once the renderer is destroyed (pygame-ce destroys it with its last reference; textures
  hold one), ``SDL_GetWindowSurface`` makes the surface again: the next page draws as
  before. A renderer is made again each time A needs one.
- SDL's software renderer scales with ``SDL_SoftStretchLinear``: measured slower than
  OpenCV's resize plus the window surface (1080p to 3840×2160: 26.7 against 19.5 ms a
  frame), so ``auto`` never picks it.
- ``auto`` makes a renderer on Windows only (Direct3D 11, else 9), where every café PC has
  a graphics driver and its DLLs' pages go back with the working-set trim on entering C.
  On Linux an OpenGL renderer loads Mesa, whose drivers bring LLVM: measured under Xvfb
  (llvmpipe, a CPU rasterizer: 75 ms a frame at 3840×2160) it adds 78 MB of RSS that stay
  after the renderer is gone, which C cannot afford; ``media.renderer: opengl`` asks for it.
"""

from __future__ import annotations

import contextlib
import ctypes
import logging
import os
import sys
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pygame loads with the UI; the config (and the guardian) only need names
    import pygame

log = logging.getLogger(__name__)

AUTO, SURFACE = "auto", "surface"
# What ``auto`` tries on Windows, in order: Direct3D 11 first (SDL's own order puts
# Direct3D 9 first).
AUTO_DRIVERS = {"windows": ("direct3d11", "direct3d")}
RENDERERS = (AUTO, SURFACE, "direct3d11", "direct3d", "opengl", "opengles2", "software")
SCALE_QUALITY = "SDL_RENDER_SCALE_QUALITY"


def candidates(wanted: str, available: Sequence[str], video_driver: str) -> list[str]:
    """The SDL render drivers to try, in order, for ``media.renderer`` = ``wanted``: for
    ``auto`` the graphics-chip ones SDL has on this video driver (none but on Windows),
    else the one named if SDL has it; none for ``surface``."""
    if wanted == AUTO:
        return [name for name in AUTO_DRIVERS.get(video_driver, ()) if name in available]
    return [wanted] if wanted in available and wanted != SURFACE else []


def needs_scaling(clip: tuple[int, int], rect: tuple[int, int, int, int]) -> bool:
    """Whether the clip's frames must be scaled to fill their letterbox ``rect``."""
    return clip != rect[2:]


class GpuScreen:
    """Page A through SDL's renderer: the frame texture scaled into its letterbox, the bar
    (and any overlay) drawn over it at the screen's resolution, then presented."""

    def __init__(self, window: pygame.Window, driver: str, renderer: Any) -> None:
        self.window = window
        self.driver = driver
        self._renderer = renderer
        self._frame: Any = None  # the streaming texture, the clip's size
        self._staging: pygame.Surface | None = None  # BGRX pixels, the clip's size
        self._bar: Any = None
        self._bar_source: pygame.Surface | None = None
        self._layer: Any = None  # the overlay (admin prompt, banners), when one is shown
        self._rect: tuple[int, int, int, int] | None = None

    @property
    def size(self) -> tuple[int, int]:
        return self.window.size

    @property
    def has_overlay(self) -> bool:
        return self._layer is not None

    def frame(self, pixels: Any, rect: tuple[int, int, int, int]) -> None:
        """The clip-sized BGR ``pixels`` into the frame texture, to be drawn into ``rect``."""
        import cv2
        import numpy as np

        h, w = pixels.shape[:2]
        if self._staging is None or self._staging.get_size() != (w, h):
            self._staging, self._frame = self._texture((w, h))
        staging = self._staging
        rows = np.frombuffer(staging.get_buffer(), np.uint8).reshape(h, staging.get_pitch())
        cv2.cvtColor(pixels, cv2.COLOR_BGR2BGRA, dst=rows[:, :4 * w].reshape(h, w, 4))
        del rows  # unlocks the surface
        self._frame.update(staging)
        self._rect = rect

    def _texture(self, size: tuple[int, int]) -> tuple[pygame.Surface, Any]:
        """The frame's staging image and texture, of the same pixel format (``update``
        converts nothing). On a graphics chip a streaming ARGB8888 texture, the one format
        every SDL 2 renderer takes (Direct3D 9 takes no other). SDL's software renderer
        stretches straight into the window only from a texture of the window's own format
        (32-bit, no alpha); from any other it goes through a screen-sized copy."""
        import pygame
        from pygame._sdl2 import video

        from kiosk.video import BGRX_MASKS

        if self.driver == "software":
            staging = pygame.Surface(size, 0, 32, (*BGRX_MASKS, 0))
            with scale_quality("linear"):
                texture = video.Texture.from_surface(self._renderer, staging)
            return staging, texture
        staging = pygame.Surface(size, pygame.SRCALPHA, 32)
        texture = video.Texture(self._renderer, size, streaming=True,
                                scale_quality=video.SCALEQUALITY_LINEAR)
        texture.blend_mode = 0  # opaque: the alpha byte is not looked at
        return staging, texture

    def bar(self, image: pygame.Surface) -> None:
        """The bar's image (drawn at the screen's resolution), made a texture once."""
        from pygame._sdl2 import video

        if image is not self._bar_source:
            self._bar_source = image
            self._bar = video.Texture.from_surface(self._renderer, image)

    def overlay(self, layer: pygame.Surface | None) -> None:
        """A screen-sized, transparent image drawn over everything, or none."""
        from pygame._sdl2 import video

        self._layer = None if layer is None else video.Texture.from_surface(self._renderer,
                                                                            layer)

    def present(self) -> None:
        """Draw what there is and show it."""
        self.compose()
        self._renderer.present()

    def compose(self) -> None:
        """The whole frame into the back buffer (SDL's is undefined after a present)."""
        r = self._renderer
        r.draw_color = (0, 0, 0, 255)
        r.clear()
        if self._frame is not None and self._rect is not None:
            self._frame.draw(dstrect=self._rect)
        w, h = self.window.size
        if self._bar is not None:
            self._bar.draw(dstrect=(0, h - self._bar.height, self._bar.width, self._bar.height))
        if self._layer is not None:
            self._layer.draw(dstrect=(0, 0, w, h))

    def close(self) -> None:
        """Textures first (each holds the renderer), then the renderer: SDL destroys it,
        and the window's surface can be made again."""
        self._frame = self._bar = self._layer = self._staging = self._bar_source = None
        self._renderer = None


@contextlib.contextmanager
def scale_quality(value: str) -> Iterator[None]:
    """SDL_HINT_RENDER_SCALE_QUALITY for the textures made meanwhile (SDL reads the
    environment when no one set the hint), as it was before afterwards."""
    before = os.environ.get(SCALE_QUALITY)
    os.environ[SCALE_QUALITY] = value
    try:
        yield
    finally:
        if before is None:
            del os.environ[SCALE_QUALITY]
        else:
            os.environ[SCALE_QUALITY] = before


_unusable: set[str] = set()  # drivers this process found it cannot use: not tried again


def usable(wanted: str) -> list[str]:
    """The render drivers to try here for ``media.renderer`` = ``wanted`` (none: the
    window's surface, and OpenCV scales)."""
    import pygame
    from pygame._sdl2 import video

    available = [info.name for info in video.get_drivers()]
    return [name for name in candidates(wanted, available, pygame.display.get_driver())
            if name not in _unusable]


def open_gpu(window: pygame.Window, wanted: str) -> GpuScreen | None:
    """A renderer on ``window`` from the drivers ``wanted`` allows, or None (the log says
    why): the caller then scales on the CPU into the window's surface. The window's
    surface is dropped first; the next ``get_surface`` makes it again."""
    import pygame
    from pygame._sdl2 import video

    available = [info.name for info in video.get_drivers()]
    drivers = usable(wanted)
    for driver in drivers:
        try:
            drop_window_surface(window)
            renderer = video.Renderer(window, index=available.index(driver))
        except (pygame.error, OSError, AttributeError) as exc:
            log.warning("SDL's %s renderer cannot be made (%s)", driver, exc)
            _unusable.add(driver)
            continue
        log.info("standby video through SDL's %s renderer: it scales the clip-sized frames",
                 driver)
        return GpuScreen(window, driver, renderer)
    log.warning("no renderer for the standby video (tried %s): OpenCV scales it",
                ", ".join(drivers) or "none")
    return None


def _sdl() -> ctypes.CDLL:
    """The SDL library pygame-ce loaded. On Windows by its name: ``LoadLibrary`` returns the
    module already loaded under that name, wherever a built kiosk put it; elsewhere through
    one of pygame's extension modules, whose dependencies ``dlsym`` searches too."""
    import pygame

    if sys.platform == "win32":
        return ctypes.CDLL("SDL2.dll")
    return ctypes.CDLL(pygame.base.__file__)


def drop_window_surface(window: pygame.Window) -> None:
    """``SDL_DestroyWindowSurface`` on ``window`` (a no-op when it has none)."""
    sdl = _sdl()
    sdl.SDL_GetWindowFromID.restype = ctypes.c_void_p
    sdl.SDL_GetWindowFromID.argtypes = [ctypes.c_uint32]
    sdl.SDL_DestroyWindowSurface.argtypes = [ctypes.c_void_p]
    handle = sdl.SDL_GetWindowFromID(window.id)
    if not handle or sdl.SDL_DestroyWindowSurface(handle) != 0:
        raise OSError(f"SDL_DestroyWindowSurface failed for window {window.id}")

