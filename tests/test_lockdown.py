"""The lock of locked pages as one: what each OS gets, how the window engages and releases it
(the page and every cover, the admin prompt's typing), and the real parts together under
the Windows CPython."""

from __future__ import annotations

import logging
import os
from pathlib import Path

import pytest

os.environ.setdefault("SDL_VIDEODRIVER", "dummy")

import pygame  # noqa: E402

from kiosk.cover import Cover  # noqa: E402
from kiosk.platform.desktop import Monitor  # noqa: E402
from kiosk.platform.keyboard import SdlKeyboardGrab  # noqa: E402
from kiosk.platform.lockdown import Lockdown, keys_only, lockdown  # noqa: E402
from kiosk.window import KioskWindow  # noqa: E402
from tests.real_display import real_video  # noqa: E402, F401 - the fixture
from tests.test_keyboard_lock import FakeWindow as GrabWindow  # noqa: E402
from tests.window_fakes import FakeDesktop, FakeWindow  # noqa: E402


def test_elsewhere_only_the_keyboard_is_locked_and_the_rest_is_said_once(caplog):
    with caplog.at_level(logging.INFO, logger="kiosk.platform.lockdown"):
        lock = lockdown(GrabWindow(), lambda: [], Path("unused"), platform="linux")
    assert [type(part) for part in lock.parts] == [SdlKeyboardGrab]
    assert "accessibility hotkeys, IME, touch edge swipes: not on this platform" in caplog.text
    lock.engage()
    lock.typing(True)  # nothing to tell
    assert lock.status() == "keyboard: SDL grab held"


def test_on_windows_a_part_that_cannot_load_holds_nothing_and_says_so(caplog, tmp_path):
    """Off Windows ctypes has no WinDLL: each Windows part is 'missing', loudly."""
    if os.name == "nt":
        pytest.skip("the DLLs load here")
    with caplog.at_level(logging.ERROR):
        lock = lockdown(GrabWindow(), lambda: [], tmp_path, platform="win32")
    status = lock.status()
    assert status.startswith("KEYBOARD LOCK FAILED: keyboard hook unavailable")
    for name in ("accessibility hotkeys unavailable", "IME block unavailable",
                 "edge swipes unavailable"):
        assert name in status and name in caplog.text
    lock.typing(True)  # no IME part: nothing to tell, nothing raised


def test_a_part_that_fails_keeps_no_other_from_giving_back_what_it_holds(caplog):
    class Broken:
        def release(self) -> None:
            raise RuntimeError("pygame.error: video system not initialized")

    class Holding:
        released = False

        def release(self) -> None:
            self.released = True

    holding = Holding()
    Lockdown([Broken(), holding]).release()  # type: ignore[list-item]
    assert holding.released and "release of Broken failed" in caplog.text


def test_a_window_made_without_the_apps_lock_locks_the_keys_only():
    """Tests and tools: the machine's accessibility settings are never touched."""
    lock = keys_only(GrabWindow(), lambda: [])
    kinds = {type(part).__name__ for part in lock.parts}
    assert "SdlKeyboardGrab" in kinds and kinds <= {"SdlKeyboardGrab", "WindowsKeyHook"}
    lock.typing(True)  # nothing to tell
    lock.close()


class RecordingLock:
    """The lock as the window drives it: what it was told, and the windows it was shown."""

    def __init__(self, handles) -> None:
        self.handles = handles
        self.calls: list[str] = []
        self.seen: list[list[int]] = []

    def engage(self) -> None:
        self.calls.append("engage")
        self.seen.append(list(self.handles()))

    def release(self) -> None:
        self.calls.append("release")

    def close(self) -> None:
        self.calls.append("close")

    def typing(self, on: bool) -> None:
        self.calls.append(f"typing {on}")

    def status(self) -> str:
        return "recording lock"


@pytest.fixture
def two_monitors() -> KioskWindow:
    pygame.display.init()
    desktop = FakeDesktop(Monitor("left", (0, 0, 1280, 720), (0, 0, 1280, 720), True),
                          Monitor("right", (1280, 0, 1024, 768), (1280, 0, 1024, 768), False))
    made: list[RecordingLock] = []
    window = KioskWindow(fullscreen=True, window_size=(0, 0), corner="top-right",
                         keyboard=lambda page, handles: made.append(RecordingLock(handles))
                         or made[-1],
                         cover=Cover(FakeWindow(), [FakeWindow()], 0.0), desktop=desktop,
                         make_cover=lambda size, position: FakeWindow(size, position))
    return window


def test_the_lock_is_shown_the_page_and_every_cover_when_it_engages(two_monitors):
    window = two_monitors
    lock = window.keyboard
    page, cover = window.window.handle, window.covers[0].handle
    assert lock.calls == ["engage"] and lock.seen == [[page, cover]]


def test_c_releases_it_and_the_next_locked_page_engages_it_again(two_monitors):
    window = two_monitors
    window.widget("")
    window.lock()
    window.close()
    assert window.keyboard.calls == ["engage", "release", "engage", "close"]


def test_a_focus_gain_on_a_locked_page_renews_it_but_not_in_c(two_monitors):
    """SDL gives the page its IME back on a focus gain while text input is on."""
    window = two_monitors
    window.focus_gained()
    assert window.keyboard.calls == ["engage", "engage"]
    window.widget("")
    window.focus_gained()
    assert window.keyboard.calls == ["engage", "engage", "release"]


def test_the_admin_prompt_tells_the_lock_when_it_takes_typed_text(tmp_path):
    from tests.app_run import running_app, running_simulator

    with running_simulator() as sim, running_app(sim, tmp_path) as app:
        told: list[bool] = []
        app.window.keyboard.typing = told.append  # type: ignore[method-assign]
        app.admin.open = True  # what the chord does (tests/test_admin.py drives the chord)
        app._step()
        app.admin.open = False
        app._step()
    assert told[-2:] == [True, False]


# --------------------------------------------------------------------------- real Win32


@pytest.fixture
def settings_untouched(monkeypatch) -> list[tuple[str, int]]:
    """SystemParametersInfoW reads for real, its writes recorded instead: a test never
    changes the accessibility settings of the machine it runs on (Wine refuses them
    anyway, error 1439)."""
    from kiosk.platform import accessibility

    writes: list[tuple[str, int]] = []

    class ReadOnly(accessibility.Win32Parameters):
        def write(self, feature, value) -> None:
            writes.append((feature.name, value.dwFlags))

    monkeypatch.setattr(accessibility, "Win32Parameters", ReadOnly)
    return writes


@pytest.mark.win32
@pytest.mark.usefixtures("real_video")
def test_under_wine_every_part_engages_on_real_windows_and_c_gives_all_back(
        tmp_path, settings_untouched):
    """The real lock on a real SDL page and cover: the hook, SDL's grab, the accessibility
    hotkeys (Wine reports none on, so none are written), the IME detached from both
    windows, the edge-swipe property set; in C all given back and no state file left."""
    page = pygame.Window("page", (320, 200), position=(0, 0))
    cover = pygame.Window("cover", (320, 200), position=(400, 0))
    pygame.event.pump()
    from kiosk.platform.ime import Imm32

    imm = Imm32()
    lock = lockdown(page, lambda: [page.handle, cover.handle], tmp_path, platform="win32")
    try:
        lock.engage()
        assert lock.problem() is None, lock.status()
        status = lock.status()
        assert "Windows hook on" in status and "IME off" in status
        assert "edge swipes off" in status and "accessibility hotkeys" in status
        assert (tmp_path / "accessibility-hotkeys.json").exists()
        assert not imm.attached(page.handle) and not imm.attached(cover.handle)
        lock.release()
        assert imm.attached(page.handle)
        assert not (tmp_path / "accessibility-hotkeys.json").exists()
        assert "Windows hook off" in lock.status()
    finally:
        lock.close()
        cover.destroy()
        page.destroy()


def send_keys(*vks: int) -> None:
    """Press and release each virtual key with SendInput, as a keyboard would."""
    from tests.win32_keys import inject

    inject(stroke for vk in vks for stroke in ((vk, True), (vk, False)))


def keys_heard(seconds: float = 0.3) -> list[tuple[str, str]]:
    import time

    time.sleep(seconds)
    return [(pygame.event.event_name(e.type), e.unicode if e.type == pygame.KEYDOWN else e.text)
            for e in pygame.event.get() if e.type in (pygame.KEYDOWN, pygame.TEXTINPUT)]


@pytest.mark.win32
@pytest.mark.usefixtures("real_video")
def test_under_wine_injected_escape_keys_never_reach_the_page_and_the_prompt_still_types(
        tmp_path, settings_untouched):
    """SendInput through the real hook: Print Screen, a browser, a volume, a media, the
    mail and a launch key are swallowed (pressed and released), a letter passes; with the
    admin prompt open the letter arrives as text although the IME stays detached."""
    import time

    page = pygame.Window("page", (320, 200))
    page.focus()
    time.sleep(0.2)
    pygame.event.get()
    lock = lockdown(page, lambda: [page.handle], tmp_path, platform="win32")
    try:
        lock.engage()
        hook = next(part for part in lock.parts if type(part).__name__ == "WindowsKeyHook")
        send_keys(0x2C, 0xA6, 0xAD, 0xB3, 0xB4, 0xB7, 0x41)  # PrtSc … App2, then A
        assert keys_heard() == [("KeyDown", "a")]  # text input is off on a locked page
        assert hook.swallowed == 12
        lock.typing(True)  # the admin prompt opened
        send_keys(0x42)
        assert keys_heard() == [("KeyDown", "b"), ("TextInput", "b")]
        from kiosk.platform.ime import Imm32

        assert not Imm32().attached(page.handle)
    finally:
        lock.close()
        page.destroy()
