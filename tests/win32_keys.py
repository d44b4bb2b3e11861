"""Keys injected into a real Win32 (``SendInput``) and what the kiosk's hook let through.

``KeyObserver`` installs a low-level keyboard hook of its own *before* the kiosk's. Windows
calls the most recently installed hook first, so the observer sits after the kiosk's hook
in the chain and sees exactly the events it passed on. The observer then swallows every
key but the modifiers (Ctrl, Shift and Alt must reach the system, whose key state says
whether they are held), so nothing a test types reaches the desktop: no Start menu, no
task switch, not even on a real Windows. Each burst ends with F24, which no keyboard
has: once the observer saw it, every key before it has been through the chain.
"""

from __future__ import annotations

import ctypes
import threading
import time
from collections.abc import Iterable
from typing import Any

from kiosk.platform import keyboard as kb

INPUT_KEYBOARD = 1
KEYEVENTF_KEYUP = 0x0002
VK_SHIFT, VK_CONTROL, VK_MENU = 0x10, 0x11, 0x12
VK_LSHIFT, VK_RSHIFT, VK_LCONTROL, VK_RCONTROL, VK_LMENU, VK_RMENU = range(0xA0, 0xA6)
VK_F24 = 0x87
MODIFIERS = frozenset({VK_SHIFT, VK_CONTROL, VK_MENU, VK_LSHIFT, VK_RSHIFT, VK_LCONTROL,
                       VK_RCONTROL, VK_LMENU, VK_RMENU})


class KEYBDINPUT(ctypes.Structure):
    _fields_ = [("wVk", ctypes.c_uint16), ("wScan", ctypes.c_uint16),
                ("dwFlags", ctypes.c_uint32), ("time", ctypes.c_uint32),
                ("dwExtraInfo", ctypes.c_size_t)]


class _INPUTUNION(ctypes.Union):
    # MOUSEINPUT is the largest member: 32 bytes on 64-bit Windows, 24 on 32-bit.
    _fields_ = [("ki", KEYBDINPUT), ("size", ctypes.c_byte * (24 + ctypes.sizeof(ctypes.c_void_p)))]


class INPUT(ctypes.Structure):
    _fields_ = [("type", ctypes.c_uint32), ("u", _INPUTUNION)]


Stroke = tuple[int, bool]  # virtual key, pressed (False: released)


def combo(*keys: int) -> list[Stroke]:
    """Press ``keys`` in order, release them in reverse: Alt+Tab is combo(VK_LMENU, VK_TAB)."""
    return [(vk, True) for vk in keys] + [(vk, False) for vk in reversed(keys)]


def inject(strokes: Iterable[Stroke], *, stamp_age_ms: int | None = None) -> None:
    """Each stroke through ``SendInput``, as a keyboard gives it: with its scan code (SDL
    drops a key event whose scan code is 0). ``stamp_age_ms``: give every event a time
    stamp that long ago instead of letting the system stamp it."""
    user32, kernel32 = kb.load_win32()
    kb.declare(user32, kernel32)
    user32.SendInput.argtypes = [ctypes.c_uint, ctypes.POINTER(INPUT), ctypes.c_int]
    user32.SendInput.restype = ctypes.c_uint
    for vk, down in strokes:
        stamp = 0
        if stamp_age_ms is not None:
            stamp = (kernel32.GetTickCount() - stamp_age_ms) & 0xFFFFFFFF
        event = INPUT(type=INPUT_KEYBOARD)
        event.u.ki = KEYBDINPUT(wVk=vk, wScan=user32.MapVirtualKeyW(vk, 0),
                                dwFlags=0 if down else KEYEVENTF_KEYUP, time=stamp)
        if user32.SendInput(1, ctypes.byref(event), ctypes.sizeof(INPUT)) != 1:
            raise OSError(f"SendInput failed (error {ctypes.get_last_error()})")


class KeyObserver:
    """The end of the hook chain, on a message-pumping thread of its own (see the module)."""

    def __init__(self) -> None:
        self.user32, self.kernel32 = kb.load_win32()
        kb.declare(self.user32, self.kernel32)
        self.seen: list[tuple[int, int]] = []  # (virtual key, message) of each event let through
        self._proc = kb.HOOKPROC(self._callback)
        self._ready = threading.Event()
        self._thread_id = 0
        self._hook: Any = None
        self._thread = threading.Thread(target=self._pump, name="key-observer", daemon=True)
        self._thread.start()
        if not self._ready.wait(5) or not self._hook:
            raise OSError(f"no observer hook (error {ctypes.get_last_error()})")

    def _pump(self) -> None:
        msg = kb.MSG()
        self.user32.PeekMessageW(ctypes.pointer(msg), None, kb.WM_USER, kb.WM_USER,
                                 kb.PM_NOREMOVE)
        self._thread_id = self.kernel32.GetCurrentThreadId()
        self._hook = self.user32.SetWindowsHookExW(
            kb.WH_KEYBOARD_LL, self._proc, self.kernel32.GetModuleHandleW(None), 0)
        self._ready.set()
        while self.user32.GetMessageW(ctypes.pointer(msg), None, 0, 0) > 0:
            pass
        self.user32.UnhookWindowsHookEx(self._hook)

    def _callback(self, code: int, wparam: int, lparam: int) -> int:
        if code == kb.HC_ACTION:
            vk = kb.KBDLLHOOKSTRUCT.from_address(lparam).vkCode
            self.seen.append((vk, wparam))
            if vk not in MODIFIERS:
                return 1
        return self.user32.CallNextHookEx(None, code, wparam, lparam)

    def type(self, strokes: Iterable[Stroke], *, stamp_age_ms: int | None = None) -> list[int]:
        """Inject ``strokes`` (then F24) and wait until they went through the chain; the
        virtual keys of the presses that reached the observer. ``stamp_age_ms``: give
        every event a time stamp that long ago instead of letting the system stamp it."""
        self.seen.clear()
        inject([*strokes, (VK_F24, True), (VK_F24, False)], stamp_age_ms=stamp_age_ms)
        deadline = time.monotonic() + 10
        while not {(VK_F24, kb.WM_KEYUP), (VK_F24, kb.WM_SYSKEYUP)} & set(self.seen):
            if time.monotonic() > deadline:
                raise TimeoutError(f"the injected keys did not come through: {self.seen}")
            time.sleep(0.01)
        return [vk for vk, message in self.seen
                if message in (kb.WM_KEYDOWN, kb.WM_SYSKEYDOWN) and vk != VK_F24]

    def close(self) -> None:
        self.user32.PostThreadMessageW(self._thread_id, kb.WM_QUIT, 0, 0)
        self._thread.join(5)
