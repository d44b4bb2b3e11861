"""DPI decided, not inherited (kiosk/platform/dpi.py, kiosk/cover.py's SDL hints, the built
program's manifest): the declaration and its fallbacks against a fake user32 that answers
as Microsoft documents; mixed-DPI monitors (a 4K monitor at 150 % beside a 1080p one at
100 %) covered exactly through the real Windows desktop reader; and, under the Windows
CPython, the real user32 calls under Wine with its DPI set to 144 (150 %)."""

from __future__ import annotations

import os
import subprocess
import sys
import xml.dom.minidom
from pathlib import Path
from typing import Any

import pytest

os.environ.setdefault("SDL_VIDEODRIVER", "dummy")

from kiosk.cover import SDL_HINTS  # noqa: E402
from kiosk.platform import desktop as dt  # noqa: E402
from kiosk.platform import dpi  # noqa: E402
from kiosk.platform.desktop import Pointer, WindowsDesktop  # noqa: E402
from kiosk.window import GUARD_PERIOD_S, WIDGET_SIZE  # noqa: E402
from tests.test_desktop import FakeUser32, Function  # noqa: E402
from tests.test_window_monitors import Kiosk  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
ACCESS_DENIED = 5


class DpiUser32(FakeUser32):
    """user32 (and shcore) with Windows' DPI virtualization, as "High DPI Desktop Application
    Development on Windows" describes it: a process is DPI unaware until it declares an
    awareness, once (a second declaration fails with ERROR_ACCESS_DENIED); an unaware
    process is told each monitor's rectangle and the cursor in logical pixels (physical ÷
    scale; Windows' exact mapping of a second monitor's origin for unaware processes is more
    involved, and these tests only need that it is not the physical one), a per-monitor
    aware one in physical pixels. ``since`` is the Windows generation: 10 (1607+), 8.1 (no
    awareness contexts) or 7 (SetProcessDPIAware only)."""

    def __init__(self, monitors: list[tuple[str, tuple, tuple, int, int]], since: str = "10",
                 declared: int | None = None) -> None:
        super().__init__([m[:4] for m in monitors])
        self.physical = monitors
        self.declared = declared  # the DPI_AWARENESS: None unaware (not declared), 0, 1 or 2
        self.v2 = declared == 2
        self.calls: list[str] = []
        if since == "10":
            self.SetProcessDpiAwarenessContext = Function(self._set_context)
            self.GetThreadDpiAwarenessContext = Function(lambda: 0x10 | (self.declared or 0))
            self.GetAwarenessFromDpiAwarenessContext = Function(lambda context: context & 0xF)
            self.AreDpiAwarenessContextsEqual = Function(
                lambda a, b: int(b == dpi.CONTEXT_PER_MONITOR_AWARE_V2 and self.v2
                                 and a == 0x12))
        self.shcore = Shcore(self) if since in ("10", "8.1") else None
        self.SetProcessDPIAware = Function(lambda: self._declare("SetProcessDPIAware", 1))
        self._virtualize()

    def _declare(self, call: str, awareness: int) -> int:
        self.calls.append(call)
        if self.declared is not None:
            return 0  # ERROR_ACCESS_DENIED: the process default is set once
        self.declared = awareness
        self._virtualize()
        return 1

    def _set_context(self, context: int) -> int:
        awareness = {-1: 0, -2: 1, -3: 2, -4: 2}[context]
        done = self._declare(f"SetProcessDpiAwarenessContext({context})", awareness)
        self.v2 = self.v2 or bool(done and context == dpi.CONTEXT_PER_MONITOR_AWARE_V2)
        return done

    def _virtualize(self) -> None:
        aware = self.declared == 2

        def seen(edges: tuple, percent: int) -> tuple:
            if aware:
                return edges
            left, top, right, bottom = edges
            return (left * 100 // percent, top * 100 // percent, right * 100 // percent,
                    bottom * 100 // percent)

        self.screens = [(name, seen(edges, percent), seen(work, percent), flags)
                        for name, edges, work, flags, percent in self.physical]

    def cursor_at(self, x: int, y: int, percent: int) -> None:
        """The pointer at physical (x, y) on a monitor at ``percent``, as this process sees it."""
        self.cursor = (x, y) if self.declared == 2 else (x * 100 // percent, y * 100 // percent)


class Shcore:
    def __init__(self, user32: DpiUser32) -> None:
        self.SetProcessDpiAwareness = Function(
            lambda value: 0 if user32._declare("SetProcessDpiAwareness", value)
            else 0x80070005)  # E_ACCESSDENIED


# A 4K monitor at 150 % (the primary) with a 1080p one at 100 % to its right.
UHD = (r"\\.\DISPLAY1", (0, 0, 3840, 2160), (0, 0, 3840, 2100), dt.MONITORINFOF_PRIMARY, 150)
FHD = (r"\\.\DISPLAY2", (3840, 0, 5760, 1080), (3840, 0, 5760, 1080), 0, 100)


def settled(user32: DpiUser32) -> tuple[bool, str] | None:
    return dpi.settle("win32", lambda: (user32, user32.shcore))


# --- the declaration ----------------------------------------------------------------------


@pytest.mark.parametrize(("since", "declared", "calls"), [
    ("10", "per-monitor v2", ["SetProcessDpiAwarenessContext(-4)"]),
    ("8.1", "per-monitor", ["SetProcessDpiAwareness"]),
    ("7", "system-aware", ["SetProcessDPIAware"]),
])
def test_the_best_awareness_each_windows_has_is_declared_per_monitor_v2_first(since, declared,
                                                                             calls):
    user32 = DpiUser32([UHD, FHD], since=since)
    assert dpi.declare(user32, user32.shcore) == declared
    assert user32.calls == calls


def test_where_v2_is_refused_per_monitor_is_declared():
    user32 = DpiUser32([UHD, FHD])
    user32.SetProcessDpiAwarenessContext = Function(
        lambda context: 0 if context == -4 else user32._set_context(context))
    assert dpi.declare(user32, user32.shcore) == "per-monitor"
    assert dpi.awareness(user32) == "per-monitor"


def test_a_process_declared_by_its_manifest_or_by_sdl_keeps_that_and_says_so():
    user32 = DpiUser32([UHD, FHD], declared=2)
    assert settled(user32) == (True, "DPI awareness per-monitor v2 (set before by the manifest "
                                     "or SDL): every monitor at its native resolution")
    forced = DpiUser32([UHD, FHD], declared=1)  # "Override high DPI scaling: System"
    ok, line = settled(forced)
    assert not ok and line.startswith("DPI awareness system-aware (set before by the manifest")
    assert "Change high DPI settings" in line


@pytest.mark.parametrize(("declared", "found", "ok"), [
    ("per-monitor v2", "per-monitor v2", True), (None, "per-monitor v2", True),
    (None, "per-monitor", True), ("system-aware", "system-aware", False),
    (None, "unaware", False), (None, "unknown (a Windows before 10 1607)", False)])
def test_only_a_per_monitor_awareness_counts_as_physical_pixels(declared, found, ok):
    assert dpi.verdict(declared, found)[0] is ok


def test_off_windows_there_is_nothing_to_declare_and_a_missing_user32_is_said():
    assert dpi.settle("linux") is None

    def broken() -> tuple[Any, Any]:
        raise OSError("user32.dll not found")

    assert dpi.settle("win32", broken) == (False, "DPI awareness unknown (user32.dll not found)")


def test_sdl_is_asked_for_per_monitor_v2_in_pixels_before_its_video_starts():
    assert SDL_HINTS["SDL_WINDOWS_DPI_AWARENESS"] == "permonitorv2"
    assert SDL_HINTS["SDL_WINDOWS_DPI_SCALING"] == "0"  # 1 would make SDL's coordinates points


def test_the_built_program_declares_per_monitor_v2_in_its_manifest():
    dom = xml.dom.minidom.parse(str(ROOT / "packaging" / "kiosk.manifest"))
    (awareness,) = dom.getElementsByTagName("dpiAwareness")
    assert awareness.getAttribute("xmlns") == "http://schemas.microsoft.com/SMI/2016/WindowsSettings"
    assert awareness.firstChild.data == "PerMonitorV2, PerMonitor"
    (aware,) = dom.getElementsByTagName("dpiAware")
    assert aware.firstChild.data == "true/pm"
    spec = (ROOT / "packaging" / "kiosk.spec").read_text(encoding="utf-8")
    assert 'manifest=str(ROOT / "packaging" / "kiosk.manifest")' in spec


# --- mixed-DPI monitors -------------------------------------------------------------------


def test_a_4k_monitor_at_150_percent_is_covered_at_its_native_resolution_and_the_other_whole():
    user32 = DpiUser32([UHD, FHD])
    unaware = WindowsDesktop(user32).monitors()
    assert unaware[0].rect == (0, 0, 2560, 1440)  # what an undeclared kiosk would draw
    assert settled(user32)[0]
    kiosk = Kiosk(WindowsDesktop(user32))  # type: ignore[arg-type]
    assert kiosk.page() == (0, 0, 3840, 2160)
    assert kiosk.covered() == [(3840, 0, 1920, 1080)]
    assert kiosk.main.resizes[-1] == (3840, 2160)  # drawn at 3840x2160, nothing stretched
    # Every physical pixel of both monitors is the page's or the cover's: no strip shows.
    windows = [kiosk.page(), *kiosk.covered()]
    assert sum(w * h for _, _, w, h in windows) == 3840 * 2160 + 1920 * 1080
    assert all(_inside(rect, [m[1] for m in (UHD, FHD)]) for rect in windows)


def test_a_page_or_cover_moved_off_its_monitor_is_placed_again_within_a_guard_period(caplog):
    """Windows may move or resize a window as it crosses to a monitor of another scale
    (WM_DPICHANGED's suggested rectangle), and so may another program: the next guard puts
    the page and every cover back on their monitors' rectangles."""
    user32 = DpiUser32([UHD, FHD])
    settled(user32)
    kiosk = Kiosk(WindowsDesktop(user32))  # type: ignore[arg-type]
    (cover,) = kiosk.window.covers
    cover.size = (1280, 720)  # 1920x1080 at 150 % seen as at 100 %: a strip of desktop shows
    cover.position = (3840, 0)
    kiosk.main.position = (10, 0)
    with caplog.at_level("WARNING"):
        kiosk.window.guard(GUARD_PERIOD_S)
    assert kiosk.page() == (0, 0, 3840, 2160) and kiosk.covered() == [(3840, 0, 1920, 1080)]
    moved = [(10, 0, 3840, 2160), (3840, 0, 1280, 720)]
    wanted = [(0, 0, 3840, 2160), (3840, 0, 1920, 1080)]
    assert [r.message for r in caplog.records] == [
        f"the page or a cover was moved off its monitor ({moved}, not {wanted}): placed again"]
    caplog.clear()
    kiosk.window.guard(2 * GUARD_PERIOD_S)
    assert caplog.records == []  # in place: nothing to say, nothing moved


def test_the_widget_and_the_pointer_on_a_scaled_monitor_are_in_the_same_pixels():
    user32 = DpiUser32([UHD, FHD])
    settled(user32)
    kiosk = Kiosk(WindowsDesktop(user32))  # type: ignore[arg-type]
    kiosk.window.widget("a1b2c3d4e5f6")
    x, y = kiosk.main.position
    assert (x + WIDGET_SIZE[0], y) == (3840 - 16, 16)  # the 4K monitor's top-right corner
    user32.cursor_at(x + 10, y + 10, 150)
    user32.down.add(dt.VK_LBUTTON)
    assert kiosk.window.desktop.pointer() == Pointer(x + 10, y + 10, True)
    kiosk.window.grab((10, 10))
    user32.cursor_at(4000, 500, 100)  # dragged onto the 1080p monitor
    kiosk.window.follow()
    assert kiosk.window.let_go() is False
    assert kiosk.main.position == (3990, 490)


def _inside(rect: tuple[int, int, int, int], edges: list[tuple]) -> bool:
    x, y, w, h = rect
    return any(left <= x and top <= y and x + w <= right and y + h <= bottom
               for left, top, right, bottom in edges)


# --- for real, under the Windows CPython and Wine ------------------------------------------

WINE_DPI = """
import ctypes, json, sys
sys.path.insert(0, sys.argv[1])
from kiosk.platform import dpi
from kiosk.platform.desktop import WindowsDesktop
user32, shcore = ctypes.WinDLL("user32"), ctypes.WinDLL("shcore")
settled = dpi.settle()  # as main.py does for the UI, with the real user32 and shcore
found = dpi.awareness(user32)
import pygame
from kiosk.cover import black_window, cover_screen
cover = cover_screen(False, (640, 360))
window = cover.window
user32.GetDpiForWindow.argtypes = [ctypes.c_void_p]
user32.MonitorFromPoint.argtypes = [ctypes.c_int64, ctypes.c_uint32]
user32.MonitorFromPoint.restype = ctypes.c_void_p
shcore.GetDpiForMonitor.argtypes = [ctypes.c_void_p, ctypes.c_int, ctypes.c_void_p, ctypes.c_void_p]
x, y = ctypes.c_uint(), ctypes.c_uint()
shcore.GetDpiForMonitor(user32.MonitorFromPoint(0, 1), 0, ctypes.byref(x), ctypes.byref(y))
rect = (ctypes.c_int32 * 4)()
user32.GetWindowRect.argtypes = [ctypes.c_void_p, ctypes.c_void_p]
user32.GetWindowRect(window.handle, rect)
aware_monitors = [m.rect for m in WindowsDesktop(user32).monitors()]
system_dpi = user32.GetDpiForSystem()
user32.SetThreadDpiAwarenessContext.argtypes = [ctypes.c_void_p]
user32.SetThreadDpiAwarenessContext.restype = ctypes.c_void_p
user32.SetThreadDpiAwarenessContext(-1)  # this thread as an undeclared process would be
unaware = [m.rect for m in WindowsDesktop(user32).monitors()]
print(json.dumps({"settled": settled, "awareness": found, "unaware": unaware,
                  "window_dpi": user32.GetDpiForWindow(window.handle),
                  "monitor_dpi": [x.value, y.value], "system_dpi": system_dpi,
                  "monitors": aware_monitors,
                  "sdl_sizes": pygame.display.get_desktop_sizes(),
                  "window": list(rect), "window_size": list(window.size)}))
"""


@pytest.fixture
def wine_dpi_144():
    """Wine's DPI (HKCU\\Control Panel\\Desktop LogPixels) at 144, i.e. 150 %, for the test;
    the value before is put back afterwards (or removed if there was none)."""
    import winreg

    path = "Control Panel\\Desktop"
    with winreg.CreateKeyEx(winreg.HKEY_CURRENT_USER, path) as key:
        try:
            before: tuple | None = winreg.QueryValueEx(key, "LogPixels")
        except OSError:
            before = None
        winreg.SetValueEx(key, "LogPixels", 0, winreg.REG_DWORD, 144)
    try:
        yield
    finally:
        with winreg.CreateKeyEx(winreg.HKEY_CURRENT_USER, path) as key:
            if before is None:
                winreg.DeleteValue(key, "LogPixels")
            else:
                winreg.SetValueEx(key, "LogPixels", 0, before[1], before[0])


@pytest.mark.win32
def test_under_wine_at_150_percent_the_page_and_the_monitors_are_in_physical_pixels(
        wine_dpi_144):
    """Run in a fresh process, as Wine reads its DPI when user32 starts. Wine 8 differs from
    Windows here, and Microsoft's documentation decides what the kiosk relies on: Wine knows
    no per-monitor v2 context (``SetProcessDpiAwarenessContext(-4)`` fails with
    ERROR_INVALID_PARAMETER) and starts a process without a manifest per-monitor aware
    already (the next declaration fails with ERROR_ACCESS_DENIED), where Windows starts it
    unaware. What matters holds on both: the process is per-monitor aware, and its monitor
    rectangles, SDL's desktop size and its window are the screen's physical pixels, where a
    thread made DPI unaware (as an undeclared process is on Windows) is told two thirds."""
    import json

    done = subprocess.run([sys.executable, "-c", WINE_DPI, str(ROOT)], capture_output=True,
                          text=True, timeout=120, env={**os.environ, "SDL_VIDEODRIVER": ""})
    assert done.returncode == 0, done.stderr
    seen = json.loads(done.stdout.strip().splitlines()[-1])
    assert seen["awareness"] in dpi.PHYSICAL, seen
    assert seen["settled"][0] is True and "every monitor at its native resolution" in (
        seen["settled"][1]), seen
    assert seen["system_dpi"] == 144 and seen["monitor_dpi"] == [144, 144], seen
    assert seen["window_dpi"] == 144, seen
    width, height = seen["sdl_sizes"][0]
    assert seen["monitors"][0] == [0, 0, width, height], seen  # physical: the X screen's size
    assert seen["window"][2] - seen["window"][0] == seen["window_size"][0] == 640, seen
    # What a kiosk that declared nothing would get on Windows: the screen in logical pixels.
    assert seen["unaware"][0] == [0, 0, width * 96 // 144, height * 96 // 144], seen
