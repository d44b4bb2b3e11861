"""The Windows side of the end-to-end tests: the desktop seen and driven through Win32.

Under ``make test-windows`` the test process is itself a Windows process (the Windows
CPython in Wine), so it looks at the screen and acts on it the way a Windows test harness
would on a real PC: screenshots by ``BitBlt`` from the screen's device context, clicks by
``SetCursorPos`` and ``SendInput``, windows by ``EnumWindows``, processes by a Toolhelp
snapshot and the command line in each one's PEB (what ``/proc/PID/cmdline`` gives on
Linux), and ends them with ``TerminateProcess``. The same calls work on Windows itself.

Why not xdotool and xwd from here: Wine starts a Linux program from a Windows process
(``fork_and_exec`` in ntdll) but hands back no process handle (``WinError 6`` from
``subprocess``), so neither its end nor its exit code can be waited for.
Wine facts these functions rely on (Wine 8 on Xvfb, measured): ``BitBlt`` from
``GetDC(NULL)`` returns what X shows, windows of other processes included;
``NtQueryInformationProcess(ProcessCommandLineInformation)`` is not implemented
(``STATUS_INVALID_INFO_CLASS``), reading the PEB is.
"""

from __future__ import annotations

import ctypes
import os
import subprocess
from collections.abc import Mapping, Sequence
from ctypes import wintypes
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import numpy as np

Rect = tuple[int, int, int, int]

SM_CXSCREEN, SM_CYSCREEN = 0, 1
SRCCOPY, CAPTUREBLT = 0x00CC0020, 0x40000000
INPUT_MOUSE = 0
# X's button numbers (left, middle, right) → MOUSEEVENTF_*DOWN, *UP.
BUTTON_FLAGS = {1: (0x0002, 0x0004), 2: (0x0020, 0x0040), 3: (0x0008, 0x0010)}
PROCESS_TERMINATE, PROCESS_VM_READ, PROCESS_QUERY_INFORMATION = 0x0001, 0x0010, 0x0400
# x64 layouts (winternl.h): PEB.ProcessParameters, RTL_USER_PROCESS_PARAMETERS.CommandLine.
PEB_PROCESS_PARAMETERS, PARAMETERS_COMMAND_LINE = 0x20, 0x70


class _BitmapInfoHeader(ctypes.Structure):
    _fields_ = [("biSize", wintypes.DWORD), ("biWidth", wintypes.LONG),
                ("biHeight", wintypes.LONG), ("biPlanes", wintypes.WORD),
                ("biBitCount", wintypes.WORD), ("biCompression", wintypes.DWORD),
                ("biSizeImage", wintypes.DWORD), ("biXPelsPerMeter", wintypes.LONG),
                ("biYPelsPerMeter", wintypes.LONG), ("biClrUsed", wintypes.DWORD),
                ("biClrImportant", wintypes.DWORD)]


class _MouseInput(ctypes.Structure):
    _fields_ = [("dx", wintypes.LONG), ("dy", wintypes.LONG), ("mouseData", wintypes.DWORD),
                ("dwFlags", wintypes.DWORD), ("time", wintypes.DWORD),
                ("dwExtraInfo", ctypes.c_size_t)]


class _Input(ctypes.Structure):
    class _U(ctypes.Union):
        # The union's largest member (KEYBDINPUT, HARDWAREINPUT) is not larger than this one.
        _fields_ = [("mi", _MouseInput)]

    _anonymous_ = ("u",)
    _fields_ = [("type", wintypes.DWORD), ("u", _U)]


class _BasicInformation(ctypes.Structure):
    _fields_ = [("ExitStatus", ctypes.c_long), ("PebBaseAddress", ctypes.c_void_p),
                ("AffinityMask", ctypes.c_size_t), ("BasePriority", ctypes.c_long),
                ("UniqueProcessId", ctypes.c_size_t),
                ("InheritedFromUniqueProcessId", ctypes.c_size_t)]


class _UnicodeString(ctypes.Structure):
    _fields_ = [("Length", wintypes.USHORT), ("MaximumLength", wintypes.USHORT),
                ("Buffer", ctypes.c_void_p)]


_api: dict[str, Any] = {}


def _dlls() -> dict[str, Any]:
    """user32, gdi32, kernel32 and ntdll with the signatures used here, and the watchdog's
    Win32 calls (once)."""
    if _api:
        return _api
    user32 = ctypes.WinDLL("user32", use_last_error=True)
    gdi32 = ctypes.WinDLL("gdi32", use_last_error=True)
    kernel32 = ctypes.WinDLL("kernel32", use_last_error=True)
    ntdll = ctypes.WinDLL("ntdll")
    handle, hdc = wintypes.HANDLE, wintypes.HDC
    user32.GetDC.restype, user32.GetDC.argtypes = hdc, (wintypes.HWND,)
    user32.ReleaseDC.argtypes = (wintypes.HWND, hdc)
    user32.SetCursorPos.argtypes = (ctypes.c_int, ctypes.c_int)
    user32.SendInput.argtypes = (wintypes.UINT, ctypes.POINTER(_Input), ctypes.c_int)
    user32.SendInput.restype = wintypes.UINT
    user32.EnumWindows.argtypes = (_ENUM_PROC, wintypes.LPARAM)
    user32.GetWindowThreadProcessId.argtypes = (wintypes.HWND, ctypes.POINTER(wintypes.DWORD))
    user32.IsWindowVisible.argtypes = (wintypes.HWND,)
    user32.GetWindowRect.argtypes = (wintypes.HWND, ctypes.POINTER(wintypes.RECT))
    gdi32.CreateCompatibleDC.restype, gdi32.CreateCompatibleDC.argtypes = hdc, (hdc,)
    gdi32.CreateCompatibleBitmap.restype = wintypes.HBITMAP
    gdi32.CreateCompatibleBitmap.argtypes = (hdc, ctypes.c_int, ctypes.c_int)
    gdi32.SelectObject.restype = wintypes.HGDIOBJ
    gdi32.SelectObject.argtypes = (hdc, wintypes.HGDIOBJ)
    gdi32.BitBlt.argtypes = (hdc, ctypes.c_int, ctypes.c_int, ctypes.c_int, ctypes.c_int, hdc,
                             ctypes.c_int, ctypes.c_int, wintypes.DWORD)
    gdi32.GetDIBits.argtypes = (hdc, wintypes.HBITMAP, wintypes.UINT, wintypes.UINT,
                                ctypes.c_void_p, ctypes.POINTER(_BitmapInfoHeader), wintypes.UINT)
    gdi32.DeleteObject.argtypes = (wintypes.HGDIOBJ,)
    gdi32.DeleteDC.argtypes = (hdc,)
    kernel32.OpenProcess.restype = handle
    kernel32.OpenProcess.argtypes = (wintypes.DWORD, wintypes.BOOL, wintypes.DWORD)
    kernel32.ReadProcessMemory.argtypes = (handle, ctypes.c_void_p, ctypes.c_void_p,
                                           ctypes.c_size_t, ctypes.POINTER(ctypes.c_size_t))
    kernel32.TerminateProcess.argtypes = (handle, wintypes.UINT)
    kernel32.CloseHandle.argtypes = (handle,)
    ntdll.NtQueryInformationProcess.argtypes = (handle, ctypes.c_int, ctypes.c_void_p,
                                                wintypes.ULONG, ctypes.POINTER(wintypes.ULONG))
    ntdll.NtQueryInformationProcess.restype = ctypes.c_long
    # The process list and the command line's split are the watchdog's own (one place).
    from kiosk.platform.watch_windows import Win32

    _api.update(user32=user32, gdi32=gdi32, kernel32=kernel32, ntdll=ntdll, processes=Win32())
    return _api


_ENUM_PROC = ctypes.WINFUNCTYPE(wintypes.BOOL, wintypes.HWND, wintypes.LPARAM) if hasattr(
    ctypes, "WINFUNCTYPE") else None


class Desktop:
    """The screen the Windows test process runs on (Wine's, on the Xvfb of ``make
    test-windows``): what :class:`~tests.e2e.xscreen.VirtualScreen` is to the Linux tests."""

    @property
    def size(self) -> tuple[int, int]:
        user32 = _dlls()["user32"]
        return user32.GetSystemMetrics(SM_CXSCREEN), user32.GetSystemMetrics(SM_CYSCREEN)

    def env(self, extra: Mapping[str, str] | None = None) -> dict[str, str]:
        """A copy of os.environ for a program shown on this desktop (SDL's Windows driver:
        the in-process tests set ``SDL_VIDEODRIVER=dummy`` for the whole run)."""
        return {**os.environ, "SDL_VIDEODRIVER": "windows", "SDL_AUDIODRIVER": "dummy",
                **(extra or {})}

    def popen(self, args: Sequence[str], *, env: Mapping[str, str] | None = None,
              **kwargs: Any) -> subprocess.Popen[bytes]:
        """Start a program in a process group of its own, as VirtualScreen.popen does."""
        kwargs.setdefault("stdin", subprocess.DEVNULL)
        return subprocess.Popen(list(args), env=self.env(env),
                                creationflags=subprocess.CREATE_NEW_PROCESS_GROUP, **kwargs)


def screenshot() -> np.ndarray:
    """The whole screen as a BGR ``uint8`` array of shape (H, W, 3), from the screen's DC."""
    import numpy as np

    api = _dlls()
    user32, gdi32 = api["user32"], api["gdi32"]
    width, height = Desktop().size
    screen = user32.GetDC(None)
    memory = gdi32.CreateCompatibleDC(screen)
    bitmap = gdi32.CreateCompatibleBitmap(screen, width, height)
    try:
        gdi32.SelectObject(memory, bitmap)
        if not gdi32.BitBlt(memory, 0, 0, width, height, screen, 0, 0, SRCCOPY | CAPTUREBLT):
            raise OSError(ctypes.get_last_error(), "BitBlt from the screen failed")
        header = _BitmapInfoHeader(ctypes.sizeof(_BitmapInfoHeader), width, -height, 1, 32)
        pixels = np.empty((height, width, 4), np.uint8)  # top-down BGRX rows
        if gdi32.GetDIBits(memory, bitmap, 0, height, pixels.ctypes.data, header, 0) != height:
            raise OSError(ctypes.get_last_error(), "GetDIBits failed")
    finally:
        gdi32.DeleteObject(bitmap)
        gdi32.DeleteDC(memory)
        user32.ReleaseDC(None, screen)
    return np.ascontiguousarray(pixels[:, :, :3])


def move(x: int, y: int) -> None:
    """Put the pointer at screen coordinates ``(x, y)``."""
    if not _dlls()["user32"].SetCursorPos(x, y):
        raise OSError(ctypes.get_last_error(), "SetCursorPos failed")


def click(x: int, y: int, button: int = 1) -> None:
    """Move the pointer to ``(x, y)`` and click ``button`` there (injected input)."""
    move(x, y)
    events = (_Input * 2)()
    for event, flag in zip(events, BUTTON_FLAGS[button], strict=True):
        event.type = INPUT_MOUSE
        event.mi.dwFlags = flag
    if _dlls()["user32"].SendInput(2, events, ctypes.sizeof(_Input)) != 2:
        raise OSError(ctypes.get_last_error(), "SendInput failed")


def windows_of(pid: int) -> list[int]:
    """The visible top-level windows of process ``pid``, as handles."""
    user32 = _dlls()["user32"]
    found: list[int] = []

    def each(hwnd: int, _: int) -> bool:
        owner = wintypes.DWORD()
        user32.GetWindowThreadProcessId(hwnd, ctypes.byref(owner))
        if owner.value == pid and user32.IsWindowVisible(hwnd):
            found.append(int(hwnd))
        return True

    user32.EnumWindows(_ENUM_PROC(each), 0)
    return sorted(found)


def window_rect(hwnd: int) -> Rect:
    """``(x, y, width, height)`` of a window in screen coordinates."""
    rect = wintypes.RECT()
    if not _dlls()["user32"].GetWindowRect(hwnd, ctypes.byref(rect)):
        raise OSError(ctypes.get_last_error(), f"GetWindowRect({hwnd}) failed")
    return rect.left, rect.top, rect.right - rect.left, rect.bottom - rect.top


def pids() -> list[int]:
    """Every process's id, from a Toolhelp snapshot."""
    return _dlls()["processes"].pids()


def _read(process: int, address: int, into: Any) -> bool:
    done = ctypes.c_size_t()
    return bool(_dlls()["kernel32"].ReadProcessMemory(
        process, address, ctypes.byref(into), ctypes.sizeof(into), ctypes.byref(done)))


def cmdline(pid: int) -> list[str]:
    """A process's argv from the command line in its PEB; ``[]`` if it is gone or closed
    to us."""
    api = _dlls()
    kernel32 = api["kernel32"]
    process = kernel32.OpenProcess(PROCESS_QUERY_INFORMATION | PROCESS_VM_READ, False, pid)
    if not process:
        return []
    try:
        basic = _BasicInformation()
        if api["ntdll"].NtQueryInformationProcess(process, 0, ctypes.byref(basic),
                                                  ctypes.sizeof(basic), None) != 0:
            return []
        parameters = ctypes.c_void_p()
        line = _UnicodeString()
        if not (basic.PebBaseAddress
                and _read(process, basic.PebBaseAddress + PEB_PROCESS_PARAMETERS, parameters)
                and parameters.value
                and _read(process, parameters.value + PARAMETERS_COMMAND_LINE, line)
                and line.Buffer):
            return []
        text = ctypes.create_unicode_buffer(line.Length // 2 + 1)
        if not _read(process, line.Buffer, text):
            return []
    finally:
        kernel32.CloseHandle(process)
    return split_command_line(text.value)


def split_command_line(line: str) -> list[str]:
    """A Windows command line split as programs see it (CommandLineToArgvW)."""
    return _dlls()["processes"].split(line) if line else []


def terminate(pid: int, code: int = 1) -> bool:
    """End a process at once with TerminateProcess (what Task Manager's End task does);
    False if it was gone already."""
    kernel32 = _dlls()["kernel32"]
    process = kernel32.OpenProcess(PROCESS_TERMINATE, False, pid)
    if not process:
        return False
    try:
        return bool(kernel32.TerminateProcess(process, code))
    finally:
        kernel32.CloseHandle(process)
