"""The IME on locked pages: SDL's text input stopped and no input context on the page or any
cover, text input only while the admin prompt takes a password (still without the IME), and
both given back in C. Fakes on Linux; under the Windows CPython real imm32 and SDL windows.
"""

from __future__ import annotations

import ctypes
import os
import time

import pytest

from kiosk.platform.ime import IACE_DEFAULT, ImeBlock, Imm32, text_input_wanted
from tests.real_display import real_video  # noqa: F401 - the fixture


@pytest.mark.parametrize("locked,typing,wanted", [
    (True, False, False),  # a locked page: nothing to type, no IME to open
    (True, True, True),  # the admin prompt over it: the password comes as text input
    (False, False, True),  # C, or released: as SDL has it by default
    (False, True, True),
])
def test_text_input_is_on_only_where_something_is_typed(locked, typing, wanted):
    assert text_input_wanted(locked, typing) is wanted


class FakeImm:
    """Which windows have an input context; ImmAssociateContextEx as Windows does it."""

    def __init__(self, *handles: int, refuse: frozenset[int] = frozenset()) -> None:
        self.context = dict.fromkeys(handles, True)
        self.refuse = refuse

    def detach(self, hwnd: int) -> bool:
        if hwnd in self.refuse:
            return False
        self.context[hwnd] = False
        return True

    def give_back(self, hwnd: int) -> bool:
        self.context[hwnd] = True
        return True

    def attached(self, hwnd: int) -> bool:
        return self.context[hwnd]


class FakeTextInput:
    """SDL's text input; starting it gives the first window its IME again, as SDL does."""

    def __init__(self, imm: FakeImm, main: int) -> None:
        self.imm, self.main = imm, main
        self.on = True
        self.calls: list[bool] = []

    def set(self, on: bool) -> None:
        self.calls.append(on)
        self.on = on
        self.imm.context[self.main] = on


PAGE, COVER = 0x10_0001, 0x10_0002


@pytest.fixture
def windows() -> list[int]:
    return [PAGE, COVER]


def block(windows: list[int], imm: FakeImm) -> tuple[ImeBlock, FakeTextInput]:
    text = FakeTextInput(imm, PAGE)
    return ImeBlock(lambda: windows, imm, text), text


def test_a_locked_page_stops_text_input_and_detaches_the_page_and_every_cover(windows):
    imm = FakeImm(PAGE, COVER)
    ime, text = block(windows, imm)
    ime.engage()
    assert not text.on and not imm.attached(PAGE) and not imm.attached(COVER)
    assert ime.status() == "IME off" and ime.problem() is None
    ime.engage()  # every guard period: SDL is not told again
    assert text.calls == [False]


def test_the_admin_prompt_gets_text_input_but_never_the_ime(windows):
    imm = FakeImm(PAGE, COVER)
    ime, text = block(windows, imm)
    ime.engage()
    ime.typing(True)
    assert text.on  # the password's characters arrive
    assert not imm.attached(PAGE)  # detached again after SDL gave it back
    assert ime.status() == "IME off, typing"
    ime.typing(False)
    assert not text.on and not imm.attached(PAGE)


def test_c_gives_the_widget_its_ime_and_text_input_back(windows):
    imm = FakeImm(PAGE, COVER)
    ime, text = block(windows, imm)
    ime.engage()
    windows.remove(COVER)  # the covers go with C
    ime.release()
    assert text.on and imm.attached(PAGE)
    assert ime.status() == "IME as Windows has it"
    ime.release()  # twice (C, then exit): nothing more
    assert text.calls == [False, True]


def test_a_new_cover_is_detached_on_the_next_guard_period(windows):
    imm = FakeImm(PAGE, COVER, 0x10_0003)
    ime, _ = block(windows, imm)
    ime.engage()
    windows.append(0x10_0003)  # a monitor was plugged in
    ime.engage()
    assert not imm.attached(0x10_0003)


def test_a_window_that_keeps_its_ime_is_reported_once(windows, caplog):
    imm = FakeImm(PAGE, COVER, refuse=frozenset({COVER}))
    ime, _ = block(windows, imm)
    ime.engage()
    ime.engage()
    assert ime.problem() == f"ImmAssociateContextEx failed for window(s) [{COVER}]"
    assert caplog.text.count("IME NOT DETACHED") == 1


def test_imm32_signatures_keep_64_bit_handles_whole():
    class Fn:
        argtypes = restype = None

    dll = type("imm32", (), {name: Fn() for name in (
        "ImmAssociateContextEx", "ImmGetContext", "ImmReleaseContext")})()
    Imm32(dll)
    assert dll.ImmAssociateContextEx.argtypes[:2] == [ctypes.c_void_p, ctypes.c_void_p]
    assert dll.ImmGetContext.restype is ctypes.c_void_p
    assert IACE_DEFAULT == 0x10


# --------------------------------------------------------------------------- real Win32


def sdl_text_input_active() -> bool:
    """SDL_IsTextInputActive from the SDL2.dll pygame loaded."""
    import pygame

    sdl = ctypes.CDLL(os.path.join(os.path.dirname(pygame.__file__), "SDL2.dll"))
    return bool(sdl.SDL_IsTextInputActive())


@pytest.mark.win32
@pytest.mark.usefixtures("real_video")
def test_under_wine_the_page_and_its_cover_have_no_input_context_while_locked():
    """Real SDL windows and imm32: ImmGetContext answers NULL for both while locked, SDL's
    text input stays stopped across focus changes, the admin prompt's text input leaves
    the IME detached, and C gives the page its context back."""
    import pygame

    page = pygame.Window("page", (320, 200), position=(0, 0))
    cover = pygame.Window("cover", (320, 200), position=(400, 0))
    pygame.event.pump()
    try:
        imm = Imm32()
        assert imm.attached(page.handle) and imm.attached(cover.handle)  # Windows' default
        ime = ImeBlock(lambda: [page.handle, cover.handle], imm)
        ime.engage()
        assert not imm.attached(page.handle) and not imm.attached(cover.handle)
        assert not sdl_text_input_active()
        for window in (cover, page, cover, page):  # SDL's focus gains start nothing
            window.focus()
            time.sleep(0.05)
            pygame.event.pump()
        assert not sdl_text_input_active()
        assert not imm.attached(page.handle) and not imm.attached(cover.handle)
        ime.typing(True)
        assert sdl_text_input_active()
        assert not imm.attached(page.handle)  # SDL associated it again; the block did not
        ime.typing(False)
        ime.release()
        assert imm.attached(page.handle) and sdl_text_input_active()
    finally:
        cover.destroy()
        page.destroy()

