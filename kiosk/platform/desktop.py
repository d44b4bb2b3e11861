"""This PC's monitors and pointer, read from the OS itself at every look.

SDL reads the monitor layout once, when its video subsystem starts: through pygame-ce
2.5 (SDL 2.32) a monitor added, removed or set to another resolution later is never
seen. The kiosk covers every monitor and keeps its widget on a visible one, so it asks
the OS instead: on Windows ``EnumDisplayMonitors`` and ``GetMonitorInfoW`` (which also
give each monitor's work area, the part the taskbar leaves); on X11 RandR's monitor
list (``XRRGetMonitors``, RandR 1.5) over a connection of its own. Anywhere else the
kiosk knows only the first display SDL saw at start.
"""

from __future__ import annotations

import ctypes
import logging
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple, Protocol

log = logging.getLogger(__name__)

Rect = tuple[int, int, int, int]  # x, y, width, height in desktop pixels
Point = tuple[int, int]


class Pointer(NamedTuple):
    """Where the pointer is on the desktop, and whether its primary button is down."""

    x: int
    y: int
    pressed: bool


@dataclass(frozen=True)
class Monitor:
    """One monitor: where it is on the desktop, and the part of it windows may use."""

    name: str
    rect: Rect
    work: Rect  # without the taskbar; the whole monitor where the OS has none
    primary: bool = False


class Desktop(Protocol):
    """What the window code asks of the OS about the desktop."""

    def monitors(self) -> tuple[Monitor, ...]:
        """Every monitor in use now; empty when the OS cannot say at this moment."""

    def pointer(self) -> Pointer | None:
        """The pointer on the desktop, or None where the OS does not say."""

    def no_activate(self, handle: int, on: bool) -> None:
        """Whether a click on the window ``handle`` leaves the focus where it is."""

    def lift(self, handle: int) -> None:
        """The window ``handle`` above all others, without giving it the focus."""

    def close(self) -> None: ...


# --- Windows -------------------------------------------------------------------------

MONITORINFOF_PRIMARY = 0x1
GWL_EXSTYLE = -20
WS_EX_NOACTIVATE = 0x08000000
HWND_TOPMOST = -1
VK_LBUTTON, VK_RBUTTON, KEY_DOWN = 0x01, 0x02, 0x8000
SM_SWAPBUTTON = 23
SWP_NOSIZE, SWP_NOMOVE, SWP_NOACTIVATE = 0x0001, 0x0002, 0x0010


# Windows' LONG and WCHAR are 32 and 16 bits wide; ctypes' c_long and c_wchar are not on
# Linux, where these structures are tested.
class RECT(ctypes.Structure):
    _fields_ = [("left", ctypes.c_int32), ("top", ctypes.c_int32), ("right", ctypes.c_int32),
                ("bottom", ctypes.c_int32)]

    def rect(self) -> Rect:
        return self.left, self.top, self.right - self.left, self.bottom - self.top


class POINT(ctypes.Structure):
    _fields_ = [("x", ctypes.c_int32), ("y", ctypes.c_int32)]


class MONITORINFOEXW(ctypes.Structure):
    _fields_ = [("cbSize", ctypes.c_uint32), ("rcMonitor", RECT), ("rcWork", RECT),
                ("dwFlags", ctypes.c_uint32), ("szDevice", ctypes.c_uint16 * 32)]

    def device(self) -> str:
        r"""The monitor's name, such as ``\\.\DISPLAY1``."""
        return bytes(self.szDevice).decode("utf-16-le", "replace").split("\0")[0]


# stdcall on 32-bit Windows; elsewhere (and in the Linux tests) the C convention.
MONITORENUMPROC = getattr(ctypes, "WINFUNCTYPE", ctypes.CFUNCTYPE)(
    ctypes.c_int, ctypes.c_void_p, ctypes.c_void_p, ctypes.POINTER(RECT), ctypes.c_ssize_t)


def _declare_user32(user32: Any) -> tuple[Callable[..., int], Callable[..., int]]:
    """The real signatures (handles are 64-bit on x64 Windows; ctypes' default int would
    cut them), and the window-style pair, which 32-bit Windows exports without "Ptr"."""
    handle, c_int = ctypes.c_void_p, ctypes.c_int
    get = getattr(user32, "GetWindowLongPtrW", None) or user32.GetWindowLongW
    put = getattr(user32, "SetWindowLongPtrW", None) or user32.SetWindowLongW
    signatures = [
        (user32.EnumDisplayMonitors, [handle, ctypes.POINTER(RECT), MONITORENUMPROC,
                                      ctypes.c_ssize_t], c_int),
        (user32.GetMonitorInfoW, [handle, ctypes.POINTER(MONITORINFOEXW)], c_int),
        (user32.GetCursorPos, [ctypes.POINTER(POINT)], c_int),
        (user32.GetAsyncKeyState, [c_int], ctypes.c_short),
        (user32.GetSystemMetrics, [c_int], c_int),
        (user32.SetWindowPos, [handle, handle, c_int, c_int, c_int, c_int, ctypes.c_uint], c_int),
        (get, [handle, c_int], ctypes.c_ssize_t),
        (put, [handle, c_int, ctypes.c_ssize_t], ctypes.c_ssize_t),
    ]
    for function, argtypes, restype in signatures:
        function.argtypes, function.restype = argtypes, restype
    return get, put


class WindowsDesktop:
    """user32's monitor list, cursor and window styles."""

    def __init__(self, user32: Any) -> None:
        self.user32 = user32
        self._get_style, self._set_style = _declare_user32(user32)

    def monitors(self) -> tuple[Monitor, ...]:
        handles: list[int] = []

        def found(monitor: int, dc: int, rect: Any, data: int) -> int:
            handles.append(monitor)
            return 1  # go on

        if not self.user32.EnumDisplayMonitors(None, None, MONITORENUMPROC(found), 0):
            return ()
        monitors = []
        for handle in handles:
            info = MONITORINFOEXW(cbSize=ctypes.sizeof(MONITORINFOEXW))
            if self.user32.GetMonitorInfoW(handle, ctypes.pointer(info)):
                monitors.append(Monitor(info.device(), info.rcMonitor.rect(), info.rcWork.rect(),
                                        bool(info.dwFlags & MONITORINFOF_PRIMARY)))
        return tuple(monitors)

    def pointer(self) -> Pointer | None:
        point = POINT()
        if not self.user32.GetCursorPos(ctypes.pointer(point)):
            return None
        # GetAsyncKeyState reads the physical buttons: the primary one is the right one
        # when the user swapped them.
        button = VK_RBUTTON if self.user32.GetSystemMetrics(SM_SWAPBUTTON) else VK_LBUTTON
        return Pointer(point.x, point.y, bool(self.user32.GetAsyncKeyState(button) & KEY_DOWN))

    def no_activate(self, handle: int, on: bool) -> None:
        style = self._get_style(handle, GWL_EXSTYLE)
        wanted = style | WS_EX_NOACTIVATE if on else style & ~WS_EX_NOACTIVATE
        if wanted != style:
            self._set_style(handle, GWL_EXSTYLE, wanted)

    def lift(self, handle: int) -> None:
        self.user32.SetWindowPos(handle, HWND_TOPMOST, 0, 0, 0, 0,
                                 SWP_NOMOVE | SWP_NOSIZE | SWP_NOACTIVATE)

    def close(self) -> None:
        pass


# --- X11 -----------------------------------------------------------------------------

BUTTON1_MASK = 1 << 8


class XRRMonitorInfo(ctypes.Structure):
    _fields_ = [("name", ctypes.c_ulong), ("primary", ctypes.c_int), ("automatic", ctypes.c_int),
                ("noutput", ctypes.c_int), ("x", ctypes.c_int), ("y", ctypes.c_int),
                ("width", ctypes.c_int), ("height", ctypes.c_int), ("mwidth", ctypes.c_int),
                ("mheight", ctypes.c_int), ("outputs", ctypes.c_void_p)]


def _declare_x11(x11: Any, xrandr: Any) -> None:
    display, window, int_p = ctypes.c_void_p, ctypes.c_ulong, ctypes.POINTER(ctypes.c_int)
    signatures = {
        (x11, "XOpenDisplay"): ([ctypes.c_char_p], display),
        (x11, "XCloseDisplay"): ([display], ctypes.c_int),
        (x11, "XDefaultRootWindow"): ([display], window),
        (x11, "XGetAtomName"): ([display, ctypes.c_ulong], ctypes.c_void_p),
        (x11, "XFree"): ([ctypes.c_void_p], ctypes.c_int),
        (x11, "XRaiseWindow"): ([display, window], ctypes.c_int),
        (x11, "XFlush"): ([display], ctypes.c_int),
        (x11, "XQueryPointer"): ([display, window, ctypes.POINTER(window), ctypes.POINTER(window),
                                  int_p, int_p, int_p, int_p, ctypes.POINTER(ctypes.c_uint)],
                                 ctypes.c_int),
        (xrandr, "XRRQueryExtension"): ([display, int_p, int_p], ctypes.c_int),
        (xrandr, "XRRQueryVersion"): ([display, int_p, int_p], ctypes.c_int),
        (xrandr, "XRRGetMonitors"): ([display, window, ctypes.c_int, int_p],
                                     ctypes.POINTER(XRRMonitorInfo)),
        (xrandr, "XRRFreeMonitors"): ([ctypes.POINTER(XRRMonitorInfo)], None),
    }
    for (lib, name), (argtypes, restype) in signatures.items():
        function = getattr(lib, name)
        function.argtypes, function.restype = argtypes, restype


class X11Desktop:
    """RandR's monitors and the pointer, over an X connection of our own (SDL's is SDL's)."""

    def __init__(self, x11: Any, xrandr: Any) -> None:
        _declare_x11(x11, xrandr)
        self.x11, self.xrandr = x11, xrandr
        self.display = x11.XOpenDisplay(None)
        if not self.display:
            raise OSError("cannot open the X display")
        self.root = x11.XDefaultRootWindow(self.display)
        event, error, major, minor = (ctypes.c_int() for _ in range(4))
        # Asking a server without RandR 1.5 would be an X error, which ends the process.
        if not (xrandr.XRRQueryExtension(self.display, ctypes.byref(event), ctypes.byref(error))
                and xrandr.XRRQueryVersion(self.display, ctypes.byref(major), ctypes.byref(minor))
                and (major.value, minor.value) >= (1, 5)):
            self.close()
            raise OSError("the X server has no RandR 1.5 monitor list")

    def monitors(self) -> tuple[Monitor, ...]:
        count = ctypes.c_int()
        found = self.xrandr.XRRGetMonitors(self.display, self.root, 1, ctypes.byref(count))
        if not found:
            return ()
        try:
            return tuple(self._monitor(found[i]) for i in range(count.value))
        finally:
            self.xrandr.XRRFreeMonitors(found)

    def _monitor(self, info: XRRMonitorInfo) -> Monitor:
        name = self.x11.XGetAtomName(self.display, info.name)
        try:
            text = ctypes.string_at(name).decode("utf-8", "replace") if name else "?"
        finally:
            if name:
                self.x11.XFree(name)
        rect = (info.x, info.y, info.width, info.height)
        return Monitor(text, rect, rect, bool(info.primary))

    def pointer(self) -> Pointer | None:
        root, child = ctypes.c_ulong(), ctypes.c_ulong()
        x, y, wx, wy = (ctypes.c_int() for _ in range(4))
        mask = ctypes.c_uint()
        if not self.x11.XQueryPointer(self.display, self.root, ctypes.byref(root),
                                      ctypes.byref(child), ctypes.byref(x), ctypes.byref(y),
                                      ctypes.byref(wx), ctypes.byref(wy), ctypes.byref(mask)):
            return None  # the pointer is on another X screen
        return Pointer(x.value, y.value, bool(mask.value & BUTTON1_MASK))

    def no_activate(self, handle: int, on: bool) -> None:
        pass  # an X server gives no window the focus for a click; window managers may

    def lift(self, handle: int) -> None:
        self.x11.XRaiseWindow(self.display, handle)
        self.x11.XFlush(self.display)

    def close(self) -> None:
        if self.display:
            self.x11.XCloseDisplay(self.display)
            self.display = None


def load_x11() -> tuple[Any, Any]:
    """libX11 and libXrandr by their sonames (find_library would start ldconfig)."""
    return ctypes.CDLL("libX11.so.6"), ctypes.CDLL("libXrandr.so.2")


# --- anything else ---------------------------------------------------------------------

class StartDesktop:
    """The first display as SDL saw it at start; nothing else is known."""

    def __init__(self, sizes: Sequence[tuple[int, int]]) -> None:
        width, height = sizes[0] if sizes else (0, 0)
        self._monitors = (Monitor("display 1", (0, 0, width, height), (0, 0, width, height),
                                  True),) if width and height else ()

    def monitors(self) -> tuple[Monitor, ...]:
        return self._monitors

    def pointer(self) -> Pointer | None:
        return None

    def no_activate(self, handle: int, on: bool) -> None:
        pass

    def lift(self, handle: int) -> None:
        pass

    def close(self) -> None:
        pass


def this_desktop(driver: str, sdl_sizes: Sequence[tuple[int, int]],
                 platform: str = sys.platform,
                 load_user32: Callable[[], Any] = lambda: ctypes.WinDLL("user32"),  # type: ignore[attr-defined]
                 load_x11: Callable[[], tuple[Any, Any]] = load_x11) -> Desktop:
    """The desktop reader for this OS and SDL video driver; SDL's start-up view if the
    OS's own cannot be had (logged)."""
    try:
        if platform == "win32":
            return WindowsDesktop(load_user32())
        if driver == "x11":
            return X11Desktop(*load_x11())
    except (OSError, AttributeError) as exc:
        log.warning("cannot read the monitors from the system (%s): covering only the first "
                    "display as it was at start", exc)
    return StartDesktop(sdl_sizes)
