"""Reading the monitors and the pointer from the OS (kiosk/platform/desktop.py): the Windows
branch against a fake user32 that answers as Windows documents it, the X11 branch's
checks against fake libraries (the real X server is in tests/e2e/test_monitors.py), and
the choice of reader. The real user32 is in tests/test_desktop_win32.py; the Windows fakes
stay for what Wine on one Xvfb screen cannot show: several monitors with their work areas,
swapped mouse buttons, a pointer on a secure desktop, 32-bit Windows' GetWindowLongW."""

from __future__ import annotations

import ctypes
import logging
from typing import Any

import pytest

from kiosk.platform import desktop as dt
from kiosk.platform.desktop import (
    Monitor,
    Pointer,
    StartDesktop,
    WindowsDesktop,
    X11Desktop,
    this_desktop,
)


class Function:
    """A foreign function as ctypes shows it: callable, with argtypes and restype."""

    def __init__(self, impl: Any) -> None:
        self.impl, self.argtypes, self.restype = impl, None, None

    def __call__(self, *args: Any) -> Any:
        return self.impl(*args)


class FakeUser32:
    """EnumDisplayMonitors calls back once per monitor; GetMonitorInfoW fills MONITORINFOEXW."""

    def __init__(self, monitors: list[tuple[str, tuple, tuple, int]], *, wide: bool = True,
                 enum_ok: bool = True) -> None:
        self.screens = monitors
        self.enum_ok = enum_ok
        self.cursor: tuple[int, int] | None = (0, 0)
        self.down: set[int] = set()  # virtual keys of the physical buttons held
        self.swapped = False
        self.styles: dict[int, int] = {}
        self.placed: list[tuple] = []
        self.EnumDisplayMonitors = Function(self._enum)
        self.GetMonitorInfoW = Function(self._info)
        self.GetCursorPos = Function(self._cursor)
        self.SetWindowPos = Function(lambda *args: self.placed.append(args) or 1)
        self.GetAsyncKeyState = Function(lambda vk: -32768 if vk in self.down else 0)
        self.GetSystemMetrics = Function(
            lambda index: int(self.swapped) if index == dt.SM_SWAPBUTTON else 0)
        get = Function(lambda hwnd, index: self.styles.get((hwnd, index), 0))
        put = Function(lambda hwnd, index, value: self.styles.__setitem__((hwnd, index), value))
        if wide:  # 64-bit Windows
            self.GetWindowLongPtrW, self.SetWindowLongPtrW = get, put
        else:  # 32-bit Windows exports only the plain pair
            self.GetWindowLongW, self.SetWindowLongW = get, put

    def _enum(self, dc: Any, clip: Any, callback: Any, data: int) -> int:
        assert dc is None and clip is None
        if not self.enum_ok:
            return 0
        for handle in range(len(self.screens)):
            if not callback(1000 + handle, 0, None, data):
                break
        return 1

    def _info(self, handle: int, info_p: Any) -> int:
        info = info_p.contents
        assert info.cbSize == ctypes.sizeof(dt.MONITORINFOEXW)
        name, edges, work_edges, flags = self.screens[handle - 1000]
        info.rcMonitor = dt.RECT(*edges)  # left, top, right, bottom
        info.rcWork = dt.RECT(*work_edges)
        info.dwFlags = flags
        units = name.encode("utf-16-le")
        info.szDevice = (ctypes.c_uint16 * 32)(*memoryview(units).cast("H"))
        return 1

    def _cursor(self, point_p: Any) -> int:
        if self.cursor is None:
            return 0
        point_p.contents.x, point_p.contents.y = self.cursor
        return 1


TWO = [(r"\\.\DISPLAY1", (0, 0, 1920, 1080), (0, 0, 1920, 1040), dt.MONITORINFOF_PRIMARY),
       (r"\\.\DISPLAY2", (-1280, 0, 0, 1024), (-1280, 0, 0, 1024), 0)]


def test_windows_lists_every_monitor_with_its_work_area_and_the_primary():
    assert WindowsDesktop(FakeUser32(TWO)).monitors() == (
        Monitor(r"\\.\DISPLAY1", (0, 0, 1920, 1080), (0, 0, 1920, 1040), True),
        Monitor(r"\\.\DISPLAY2", (-1280, 0, 1280, 1024), (-1280, 0, 1280, 1024), False))


def test_windows_that_cannot_list_its_monitors_lists_none():
    assert WindowsDesktop(FakeUser32(TWO, enum_ok=False)).monitors() == ()


def test_windows_gives_the_cursor_on_the_desktop_and_whether_the_primary_button_is_down():
    user32 = FakeUser32(TWO)
    user32.cursor = (-640, 300)
    desktop = WindowsDesktop(user32)
    assert desktop.pointer() == Pointer(-640, 300, False)
    user32.down = {dt.VK_LBUTTON}
    assert desktop.pointer() == Pointer(-640, 300, True)
    user32.swapped = True  # a left-handed mouse: the primary button is the physical right one
    assert desktop.pointer().pressed is False
    user32.down = {dt.VK_RBUTTON}
    assert desktop.pointer().pressed is True
    user32.cursor = None  # a secure desktop has it
    assert desktop.pointer() is None


@pytest.mark.parametrize("wide", [True, False], ids=["64-bit", "32-bit"])
def test_windows_widget_and_covers_leave_the_focus_where_it_is_when_clicked(wide):
    user32 = FakeUser32(TWO, wide=wide)
    user32.styles[(77, dt.GWL_EXSTYLE)] = 0x8  # WS_EX_TOPMOST, kept
    desktop = WindowsDesktop(user32)
    desktop.no_activate(77, True)
    assert user32.styles[(77, dt.GWL_EXSTYLE)] == 0x8 | dt.WS_EX_NOACTIVATE
    desktop.no_activate(77, False)  # a locked page takes the focus again
    assert user32.styles[(77, dt.GWL_EXSTYLE)] == 0x8


def test_windows_lifts_a_cover_on_top_without_activating_it():
    user32 = FakeUser32(TWO)
    WindowsDesktop(user32).lift(55)
    assert user32.placed == [(55, dt.HWND_TOPMOST, 0, 0, 0, 0,
                              dt.SWP_NOMOVE | dt.SWP_NOSIZE | dt.SWP_NOACTIVATE)]


def test_windows_functions_get_their_real_signatures():
    user32 = FakeUser32(TWO)
    WindowsDesktop(user32)
    assert user32.EnumDisplayMonitors.argtypes[0] is ctypes.c_void_p
    assert user32.EnumDisplayMonitors.argtypes[2] is dt.MONITORENUMPROC
    assert user32.GetMonitorInfoW.argtypes[0] is ctypes.c_void_p
    assert user32.SetWindowPos.argtypes[:2] == [ctypes.c_void_p, ctypes.c_void_p]
    assert user32.SetWindowLongPtrW.restype is ctypes.c_ssize_t
    assert user32.GetAsyncKeyState.restype is ctypes.c_short
    assert ctypes.sizeof(dt.MONITORINFOEXW) == 104  # cbSize Windows expects


class FakeXlib:
    """Just enough of libX11 and libXrandr for the RandR version check."""

    def __init__(self, display: int = 1, randr: tuple[int, int] | None = (1, 6)) -> None:
        self.closed = 0
        self.XOpenDisplay = Function(lambda name: display)
        self.XCloseDisplay = Function(lambda d: setattr(self, "closed", self.closed + 1))
        self.XDefaultRootWindow = Function(lambda d: 0x1E1)
        for name in ("XGetAtomName", "XFree", "XQueryPointer", "XRaiseWindow", "XFlush",
                     "XRRGetMonitors", "XRRFreeMonitors"):
            setattr(self, name, Function(lambda *args: pytest.fail("not to be called")))
        self.XRRQueryExtension = Function(lambda d, event, error: int(randr is not None))

        def version(d: Any, major: Any, minor: Any) -> int:
            major._obj.value, minor._obj.value = randr or (0, 0)
            return 1

        self.XRRQueryVersion = Function(version)


def test_x11_without_a_display_or_without_randr_1_5_is_refused_and_closed():
    with pytest.raises(OSError, match="cannot open the X display"):
        X11Desktop(FakeXlib(display=0), FakeXlib(display=0))
    for randr in (None, (1, 4)):
        lib = FakeXlib(randr=randr)
        with pytest.raises(OSError, match="RandR 1.5"):
            X11Desktop(lib, lib)
        assert lib.closed == 1


def test_each_system_gets_its_own_reader_and_anything_else_the_start_view(caplog):
    user32 = FakeUser32(TWO)
    assert isinstance(this_desktop("windows", [(1920, 1080)], platform="win32",
                                   load_user32=lambda: user32), WindowsDesktop)
    lib = FakeXlib()
    assert isinstance(this_desktop("x11", [(1920, 1080)], platform="linux",
                                   load_x11=lambda: (lib, lib)), X11Desktop)
    other = this_desktop("wayland", [(2560, 1440), (1920, 1080)], platform="linux")
    assert other.monitors() == (Monitor("display 1", (0, 0, 2560, 1440), (0, 0, 2560, 1440),
                                        True),)
    assert other.pointer() is None


def test_an_x_server_without_randr_falls_back_to_the_start_view_and_says_so(caplog):
    caplog.set_level(logging.WARNING, logger="kiosk.platform.desktop")
    lib = FakeXlib(randr=(1, 2))
    found = this_desktop("x11", [(1280, 720)], platform="linux", load_x11=lambda: (lib, lib))
    assert isinstance(found, StartDesktop)
    assert found.monitors()[0].rect == (0, 0, 1280, 720)
    assert "covering only the first display" in caplog.text


def test_a_start_view_of_nothing_is_no_monitor():
    assert StartDesktop([]).monitors() == ()
