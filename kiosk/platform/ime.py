"""No input method (IME) on locked pages: text input stopped, the IME detached from each window.

A Chinese IME over a locked page is a way out: Shift and Ctrl+Space switch it, and its
toolbar, candidate window and settings menu open over any window, with links into Settings.
The kiosk types text on a locked page only in the admin prompt, and a password is never
typed through an IME (its candidate window would show it).

Facts relied on:
- SDL 2.32 (``src/events/SDL_keyboard.c``, ``src/video/windows/SDL_windowskeyboard.c`` on
  release-2.32.x) starts text input when its video starts, and on every focus gain calls
  the driver's StartTextInput while text input is on; on Windows that associates the IME's
  input context with the first window it saw focused (``ImmAssociateContext``), and
  SDL_StopTextInput associates none. Once stopped, a focus gain starts nothing.
- Microsoft's ImmAssociateContextEx: ``hIMC`` NULL with flags 0 associates no input context
  with the window (no IME in it); ``IACE_DEFAULT`` gives it its default context again;
  ImmGetContext then answers NULL for a window with none.
The page may be a window SDL never associated (a cover), so every window is detached by
the kiosk itself, again after SDL started text input and on every guard period.
"""

from __future__ import annotations

import ctypes
import logging
from collections.abc import Callable, Sequence
from typing import Any

from kiosk.platform.keyboard import _Reporter

log = logging.getLogger(__name__)

IACE_DEFAULT = 0x0010  # imm.h: give the window its default input context back


def text_input_wanted(locked: bool, typing: bool) -> bool:
    """SDL's text input: on a locked page only while the admin prompt takes typed text; in C
    and after release as SDL has it by default (on)."""
    return typing or not locked


class SdlTextInput:
    """pygame's switch for SDL's text input (TEXTINPUT events, which also fill KEYDOWN's
    ``unicode`` that the admin prompt reads)."""

    def set(self, on: bool) -> None:
        import pygame

        if on:
            pygame.key.start_text_input()
        else:
            pygame.key.stop_text_input()


class Imm32:
    """The three imm32 calls, with handle-wide signatures (Windows only)."""

    def __init__(self, imm32: Any = None) -> None:
        if imm32 is None:
            imm32 = ctypes.WinDLL("imm32", use_last_error=True)  # type: ignore[attr-defined]
        handle = ctypes.c_void_p
        imm32.ImmAssociateContextEx.argtypes = [handle, handle, ctypes.c_uint32]
        imm32.ImmAssociateContextEx.restype = ctypes.c_int
        imm32.ImmGetContext.argtypes = [handle]
        imm32.ImmGetContext.restype = handle
        imm32.ImmReleaseContext.argtypes = [handle, handle]
        imm32.ImmReleaseContext.restype = ctypes.c_int
        self.dll = imm32

    def detach(self, hwnd: int) -> bool:
        return bool(self.dll.ImmAssociateContextEx(hwnd, None, 0))

    def give_back(self, hwnd: int) -> bool:
        return bool(self.dll.ImmAssociateContextEx(hwnd, None, IACE_DEFAULT))

    def attached(self, hwnd: int) -> bool:
        """Whether an IME input context is associated with the window now."""
        context = self.dll.ImmGetContext(hwnd)
        if context:
            self.dll.ImmReleaseContext(hwnd, context)
        return bool(context)


class ImeBlock:
    """Text input and the IME, off on locked pages for the page and every cover."""

    def __init__(self, handles: Callable[[], Sequence[int]], imm: Any = None,
                 text_input: Any = None) -> None:
        """``handles``: the page's window and the covers' now (they come and go)."""
        self.handles = handles
        self.imm = imm if imm is not None else Imm32()
        self.text_input = text_input if text_input is not None else SdlTextInput()
        self.locked = False
        self.typing_on = False
        self.detached: set[int] = set()
        self._report = _Reporter("IME NOT DETACHED: %s; an input method may open over the page",
                                 log)
        self._text: bool | None = None  # what SDL was last told; None: its default

    def engage(self) -> None:
        """Locked: text input as wanted, and the IME detached again from every window (SDL
        associates it again whenever it starts text input, on each focus gain too)."""
        self.locked = True
        self._apply_text_input()
        handles = set(self.handles())
        failed = [h for h in handles if not self.imm.detach(h)]
        self.detached = handles - set(failed)
        self._report.settle([f"ImmAssociateContextEx failed for window(s) {failed}"]
                            if failed else [])

    def release(self) -> None:
        """In C: the page's window (the widget now) gets its default input context back."""
        if not self.locked:
            return
        self.locked = False
        alive = set(self.handles())
        for handle in self.detached & alive:
            self.imm.give_back(handle)
        self.detached = set()
        self._apply_text_input()

    def close(self) -> None:
        self.release()

    def typing(self, on: bool) -> None:
        """The admin prompt opened (it needs typed text) or closed."""
        if on == self.typing_on:
            return
        self.typing_on = on
        if self.locked:
            self.engage()

    def _apply_text_input(self) -> None:
        wanted = text_input_wanted(self.locked, self.typing_on)
        if wanted != self._text:
            self.text_input.set(wanted)
            self._text = wanted

    def problem(self) -> str | None:
        return self._report.problem

    def status(self) -> str:
        if not self.locked:
            return "IME as Windows has it"
        return "IME off, typing" if self.typing_on else "IME off"
