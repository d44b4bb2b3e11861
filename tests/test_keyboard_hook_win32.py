"""The kiosk's keyboard hook on a real Win32 (``make test-windows``: Wine): keys injected
with ``SendInput`` go through the real hook chain, and an observer hook after the kiosk's
tells which it let through (tests/win32_keys.py; nothing reaches the desktop).

Wine 8 never sets ``LLKHF_ALTDOWN`` (Windows does whenever Alt is down; the fakes of
tests/test_keyboard_lock.py show that case), while its ``WM_SYSKEYDOWN`` messages and the
asynchronous key state are right. A late call is made with a key's time stamp
(``SendInput`` takes one), as a hook that waited for the GIL would see it.
"""

from __future__ import annotations

import time

import pytest

from kiosk.platform import keyboard as kb
from kiosk.platform.keyboard import VK_ESCAPE, VK_F4, VK_LWIN, VK_RWIN, VK_SPACE, VK_TAB
from tests.waiting import wait_until
from tests.win32_keys import VK_LCONTROL, VK_LMENU, VK_LSHIFT, KeyObserver, combo

pytestmark = pytest.mark.win32


VK_A, VK_RETURN = 0x41, 0x0D


@pytest.fixture
def observer():
    seen = KeyObserver()
    yield seen
    seen.close()


@pytest.fixture
def hook(observer):
    """The kiosk's hook, installed after the observer's: first in the chain."""
    lock = kb.WindowsKeyHook()
    lock.engage()
    assert lock.problem() is None
    yield lock
    lock.close()


def test_the_observer_sees_every_key_while_the_kiosk_has_no_hook(observer):
    assert observer.type(combo(VK_A)) == [VK_A]


@pytest.mark.parametrize(("name", "strokes"), [
    ("Win", [(VK_LWIN, True), (VK_LWIN, False)]),
    ("right Win", [(VK_RWIN, True), (VK_RWIN, False)]),
])
def test_the_engaged_hook_swallows_the_start_menu_keys(observer, hook, name, strokes):
    assert observer.type(strokes) == [], name


@pytest.mark.parametrize(("name", "keys"), [
    ("Alt+Tab", (VK_LMENU, VK_TAB)), ("Alt+F4", (VK_LMENU, VK_F4)),
    ("Alt+Esc", (VK_LMENU, VK_ESCAPE)), ("Alt+Space", (VK_LMENU, VK_SPACE)),
    ("Ctrl+Alt+Tab", (VK_LCONTROL, VK_LMENU, VK_TAB)),
    ("Ctrl+Esc", (VK_LCONTROL, VK_ESCAPE)), ("Ctrl+Shift+Esc", (VK_LCONTROL, VK_LSHIFT, VK_ESCAPE)),
])
def test_the_engaged_hook_swallows_the_shortcuts_that_leave_the_lock(observer, hook, name, keys):
    """Only the modifiers come through: Alt alone switches nothing and closes nothing."""
    assert observer.type(combo(*keys)) == list(keys[:-1]), name


def test_the_engaged_hook_passes_typing_esc_and_enter(observer, hook):
    typed = [VK_A, VK_ESCAPE, VK_RETURN, VK_SPACE, VK_TAB, VK_F4]
    assert observer.type([stroke for vk in typed for stroke in combo(vk)]) == typed
    assert observer.type(combo(VK_LSHIFT, VK_A)) == [VK_LSHIFT, VK_A]


def test_the_released_hook_passes_everything_for_the_customers_game(observer, hook):
    hook.release()
    assert hook.status() == "Windows hook off"
    assert observer.type(combo(VK_LMENU, VK_TAB)) == [VK_LMENU, VK_TAB]
    assert observer.type(combo(VK_LMENU, VK_F4)) == [VK_LMENU, VK_F4]
    assert observer.type(combo(VK_LWIN)) == [VK_LWIN]
    hook.engage()  # locked again (D after C)
    assert observer.type(combo(VK_LWIN)) == []


def test_keys_queued_behind_one_stall_reinstall_the_hook_once(observer, hook):
    """Four late events in a row (the keys and F24, each pressed and released): the old
    check installed the hook again for each that came after the last reinstall."""
    time.sleep(1)  # the hook is older than the late keys' stamps: they were this hook's
    assert observer.type(combo(VK_A), stamp_age_ms=kb.LATE_MS + 500) == [VK_A]
    wait_until(lambda: hook.reinstalls >= 1, 5, 0.01, "the hook was not installed again")
    assert observer.type(combo(VK_LWIN)) == []
    assert hook.reinstalls == 1


def test_a_late_key_reinstalls_the_hook_which_then_still_holds(observer, hook):
    """Windows 7+ silently drops a hook that answered after LowLevelHooksTimeout: a call
    that came that late may have been its last."""
    late_ms = kb.LATE_MS + 100
    time.sleep(late_ms / 1000)  # the hook is older than the late key: it was this hook's
    assert observer.type(combo(VK_A), stamp_age_ms=late_ms) == [VK_A]
    wait_until(lambda: hook.reinstalls == 1 and hook.status().startswith("Windows hook on"),
               5, 0.01, "the hook was not installed again")
    assert observer.type(combo(VK_LWIN)) == []
    assert observer.type(combo(VK_LMENU, VK_TAB)) == [VK_LMENU]
