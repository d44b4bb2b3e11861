"""Keeping system keys away from the desktop while the screen is locked.

On Windows a low-level keyboard hook (``WH_KEYBOARD_LL`` through ctypes) swallows
the keys that would show the desktop, switch tasks, close the window or open another
program: the Win keys, Alt+Tab, Alt+Esc, Alt+F4, Alt+Space, Ctrl+Esc, Ctrl+Shift+Esc,
Print Screen and a café keyboard's browser, volume, media and launch keys. Everywhere
SDL's keyboard grab is held too (on X11 it keeps a window manager's shortcuts away).
In C (the widget) both are released so the customer's games get every key.

The hook belongs to its thread: a killed kiosk leaves none behind, Windows removes it
with the thread. Ctrl+Alt+Del is the secure attention sequence: a hook sees it but
cannot stop it (no program can), which is why the venue disables Task Manager by
policy (README).

Facts relied on (Microsoft's LowLevelKeyboardProc and KBDLLHOOKSTRUCT pages):
the hook runs on the thread that installed it, through that thread's message loop;
returning nonzero swallows the key; a hook slower than ``LowLevelHooksTimeout``
(HKCU\\Control Panel\\Desktop, at most 1 s since Windows 10 1709) is removed
silently on Windows 7 and later, so a late callback makes us install it again.
Alt is down when ``LLKHF_ALTDOWN`` is set, the message is ``WM_SYSKEYDOWN``/``WM_SYSKEYUP``
(but for F10 alone, which opens the menu bar) or ``GetAsyncKeyState(VK_MENU)`` says so
(the asynchronous state is updated after the hook runs, so it is right for every key but
Alt itself, which the other two cover). Any one is enough: Wine 8 never sets the flag
(its messages and key state are right), and with Ctrl held too (Ctrl+Alt+Tab) the message
is ``WM_KEYDOWN`` (seen under Wine; F10 alone came as ``WM_SYSKEYDOWN`` there).

When is a call late? ``KBDLLHOOKSTRUCT.time`` is the event's ``GetTickCount`` stamp;
a call more than ``LATE_MS`` after it may have been one Windows gave up on. Only events
stamped after the hook now installed count: the keys queued behind one stall make one
reinstall, not one each.

Under Wine (measured on Xvfb) every key from the X server came about 5 s late and the
hook was gone after it, which looked like a misfiring check but is a real drop: Wine
calls low-level hooks from the thread that reads the X event, the UI thread inside
pygame's event pump, which holds the GIL the hook's Python callback needs, so the call
waits for Wine's hook timeout, and Wine then removes the hook as Windows 7+ does.
Windows calls them from its raw-input thread, which holds no GIL. Keys injected with
``SendInput`` from a thread that released the GIL (ctypes does) reach the hook at once
under Wine too (tests/test_keyboard_hook_win32.py).
"""

from __future__ import annotations

import ctypes
import logging
import sys
import threading
from collections.abc import Callable, Sequence
from typing import Any, Protocol

log = logging.getLogger(__name__)

# Virtual-key codes (winuser.h).
VK_TAB = 0x09
VK_CONTROL = 0x11
VK_ESCAPE = 0x1B
VK_SPACE = 0x20
VK_LWIN = 0x5B
VK_RWIN = 0x5C
VK_F4 = 0x73

# KBDLLHOOKSTRUCT.flags bits.
LLKHF_INJECTED = 0x10
LLKHF_ALTDOWN = 0x20
LLKHF_UP = 0x80

WH_KEYBOARD_LL = 13
HC_ACTION = 0
WM_QUIT = 0x0012
WM_USER = 0x0400
PM_NOREMOVE = 0
WM_KEYDOWN = 0x0100
WM_KEYUP = 0x0101
WM_SYSKEYDOWN = 0x0104
WM_SYSKEYUP = 0x0105
WM_APP = 0x8000
WM_REHOOK = WM_APP + 1  # posted by a late callback to the hook thread: install again
KEY_DOWN_BIT = 0x8000  # GetAsyncKeyState: the key is down now
VK_MENU = 0x12  # either Alt
VK_F10 = 0x79

WIN_KEYS = frozenset({VK_LWIN, VK_RWIN})
VK_SNAPSHOT = 0x2C  # Print Screen: Windows 11 opens the Snipping Tool over everything
# VK_BROWSER_BACK .. VK_BROWSER_HOME, then VK_VOLUME_MUTE .. VK_MEDIA_PLAY_PAUSE, then
# VK_LAUNCH_MAIL, VK_LAUNCH_MEDIA_SELECT, VK_LAUNCH_APP1, VK_LAUNCH_APP2 (winuser.h).
BROWSER_KEYS = frozenset(range(0xA6, 0xAD))  # each opens or drives the default browser
MEDIA_KEYS = frozenset(range(0xAD, 0xB4))  # volume and media: the flyout links to the player
LAUNCH_KEYS = frozenset(range(0xB4, 0xB8))  # mail, media player, This PC, calculator
# A locked page plays no sound and has nothing to control, so the volume and media keys
# are swallowed with the others: their flyout names the last player and opens it on a
# click. In C the hook is gone and they work for the customer's game as ever.
ALWAYS_KEYS = WIN_KEYS | {VK_SNAPSHOT} | BROWSER_KEYS | MEDIA_KEYS | LAUNCH_KEYS
ALT_KEYS = frozenset({VK_TAB, VK_ESCAPE, VK_F4, VK_SPACE})  # task switch, close, window menu
LATE_MS = 150  # a callback this late may already have been dropped by Windows
START_TIMEOUT_S = 2.0


def swallow(vk: int, flags: int, ctrl_down: bool) -> bool:
    """Whether the locked kiosk eats this key event (press or release alike).

    Win keys open the Start menu (and Win+D, Win+Tab... start with them); Print Screen,
    the browser, volume, media and launch keys open another program or its flyout; with
    Alt held, Tab/Esc switch tasks, F4 closes the window, Space opens its menu; with
    Ctrl held, Esc opens the Start menu and Ctrl+Shift+Esc Task Manager. Everything
    else passes, so typing and Esc alone (D's "back") still work on locked pages.
    """
    if vk in ALWAYS_KEYS:
        return True
    if flags & LLKHF_ALTDOWN and vk in ALT_KEYS:
        return True
    return vk == VK_ESCAPE and ctrl_down


def alt_down(flags: int, message: int, alt_key_state: bool, vk: int) -> bool:
    """Whether Alt is held for this event, from any of the three signs Windows gives
    (the flag, the WM_SYS* message, the asynchronous key state; see the module)."""
    if flags & LLKHF_ALTDOWN or alt_key_state:
        return True
    return message in (WM_SYSKEYDOWN, WM_SYSKEYUP) and vk != VK_F10


def tick_difference(later: int, earlier: int) -> int:
    """``later - earlier`` for two GetTickCount values, which wrap every 49.7 days."""
    return (later - earlier + 2**31) % 2**32 - 2**31


def late_call(now: int, stamp: int, installed_at: int) -> bool:
    """Whether a hook call at tick ``now`` for an event stamped ``stamp`` came so late
    that Windows may have dropped the hook installed at ``installed_at`` (the module)."""
    if tick_difference(stamp, installed_at) < 0:
        return False  # it waited for a hook before this one
    return tick_difference(now, stamp) > LATE_MS


class KeyboardLock(Protocol):
    """Engaged on locked pages, released in C; ``problem`` says why it does not hold."""

    def engage(self) -> None: ...
    def release(self) -> None: ...
    def close(self) -> None: ...
    def status(self) -> str: ...
    def problem(self) -> str | None: ...


class _Reporter:
    """Logs each distinct failure once, loudly, and remembers the latest one. ``alarm``
    says what is open because of it (the lock-down's other parts have their own)."""

    def __init__(self, alarm: str = "KEYBOARD LOCK NOT HELD: %s; system keys reach the desktop",
                 logger: logging.Logger = log) -> None:
        self.problem: str | None = None
        self.alarm = alarm
        self.log = logger
        self._logged: set[str] = set()

    def fail(self, problem: str) -> None:
        self.problem = problem
        if problem not in self._logged:
            self._logged.add(problem)
            self.log.error(self.alarm, problem)

    def ok(self) -> None:
        self.problem = None

    def settle(self, problems: Sequence[str]) -> None:
        """A step's problems, if any (failed), or none (ok)."""
        if problems:
            self.fail("; ".join(problems))
        else:
            self.ok()


class SdlKeyboardGrab:
    """SDL's keyboard grab on the kiosk window (``pygame.Window.grab_keyboard``).

    SDL applies it while the window has input focus and applies it again when focus
    comes back, so a grab that is not held right now is only a problem while focused.
    """

    def __init__(self, window: Any) -> None:
        self.window = window
        self.engaged = False
        self._report = _Reporter()

    def engage(self) -> None:
        self._set(True)

    def release(self) -> None:
        self._set(False)

    def close(self) -> None:
        self.release()

    def _set(self, grab: bool) -> None:
        try:
            self.window.grab_keyboard = grab
        except Exception as exc:  # pygame.error, or a destroyed window
            self._report.fail(f"SDL keyboard grab failed: {exc}")
            return
        self.engaged = grab
        self._report.ok()

    def problem(self) -> str | None:
        if self._report.problem:
            return self._report.problem
        if self.engaged and self.window.focused and not self.window.keyboard_grabbed:
            return "SDL keyboard grab not held although the window is focused"
        return None

    def status(self) -> str:
        if not self.engaged:
            return "SDL grab released"
        return "SDL grab held" if self.window.keyboard_grabbed else "SDL grab waits for focus"


class KBDLLHOOKSTRUCT(ctypes.Structure):
    # Fixed-width fields: DWORD is 32 bits and ULONG_PTR pointer-sized on Windows.
    _fields_ = [("vkCode", ctypes.c_uint32), ("scanCode", ctypes.c_uint32),
                ("flags", ctypes.c_uint32), ("time", ctypes.c_uint32),
                ("dwExtraInfo", ctypes.c_size_t)]


LRESULT = ctypes.c_ssize_t
WPARAM = ctypes.c_size_t
LPARAM = ctypes.c_ssize_t
# stdcall on 32-bit Windows; elsewhere (and in the Linux tests) the C convention.
HOOKPROC = getattr(ctypes, "WINFUNCTYPE", ctypes.CFUNCTYPE)(LRESULT, ctypes.c_int, WPARAM, LPARAM)


class MSG(ctypes.Structure):
    _fields_ = [("hwnd", ctypes.c_void_p), ("message", ctypes.c_uint), ("wParam", WPARAM),
                ("lParam", LPARAM), ("time", ctypes.c_uint32), ("pt_x", ctypes.c_long),
                ("pt_y", ctypes.c_long)]


def declare(user32: Any, kernel32: Any) -> None:
    """Give ctypes the real signatures: handles and LPARAMs are 64-bit on x64 Windows,
    and the default ``int`` would truncate them."""
    handle, c_int, c_uint = ctypes.c_void_p, ctypes.c_int, ctypes.c_uint
    signatures = {
        (user32, "SetWindowsHookExW"): ([c_int, HOOKPROC, handle, ctypes.c_uint32], handle),
        (user32, "UnhookWindowsHookEx"): ([handle], ctypes.c_int),
        (user32, "CallNextHookEx"): ([handle, c_int, WPARAM, LPARAM], LRESULT),
        (user32, "GetMessageW"): ([ctypes.POINTER(MSG), handle, c_uint, c_uint], ctypes.c_int),
        (user32, "PeekMessageW"): ([ctypes.POINTER(MSG), handle, c_uint, c_uint, c_uint],
                                   ctypes.c_int),
        (user32, "PostThreadMessageW"): ([ctypes.c_uint32, c_uint, WPARAM, LPARAM],
                                         ctypes.c_int),
        (user32, "GetAsyncKeyState"): ([c_int], ctypes.c_short),
        (kernel32, "GetModuleHandleW"): ([ctypes.c_wchar_p], handle),
        (kernel32, "GetCurrentThreadId"): ([], ctypes.c_uint32),
        (kernel32, "GetTickCount"): ([], ctypes.c_uint32),
    }
    for (dll, name), (argtypes, restype) in signatures.items():
        function = getattr(dll, name)
        function.argtypes = argtypes
        function.restype = restype


def load_win32() -> tuple[Any, Any]:
    """user32 and kernel32 with their last-error kept per thread (Windows only)."""
    windll = ctypes.WinDLL  # type: ignore[attr-defined]
    return windll("user32", use_last_error=True), windll("kernel32", use_last_error=True)


class WindowsKeyHook:
    """The low-level keyboard hook, installed on its own message-pumping thread while
    engaged and removed when released, so no Python runs in a game's key path."""

    def __init__(self, user32: Any = None, kernel32: Any = None, *,
                 last_error: Callable[[], int] = lambda: ctypes.get_last_error()) -> None:
        if user32 is None or kernel32 is None:
            user32, kernel32 = load_win32()
        declare(user32, kernel32)
        self.user32 = user32
        self.kernel32 = kernel32
        self.last_error = last_error
        self._proc = HOOKPROC(self._callback)  # kept referenced: Windows calls it
        self._hook: int | None = None
        self._thread: threading.Thread | None = None
        self._thread_id = 0
        self._started = threading.Event()
        self._report = _Reporter()
        self._rehook_asked = False
        self._installed_at = 0  # GetTickCount when the hook now installed was
        self.swallowed = 0
        self.reinstalls = 0

    # --- the UI thread's side

    def engage(self) -> None:
        if self._thread is not None and self._thread.is_alive():
            return
        self._started.clear()
        self._thread = threading.Thread(target=self._pump, name="keyboard-hook", daemon=True)
        self._thread.start()
        if not self._started.wait(START_TIMEOUT_S):
            self._report.fail("the keyboard hook thread did not start in time")

    def release(self) -> None:
        thread, self._thread = self._thread, None
        if thread is None:
            return
        if self._thread_id and not self.user32.PostThreadMessageW(self._thread_id, WM_QUIT, 0, 0):
            log.error("could not ask the keyboard hook thread to stop (error %s)",
                      self.last_error())
        thread.join(START_TIMEOUT_S)
        if thread.is_alive():
            log.error("the keyboard hook thread did not stop; its hook stays installed")

    def close(self) -> None:
        self.release()

    def problem(self) -> str | None:
        return self._report.problem

    def status(self) -> str:
        if self._hook:
            return f"Windows hook on ({self.swallowed} keys swallowed)"
        return "Windows hook off"

    # --- the hook thread

    def _pump(self) -> None:
        """Install the hook and pump messages until WM_QUIT, then remove it."""
        self._thread_id = self.kernel32.GetCurrentThreadId()
        msg = MSG()
        # A thread has a message queue only once it asks for one; without it release()'s
        # WM_QUIT could not be posted (PostThreadMessage's documented remedy).
        self.user32.PeekMessageW(ctypes.pointer(msg), None, WM_USER, WM_USER, PM_NOREMOVE)
        installed = self._install()
        self._started.set()
        if not installed:
            self._thread_id = 0
            return
        try:
            while True:
                got = self.user32.GetMessageW(ctypes.pointer(msg), None, 0, 0)
                if got == 0:  # WM_QUIT
                    break
                if got == -1:
                    self._report.fail(f"GetMessageW failed (error {self.last_error()})")
                    break
                if msg.message == WM_REHOOK:
                    self._reinstall()
        finally:
            self._uninstall()
            self._thread_id = 0

    def _install(self) -> bool:
        module = self.kernel32.GetModuleHandleW(None)
        hook = self.user32.SetWindowsHookExW(WH_KEYBOARD_LL, self._proc, module, 0)
        if not hook:
            self._report.fail(f"SetWindowsHookExW failed (error {self.last_error()})")
            return False
        self._hook = hook
        self._installed_at = self.kernel32.GetTickCount()
        self._report.ok()
        log.info("keyboard hook installed: system keys are swallowed while locked")
        return True

    def _uninstall(self) -> None:
        hook, self._hook = self._hook, None
        if hook and not self.user32.UnhookWindowsHookEx(hook):
            log.warning("UnhookWindowsHookEx failed (error %s)", self.last_error())
        elif hook:
            log.info("keyboard hook removed: every key passes")

    def _reinstall(self) -> None:
        """After a late callback Windows may have dropped the hook without a word. The new
        hook goes in before the old one is removed: no key passes in between."""
        old = self._hook
        if self._install():
            dropped = not self.user32.UnhookWindowsHookEx(old)  # gone already: Windows did it
            self.reinstalls += 1
            log.warning("keyboard hook answered late; installed it again (%s)",
                        "Windows had dropped it" if dropped else "it was still in place")
        self._rehook_asked = False

    def _callback(self, code: int, wparam: int, lparam: int) -> int:
        """LowLevelKeyboardProc: decide fast, never raise (an exception would pass the key
        without calling the next hook)."""
        try:
            if code == HC_ACTION:
                info = KBDLLHOOKSTRUCT.from_address(lparam)
                late = late_call(self.kernel32.GetTickCount(), info.time, self._installed_at)
                if late and not self._rehook_asked:
                    self._rehook_asked = True
                    self.user32.PostThreadMessageW(self._thread_id, WM_REHOOK, 0, 0)
                ctrl = bool(self.user32.GetAsyncKeyState(VK_CONTROL) & KEY_DOWN_BIT)
                alt = bool(self.user32.GetAsyncKeyState(VK_MENU) & KEY_DOWN_BIT)
                flags = info.flags
                if alt_down(flags, wparam, alt, info.vkCode):
                    flags |= LLKHF_ALTDOWN  # as Windows documents it; Wine never sets it
                if swallow(info.vkCode, flags, ctrl):
                    self.swallowed += 1
                    return 1
        except Exception:  # a hook must answer whatever happens: pass the key on
            pass
        return self.user32.CallNextHookEx(self._hook, code, wparam, lparam)


class CombinedLock:
    """Several locks as one: every part is engaged and released together."""

    def __init__(self, parts: Sequence[KeyboardLock]) -> None:
        self.parts = list(parts)

    def engage(self) -> None:
        self._each("engage")

    def release(self) -> None:
        self._each("release")

    def close(self) -> None:
        self._each("close")

    def _each(self, step: str) -> None:
        """One part failing must not keep the others from closing (or giving back) theirs."""
        for part in self.parts:
            try:
                getattr(part, step)()
            except Exception:
                log.exception("%s of %s failed", step, type(part).__name__)

    def problem(self) -> str | None:
        problems = [p for p in (part.problem() for part in self.parts) if p]
        return "; ".join(problems) or None

    def status(self) -> str:
        problem = self.problem()
        summary = " · ".join(part.status() for part in self.parts)
        return f"KEYBOARD LOCK FAILED: {problem}" if problem else f"keyboard: {summary}"


def keyboard_lock(window: Any, platform: str = sys.platform,
                  hook_factory: Callable[[], KeyboardLock] = WindowsKeyHook) -> CombinedLock:
    """The lock for this OS: SDL's grab everywhere, plus the hook on Windows."""
    parts: list[KeyboardLock] = [SdlKeyboardGrab(window)]
    if platform == "win32":
        try:
            parts.append(hook_factory())
        except (OSError, AttributeError) as exc:  # user32 missing or without the function
            failed = _Failed(f"keyboard hook unavailable: {exc}")
            parts.append(failed)
    return CombinedLock(parts)


class _Failed:
    """A lock that could not be built: it holds nothing and says so."""

    def __init__(self, problem: str) -> None:
        self._report = _Reporter()
        self._report.fail(problem)

    def engage(self) -> None: ...
    def release(self) -> None: ...
    def close(self) -> None: ...

    def problem(self) -> str | None:
        return self._report.problem

    def status(self) -> str:
        return "Windows hook missing"
