"""Reading windows back from a real Win32: their extended styles and the z-order."""

from __future__ import annotations

import ctypes

from kiosk.platform import desktop as dt

WS_EX_TOPMOST = 0x00000008
GW_HWNDNEXT = 2


class User32:
    """The calls a test reads the windows with."""

    def __init__(self) -> None:
        self.dll = ctypes.WinDLL("user32")  # type: ignore[attr-defined]
        handle = ctypes.c_void_p
        for name, argtypes, restype in [
            ("GetWindowLongPtrW", [handle, ctypes.c_int], ctypes.c_ssize_t),
            ("GetForegroundWindow", [], handle),
            ("GetWindow", [handle, ctypes.c_uint], handle),
            ("SetWindowPos", [handle, handle] + [ctypes.c_int] * 4 + [ctypes.c_uint],
             ctypes.c_int),
            ("GetCursorPos", [ctypes.POINTER(dt.POINT)], ctypes.c_int),
            ("SetCursorPos", [ctypes.c_int, ctypes.c_int], ctypes.c_int),
        ]:
            function = getattr(self.dll, name)
            function.argtypes, function.restype = argtypes, restype

    def ex_style(self, hwnd: int) -> int:
        return self.dll.GetWindowLongPtrW(hwnd, dt.GWL_EXSTYLE)

    def topmost(self, hwnd: int) -> bool:
        return bool(self.ex_style(hwnd) & WS_EX_TOPMOST)

    def above(self, upper: int, lower: int) -> bool:
        """Whether ``upper`` is above ``lower`` in the z-order."""
        hwnd = self.dll.GetWindow(upper, GW_HWNDNEXT)
        while hwnd:
            if hwnd == lower:
                return True
            hwnd = self.dll.GetWindow(hwnd, GW_HWNDNEXT)
        return False
