"""Tests of the e2e harness (xscreen) against a tiny pygame-ce program of our own.

The program stands in for the kiosk: a 400x300 window at a known place,
filled with a known colour and showing a QR code; a click changes the
colour, typed characters are collected, Escape prints them and exits with a
known code. If these pass, a failing kiosk
e2e test points at the kiosk, not at the harness.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from . import xscreen
from .conftest import require_tools
from .xscreen import VirtualScreen

WIN_POS = (120, 80)
WIN_SIZE = (400, 300)
COLOUR_START = (30, 140, 200)  # BGR, as the screenshots are
COLOUR_CLICKED = (60, 200, 40)
QR_TEXT = "xscreen-e2e:42"
EXIT_CODE = 7
WM_CLASS = "xscreen-test-app"
# Left part of the window, away from the QR code (window coordinates).
PLAIN_AREA = (20, 20, 140, 260)

APP_SOURCE = textwrap.dedent(
    """
    import os
    import sys

    import pygame
    import qrcode

    start = tuple(int(v) for v in os.environ["APP_START"].split(","))[::-1]  # BGR -> RGB
    clicked = tuple(int(v) for v in os.environ["APP_CLICKED"].split(","))[::-1]
    qr = qrcode.QRCode(border=4)
    qr.add_data(os.environ["APP_TEXT"])
    qr.make(fit=True)
    matrix = qr.get_matrix()  # includes the quiet zone

    pygame.display.init()
    screen = pygame.display.set_mode((400, 300))
    pygame.display.set_caption("xscreen-test")

    def draw(colour):
        screen.fill(colour)
        box, left, top = 6, 200, 150 - len(matrix) * 3
        for y, row in enumerate(matrix):
            for x, dark in enumerate(row):
                cell = pygame.Rect(left + x * box, top + y * box, box, box)
                screen.fill((0, 0, 0) if dark else (255, 255, 255), cell)
        pygame.display.flip()

    draw(start)
    typed = ""
    clock = pygame.time.Clock()
    for _ in range(30 * 60):  # never outlive a broken test by more than 30 s
        for event in pygame.event.get():
            if event.type == pygame.MOUSEBUTTONDOWN:
                draw(clicked)
            elif event.type == pygame.KEYDOWN and event.key == pygame.K_ESCAPE:
                print("typed:" + typed, flush=True)
                pygame.quit()
                sys.exit(int(os.environ["APP_EXIT"]))
            elif event.type == pygame.KEYDOWN and event.unicode.isprintable():
                typed += event.unicode
            elif event.type == pygame.QUIT:
                sys.exit(0)
        clock.tick(60)
    sys.exit(99)
    """
)

pytestmark = pytest.mark.e2e




@dataclass
class App:
    proc: subprocess.Popen[bytes]
    wid: int
    rect: xscreen.Rect  # window geometry in root coordinates

    def area(self, rect: xscreen.Rect) -> xscreen.Rect:
        """A rectangle given in window coordinates, in root coordinates."""
        return (self.rect[0] + rect[0], self.rect[1] + rect[1], rect[2], rect[3])


@pytest.fixture
def app(screen: VirtualScreen, tmp_path: Path) -> Iterator[App]:
    script = tmp_path / "app.py"
    script.write_text(APP_SOURCE)
    log = (tmp_path / "app.log").open("wb")
    proc = screen.popen(
        [sys.executable, str(script)],
        env={
            "SDL_VIDEO_WINDOW_POS": f"{WIN_POS[0]},{WIN_POS[1]}",
            "SDL_VIDEO_X11_WMCLASS": WM_CLASS,
            "PYGAME_HIDE_SUPPORT_PROMPT": "1",
            "APP_START": ",".join(map(str, COLOUR_START)),
            "APP_CLICKED": ",".join(map(str, COLOUR_CLICKED)),
            "APP_TEXT": QR_TEXT,
            "APP_EXIT": str(EXIT_CODE),
        },
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        wids = xscreen.windows_of(proc.pid, screen, timeout=10)
        assert wids, f"no window for pid {proc.pid}: {(tmp_path / 'app.log').read_text()}"
        wid = wids[0]
        yield App(proc, wid, xscreen.window_geometry(wid, screen))
    finally:
        xscreen.stop_process(proc)
        log.close()


def shows(
    screen: VirtualScreen, rect: xscreen.Rect, bgr: tuple[int, int, int]
) -> np.ndarray | None:
    """The screenshot if ``rect`` is mostly ``bgr`` in it, else None (for wait_until)."""
    img = xscreen.screenshot(screen)
    return img if xscreen.is_mostly(img, rect, bgr, tolerance=4) else None


@pytest.mark.linux  # Xvfb and the X tools
def test_window_found_by_pid_at_its_place(screen: VirtualScreen, app: App) -> None:
    assert app.rect == (*WIN_POS, *WIN_SIZE)
    assert xscreen.windows_of(app.proc.pid, screen, timeout=1) == [app.wid]
    assert xscreen.windows_of(999_999, screen, timeout=0.2) == []
    # No such pid, but the class given by the caller matches.
    assert xscreen.windows_of(999_999, screen, class_name=WM_CLASS, timeout=1) == [app.wid]


@pytest.mark.linux  # Xvfb and the X tools
def test_screenshot_shows_colour_and_qr(screen: VirtualScreen, app: App, tmp_path: Path) -> None:
    img = xscreen.wait_until(
        lambda: shows(screen, app.area(PLAIN_AREA), COLOUR_START),
        timeout=10,
        message="start colour not shown",
    )
    xscreen.save_png(img, tmp_path / "start.png")
    assert img.shape == (720, 1280, 3) and img.dtype == np.uint8
    b, g, r = xscreen.region_mean(img, *app.area(PLAIN_AREA))
    assert np.allclose((b, g, r), COLOUR_START, atol=1)
    # Outside the window the root stays black.
    assert xscreen.is_mostly(img, (0, 0, 100, 70), (0, 0, 0), tolerance=0)
    assert xscreen.decode_qr(img) == [QR_TEXT]


@pytest.mark.linux  # Xvfb and the X tools
def test_click_changes_colour(screen: VirtualScreen, app: App) -> None:
    area = app.area(PLAIN_AREA)
    xscreen.wait_until(lambda: shows(screen, area, COLOUR_START), 10, message="not drawn")
    x, y, w, h = area
    xscreen.click(x + w // 2, y + h // 2, screen)
    xscreen.wait_until(
        lambda: shows(screen, area, COLOUR_CLICKED), 10, message="click did not change colour"
    )


@pytest.mark.linux  # Xvfb and the X tools
def test_typing_and_key_end_program_with_code(
    screen: VirtualScreen, app: App, tmp_path: Path
) -> None:
    xscreen.type_text("Hi 42", screen, window=app.wid)
    xscreen.key("Escape", screen, window=app.wid)
    assert app.proc.wait(timeout=10) == EXIT_CODE
    assert "typed:Hi 42" in (tmp_path / "app.log").read_text()


class Falsy:
    """A falsy value whose repr tells which call made it."""

    def __init__(self, n: int) -> None:
        self.n = n

    def __bool__(self) -> bool:
        return False

    def __repr__(self) -> str:
        return f"Falsy({self.n})"


def fail_with(err: Exception) -> None:
    raise err


def test_wait_until_reports_last_value() -> None:
    calls = iter(range(1000))
    with pytest.raises(
        AssertionError, match=r"^never true \(after 0.05s; last value: Falsy\([1-9]"
    ):
        xscreen.wait_until(
            lambda: Falsy(next(calls)), timeout=0.05, interval=0.01, message="never true"
        )
    with pytest.raises(AssertionError, match=r"last value: XScreenError\('boom'\)"):
        xscreen.wait_until(
            lambda: fail_with(xscreen.XScreenError("boom")),
            timeout=0.05,
            interval=0.01,
            ignore=(xscreen.XScreenError,),
        )
    assert xscreen.wait_until(lambda: "yes", timeout=0.1) == "yes"
    img = np.zeros((2, 2, 3), np.uint8)
    assert xscreen.wait_until(lambda: img, timeout=0.1) is img  # arrays count as truthy


def test_parse_xwd_big_endian_16bpp() -> None:
    """The parser follows byte order and masks, not just what Xvfb on x86 sends."""
    width, height, bpl = 2, 1, 8  # padded rows
    name = b"x\0"
    header_size = 100 + len(name)
    fields = [
        header_size, 7, 2, 16,  # header size, version, ZPixmap, depth
        width, height, 0,  # size, x offset
        1, 16, 1, 32,  # byte order MSBFirst, bitmap unit, bit order, pad
        16, bpl, 4,  # bits per pixel, bytes per line, TrueColor
        0xF800, 0x07E0, 0x001F,  # red, green, blue masks (RGB565)
        6, 0, 1,  # bits per rgb, colormap entries, ncolors
        width, height, 0, 0, 0,  # window size, x, y, border
    ]  # fmt: skip
    colormap = bytes(12)
    pixels = np.array([0xF800, 0x001F], dtype=">u2").tobytes() + bytes(4)
    data = np.array(fields, dtype=">u4").tobytes() + name + colormap + pixels
    img = xscreen.parse_xwd(data)
    assert img.tolist() == [[[0, 0, 255], [255, 0, 0]]]  # red, then blue, in BGR


@pytest.mark.linux  # Xvfb and the X tools
def test_screen_stops_cleanly() -> None:
    require_tools()
    with VirtualScreen(320, 240) as vs:
        number, pid = vs.display[1:], vs.pid
        assert Path(f"/tmp/.X11-unix/X{number}").exists()
    assert not Path(f"/tmp/.X{number}-lock").exists()
    assert not Path(f"/tmp/.X11-unix/X{number}").exists()
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)  # reaped: not even a zombie is left
