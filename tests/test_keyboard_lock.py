"""The keyboard lock: which keys a locked screen swallows, and the Windows hook's plumbing.

The decision is a pure function, checked over every virtual-key code. The ctypes side
runs against a fake user32/kernel32 whose SetWindowsHookExW keeps the real ctypes
callback, so the tests call it exactly as Windows would: with a pointer to a real
KBDLLHOOKSTRUCT, on the hook's own message-pumping thread. The real hook under a real
Win32 is tests/test_keyboard_hook_win32.py; the fakes stay for what Wine cannot show:
``LLKHF_ALTDOWN`` (Windows sets it whenever Alt is down, Wine 8 never), a hook that cannot
be installed, a failing call inside the hook, a hook thread slow to start, and ctypes'
signatures on Linux.
"""

from __future__ import annotations

import ctypes
import logging
import queue
import threading
from collections.abc import Callable
from typing import Any

import pytest

from kiosk.platform import keyboard as kb
from kiosk.platform.keyboard import (
    LLKHF_ALTDOWN,
    LLKHF_INJECTED,
    LLKHF_UP,
    VK_ESCAPE,
    VK_F4,
    VK_LWIN,
    VK_RWIN,
    VK_SNAPSHOT,
    VK_SPACE,
    VK_TAB,
    CombinedLock,
    SdlKeyboardGrab,
    WindowsKeyHook,
    keyboard_lock,
    swallow,
)
from tests.waiting import wait_until

VK_A, VK_RETURN, VK_DELETE, VK_F5, VK_LMENU = 0x41, 0x0D, 0x2E, 0x74, 0xA4
HOOK_HANDLE = 0x7FF6_0000_1000  # above 32 bits, like a real HHOOK on x64
MODULE = 0x7FF6_0040_0000


# --------------------------------------------------------------------------- the decision


def test_win_keys_are_swallowed_pressed_or_released_with_any_modifier():
    for vk in (VK_LWIN, VK_RWIN):
        for flags in (0, LLKHF_UP, LLKHF_ALTDOWN, LLKHF_INJECTED, LLKHF_UP | LLKHF_ALTDOWN):
            for ctrl in (False, True):
                assert swallow(vk, flags, ctrl), (hex(vk), flags, ctrl)


@pytest.mark.parametrize("name,vk", [
    ("Print Screen (Snipping Tool)", 0x2C), ("Browser Back", 0xA6), ("Browser Home", 0xAC),
    ("Volume Mute", 0xAD), ("Volume Up", 0xAF), ("Play/Pause", 0xB3), ("Mail", 0xB4),
    ("Media Select", 0xB5), ("Launch App1 (This PC)", 0xB6), ("Launch App2 (calculator)", 0xB7)])
def test_keys_that_open_another_program_are_swallowed_with_any_modifier(name, vk):
    """Each opens a program or a flyout over the page; a locked page has nothing to play,
    so the volume and media keys go too (in C the hook is gone and they all work)."""
    for flags in (0, LLKHF_UP, LLKHF_ALTDOWN, LLKHF_ALTDOWN | LLKHF_UP):
        for ctrl in (False, True):
            assert swallow(vk, flags, ctrl), (name, flags, ctrl)


@pytest.mark.parametrize("name,vk", [("Alt+Tab", VK_TAB), ("Alt+Esc", VK_ESCAPE),
                                     ("Alt+F4", VK_F4), ("Alt+Space", VK_SPACE)])
def test_alt_shortcuts_that_leave_the_lock_are_swallowed(name, vk):
    assert swallow(vk, LLKHF_ALTDOWN, ctrl_down=False), name
    assert swallow(vk, LLKHF_ALTDOWN | LLKHF_UP, ctrl_down=False), f"{name} release"
    assert swallow(vk, LLKHF_ALTDOWN | LLKHF_INJECTED, ctrl_down=False), f"{name} injected"


def test_ctrl_esc_and_ctrl_shift_esc_are_swallowed():
    # Shift does not change the Esc event the hook sees: Ctrl+Shift+Esc is Esc with Ctrl down.
    assert swallow(VK_ESCAPE, 0, ctrl_down=True)
    assert swallow(VK_ESCAPE, LLKHF_UP, ctrl_down=True)


def test_every_other_key_passes_so_typing_and_esc_on_page_d_still_work():
    """Over all 254 virtual keys, both transitions, Alt and Ctrl: exactly the listed
    combinations are swallowed, nothing more."""
    wanted = set()
    for vk in range(1, 255):
        for flags in (0, LLKHF_UP, LLKHF_ALTDOWN, LLKHF_ALTDOWN | LLKHF_UP):
            for ctrl in (False, True):
                if swallow(vk, flags, ctrl):
                    wanted.add((vk, bool(flags & LLKHF_ALTDOWN), ctrl))
    alt_combos = {(vk, True, ctrl) for vk in (VK_TAB, VK_ESCAPE, VK_F4, VK_SPACE)
                  for ctrl in (False, True)}
    always = (VK_LWIN, VK_RWIN, VK_SNAPSHOT, *range(0xA6, 0xB8))  # Win, PrtSc, browser..app2
    win = {(vk, alt, ctrl) for vk in always for alt in (False, True) for ctrl in (False, True)}
    ctrl_esc = {(VK_ESCAPE, alt, True) for alt in (False, True)}
    assert wanted == alt_combos | win | ctrl_esc
    assert not swallow(VK_ESCAPE, 0, ctrl_down=False)  # D: Esc goes back to C
    assert not swallow(VK_RETURN, 0, ctrl_down=False)  # D: Enter confirms
    assert not swallow(VK_DELETE, LLKHF_ALTDOWN, ctrl_down=True)  # Ctrl+Alt+Del: unstoppable


def test_alt_is_down_by_the_flag_the_sys_message_or_the_key_state_for_every_key():
    """Over every virtual key: any one sign is enough (Wine gives only the last two), and
    F10 alone, which comes as WM_SYSKEYDOWN to open the menu bar, is no Alt."""
    for vk in range(1, 255):
        for message in (kb.WM_KEYDOWN, kb.WM_KEYUP, kb.WM_SYSKEYDOWN, kb.WM_SYSKEYUP):
            sys_message = message in (kb.WM_SYSKEYDOWN, kb.WM_SYSKEYUP)
            for flags in (0, LLKHF_UP, LLKHF_ALTDOWN, LLKHF_INJECTED):
                for state in (False, True):
                    expected = (bool(flags & LLKHF_ALTDOWN) or state
                                or (sys_message and vk != kb.VK_F10))
                    assert kb.alt_down(flags, message, state, vk) == expected, (vk, message)


@pytest.mark.parametrize("name,vk", [("Alt+Tab", VK_TAB), ("Alt+F4", VK_F4)])
def test_alt_shortcuts_as_wine_delivers_them_are_swallowed_too(win32, hook, name, vk):
    """No LLKHF_ALTDOWN: WM_SYSKEYDOWN, or only the key state (Ctrl+Alt+Tab, WM_KEYDOWN)."""
    hook.engage()
    assert win32.key(vk, message=kb.WM_SYSKEYDOWN) == 1, name
    assert win32.key(vk, LLKHF_UP, message=kb.WM_SYSKEYUP) == 1, name
    assert win32.key(vk, message=kb.WM_KEYDOWN) == 0, name
    win32.alt = True
    assert win32.key(vk, message=kb.WM_KEYDOWN) == 1, name


def test_tick_differences_are_signed_and_survive_the_49_day_wrap():
    assert kb.tick_difference(1010, 1000) == 10
    assert kb.tick_difference(1000, 1010) == -10
    assert kb.tick_difference(5, 0xFFFF_FFF0) == 21
    assert kb.tick_difference(0xFFFF_FFF0, 5) == -21


def test_a_call_is_late_after_late_ms_but_only_for_keys_stamped_after_the_hook():
    """Windows 7+ drops a hook that answered too late; the keys queued behind that one
    stall reached the hook before this one was installed and do not count against it."""
    installed = 1_000
    assert not kb.late_call(2_000, 2_000 - kb.LATE_MS, installed)
    assert kb.late_call(2_000, 2_000 - kb.LATE_MS - 1, installed)
    assert not kb.late_call(2_000, installed - 1, installed)  # queued before the hook
    assert kb.late_call(2_000, installed, installed)
    assert not kb.late_call(2_000, 2_500, installed)  # a stamp ahead of the clock
    assert kb.late_call(300, 0xFFFF_FFF0, 0xFFFF_FF00)  # across GetTickCount's wrap


# --------------------------------------------------------------------------- fakes


class Fn:
    """A fake DLL function: callable, and takes the argtypes/restype that declare() sets."""

    def __init__(self, body: Callable[..., Any]) -> None:
        self.body = body
        self.argtypes: list[Any] | None = None
        self.restype: Any = None

    def __call__(self, *args: Any) -> Any:
        return self.body(*args)


class FakeWin32:
    """user32 and kernel32 as the hook uses them, with a real thread message queue."""

    def __init__(self, *, hook_fails: bool = False) -> None:
        self.hook_fails = hook_fails
        self.messages: dict[int, queue.Queue[int]] = {}
        self.hooks: dict[int, Any] = {}  # installed handle -> the HOOKPROC Windows would call
        self.installs: list[tuple[int, int, int, int]] = []  # idHook, module, thread, caller
        self.unhooked: list[int] = []
        self.next_hook_calls: list[tuple[Any, int, int, int]] = []
        self.ctrl = False
        self.alt = False  # Alt held, as GetAsyncKeyState tells it
        self.ticks = 1000
        self.async_fails = False
        self.pump_gate = threading.Event()  # GetMessageW waits for it: a slow hook thread
        self.pump_gate.set()
        self.user32 = type("user32", (), {})()
        self.kernel32 = type("kernel32", (), {})()
        for name in ("SetWindowsHookExW", "UnhookWindowsHookEx", "CallNextHookEx",
                     "PeekMessageW", "GetMessageW", "PostThreadMessageW", "GetAsyncKeyState"):
            setattr(self.user32, name, Fn(getattr(self, name)))
        for name in ("GetModuleHandleW", "GetCurrentThreadId", "GetTickCount"):
            setattr(self.kernel32, name, Fn(getattr(self, name)))

    # kernel32
    def GetModuleHandleW(self, name: None) -> int:  # noqa: N802 - the Windows names
        assert name is None
        return MODULE

    def GetCurrentThreadId(self) -> int:  # noqa: N802
        return threading.get_ident() & 0xFFFFFFFF

    def GetTickCount(self) -> int:  # noqa: N802
        return self.ticks

    # user32
    def SetWindowsHookExW(self, id_hook: int, proc: Any, module: int, thread: int) -> int:  # noqa: N802
        self.installs.append((id_hook, module, thread, self.GetCurrentThreadId()))
        if self.hook_fails:
            return 0
        handle = HOOK_HANDLE + len(self.installs)
        self.hooks[handle] = proc
        return handle

    def UnhookWindowsHookEx(self, handle: int) -> int:  # noqa: N802
        self.unhooked.append(handle)
        return int(self.hooks.pop(handle, None) is not None)

    def CallNextHookEx(self, handle: Any, code: int, wparam: int, lparam: int) -> int:  # noqa: N802
        self.next_hook_calls.append((handle, code, wparam, lparam))
        return 0

    def PeekMessageW(self, msg: Any, hwnd: None, first: int, last: int, remove: int) -> int:  # noqa: N802
        assert remove == kb.PM_NOREMOVE
        self.messages.setdefault(self.GetCurrentThreadId(), queue.Queue())  # the queue exists
        return 0

    def GetMessageW(self, msg: Any, hwnd: None, first: int, last: int) -> int:  # noqa: N802
        self.pump_gate.wait(10)
        box = self.messages.setdefault(self.GetCurrentThreadId(), queue.Queue())
        message = box.get(timeout=10)
        msg.contents.message = message
        return 0 if message == kb.WM_QUIT else 1

    def PostThreadMessageW(self, thread: int, message: int, wparam: int, lparam: int) -> int:  # noqa: N802
        if thread not in self.messages:
            return 0  # ERROR_INVALID_THREAD_ID: that thread has no message queue yet
        self.messages[thread].put(message)
        return 1

    def GetAsyncKeyState(self, vk: int) -> int:  # noqa: N802
        if self.async_fails:
            raise OSError("access denied")
        held = {kb.VK_CONTROL: self.ctrl, kb.VK_MENU: self.alt}[vk]
        return -32768 if held else 0  # the high bit of a SHORT, as ctypes returns it

    # what the tests do: press keys as Windows would deliver them to the hook
    def key(self, vk: int, flags: int = 0, code: int = kb.HC_ACTION, late_ms: int = 0,
            message: int | None = None) -> int:
        """Run the installed hook for one key event; its answer (nonzero: swallowed)."""
        assert len(self.hooks) == 1, f"want one installed hook, have {list(self.hooks)}"
        proc = next(iter(self.hooks.values()))
        event = kb.KBDLLHOOKSTRUCT(vkCode=vk, scanCode=0, flags=flags,
                                   time=(self.ticks - late_ms) & 0xFFFFFFFF)
        if message is None:
            message = kb.WM_SYSKEYDOWN if flags & LLKHF_ALTDOWN else kb.WM_KEYDOWN
        return proc(code, message, ctypes.addressof(event))


@pytest.fixture
def win32() -> FakeWin32:
    return FakeWin32()


@pytest.fixture
def hook(win32: FakeWin32):
    h = WindowsKeyHook(win32.user32, win32.kernel32, last_error=lambda: 5)
    yield h
    h.close()


# --------------------------------------------------------------------------- the Windows hook


def test_engaging_installs_a_low_level_hook_on_its_own_thread(win32, hook):
    hook.engage()
    (id_hook, module, thread, caller), = win32.installs
    assert id_hook == kb.WH_KEYBOARD_LL and module == MODULE and thread == 0
    assert caller != threading.get_ident() & 0xFFFFFFFF  # the hook thread, not the UI's
    assert hook.problem() is None
    assert hook.status().startswith("Windows hook on")


def test_locked_hook_swallows_the_start_menu_and_alt_tab_but_passes_letters(win32, hook):
    hook.engage()
    assert win32.key(VK_LWIN) == 1
    assert win32.key(VK_TAB, LLKHF_ALTDOWN) == 1
    assert win32.next_hook_calls == []  # swallowed keys go no further down the chain
    event_a = win32.key(VK_A)
    assert event_a == 0
    (handle, code, wparam, _lparam), = win32.next_hook_calls
    assert handle == next(iter(win32.hooks)) and code == kb.HC_ACTION
    assert wparam == kb.WM_KEYDOWN
    assert hook.swallowed == 2


def test_ctrl_esc_is_swallowed_only_while_ctrl_is_really_down(win32, hook):
    hook.engage()
    assert win32.key(VK_ESCAPE) == 0
    win32.ctrl = True
    assert win32.key(VK_ESCAPE) == 1


def test_a_hook_call_that_is_not_an_action_goes_straight_down_the_chain(win32, hook):
    hook.engage()
    assert win32.key(VK_LWIN, code=-1) == 0
    assert [call[1] for call in win32.next_hook_calls] == [-1]


def test_a_failing_lookup_inside_the_hook_passes_the_key_instead_of_raising(win32, hook):
    hook.engage()
    win32.async_fails = True
    assert win32.key(VK_ESCAPE) == 0
    assert len(win32.next_hook_calls) == 1


def test_releasing_for_the_widget_removes_the_hook_so_games_get_every_key(win32, hook):
    hook.engage()
    handle = next(iter(win32.hooks))
    hook.release()
    assert win32.unhooked == [handle]
    assert win32.hooks == {}  # Windows no longer calls into the kiosk at all
    assert hook.status() == "Windows hook off"
    hook.engage()  # locked again (D after C): a fresh hook
    assert len(win32.hooks) == 1 and len(win32.installs) == 2
    assert win32.key(VK_RWIN) == 1


def test_releasing_before_the_hook_thread_pumps_still_removes_the_hook(win32, hook):
    win32.pump_gate.clear()  # the hook thread is slow to reach its message loop
    hook.engage()
    threading.Timer(0.2, win32.pump_gate.set).start()
    hook.release()  # WM_QUIT is queued for it all the same
    assert win32.hooks == {} and len(win32.unhooked) == 1


def test_engaging_twice_keeps_one_hook(win32, hook):
    hook.engage()
    hook.engage()
    assert len(win32.installs) == 1


def test_a_late_callback_installs_the_hook_again_once(win32, hook, caplog):
    """Windows 7+ drops a hook that overran LowLevelHooksTimeout without telling anyone."""
    hook.engage()
    first = next(iter(win32.hooks))
    installed_when_removed = []
    unhook = win32.user32.UnhookWindowsHookEx.body
    win32.user32.UnhookWindowsHookEx.body = lambda handle: (
        installed_when_removed.append(len(win32.hooks)) or unhook(handle))
    win32.ticks += 1000  # a second after the hook was installed
    with caplog.at_level(logging.WARNING, logger=kb.__name__):
        assert win32.key(VK_LWIN, late_ms=kb.LATE_MS + 50) == 1  # still swallowed
        wait_until(lambda: hook.reinstalls == 1 and len(win32.hooks) == 1
                   and first not in win32.hooks, 5, 0.01, "the hook was not installed again")
    assert win32.unhooked == [first]
    assert installed_when_removed == [2]  # the new one was in first: no key passed between
    assert win32.key(VK_A, late_ms=10) == 0 and hook.reinstalls == 1
    assert any("installed it again (it was still in place)" in r.message
               for r in caplog.records)


def test_a_hook_that_cannot_be_installed_is_logged_once_and_shown(caplog):
    win32 = FakeWin32(hook_fails=True)
    hook = WindowsKeyHook(win32.user32, win32.kernel32, last_error=lambda: 5)
    lock = CombinedLock([hook])
    with caplog.at_level(logging.ERROR, logger=kb.__name__):
        lock.engage()
        lock.release()
        lock.engage()  # tried again on every locked page, logged once
    assert len(win32.installs) == 2
    errors = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert len(errors) == 1 and "SetWindowsHookExW failed (error 5)" in errors[0].getMessage()
    assert lock.status() == "KEYBOARD LOCK FAILED: SetWindowsHookExW failed (error 5)"
    lock.close()


def test_signatures_keep_64_bit_handles_and_pointers_whole(win32):
    WindowsKeyHook(win32.user32, win32.kernel32)
    assert win32.user32.SetWindowsHookExW.restype is ctypes.c_void_p
    assert win32.user32.CallNextHookEx.argtypes[3] is kb.LPARAM
    assert ctypes.sizeof(kb.LPARAM) == ctypes.sizeof(ctypes.c_void_p)
    assert win32.kernel32.GetModuleHandleW.restype is ctypes.c_void_p
    assert win32.user32.GetAsyncKeyState.restype is ctypes.c_short


def test_hook_struct_has_the_windows_layout():
    assert ctypes.sizeof(kb.KBDLLHOOKSTRUCT) == 16 + ctypes.sizeof(ctypes.c_void_p)
    assert kb.KBDLLHOOKSTRUCT.dwExtraInfo.offset == 16


# --------------------------------------------------------------------------- SDL's grab


class FakeWindow:
    def __init__(self, *, refuses: bool = False) -> None:
        self.refuses = refuses
        self.focused = True
        self.keyboard_grabbed = False
        self._grab = False

    @property
    def grab_keyboard(self) -> bool:
        return self._grab

    @grab_keyboard.setter
    def grab_keyboard(self, value: bool) -> None:
        if self.refuses:
            raise RuntimeError("No window")
        self._grab = value
        self.keyboard_grabbed = value and self.focused


def test_sdl_grab_is_held_while_locked_and_released_for_the_widget():
    window = FakeWindow()
    grab = SdlKeyboardGrab(window)
    grab.engage()
    assert window.grab_keyboard and grab.status() == "SDL grab held" and grab.problem() is None
    grab.release()
    assert not window.grab_keyboard and grab.status() == "SDL grab released"


def test_sdl_grab_that_fails_is_logged_once_and_reported(caplog):
    grab = SdlKeyboardGrab(FakeWindow(refuses=True))
    with caplog.at_level(logging.ERROR, logger=kb.__name__):
        grab.engage()
        grab.engage()
    assert len(caplog.records) == 1
    assert grab.problem() == "SDL keyboard grab failed: No window"


def test_sdl_grab_not_held_while_focused_is_a_problem_but_waiting_for_focus_is_not():
    window = FakeWindow()
    window.focused = False
    grab = SdlKeyboardGrab(window)
    grab.engage()
    assert grab.problem() is None and grab.status() == "SDL grab waits for focus"
    window.focused = True  # focused, yet SDL holds no grab
    assert grab.problem() == "SDL keyboard grab not held although the window is focused"


# --------------------------------------------------------------------------- per OS


def test_linux_uses_sdls_grab_only():
    lock = keyboard_lock(FakeWindow(), platform="linux")
    assert [type(p) for p in lock.parts] == [SdlKeyboardGrab]


def test_windows_adds_the_hook_and_engages_both(win32):
    lock = keyboard_lock(FakeWindow(), platform="win32",
                         hook_factory=lambda: WindowsKeyHook(win32.user32, win32.kernel32))
    lock.engage()
    assert lock.status().startswith("keyboard: SDL grab held · Windows hook on")
    lock.release()
    assert win32.hooks == {}
    lock.close()


def test_windows_without_a_usable_user32_says_so_loudly(caplog):
    def broken() -> WindowsKeyHook:
        raise OSError("user32 not found")

    with caplog.at_level(logging.ERROR, logger=kb.__name__):
        lock = keyboard_lock(FakeWindow(), platform="win32", hook_factory=broken)
    lock.engage()
    assert lock.status() == "KEYBOARD LOCK FAILED: keyboard hook unavailable: user32 not found"
    assert len(caplog.records) == 1
