"""Stand-ins for the kiosk's windows, the OS's desktop and the keyboard lock, for the
window tests (SDL's dummy driver has neither focus nor monitors to speak of)."""

from __future__ import annotations

import pygame

from kiosk.platform.desktop import Monitor, Pointer


class FakeWindow:
    """pygame.Window's part the kiosk uses; ``focus()`` gives it the focus, as on X11."""

    ids = iter(range(1, 1000))

    def __init__(self, size: tuple[int, int] = (640, 360),
                 position: tuple[int, int] = (0, 0)) -> None:
        self.frames: list[tuple[tuple[int, int], tuple[int, int, int]]] = []
        self.resizes: list[tuple[int, int]] = []
        self.size, self.position = size, position
        self.id = self.handle = next(self.ids)
        self.borderless = self.always_on_top = False
        self.focused = True
        self.focus_calls = 0
        self.shown = 0
        self.destroyed = False

    @property
    def size(self) -> tuple[int, int]:
        return self._surface.get_size()

    @size.setter
    def size(self, size: tuple[int, int]) -> None:
        """As SDL does, a new size is a new surface, with none of the old pixels."""
        self._surface = pygame.Surface(size)
        self._surface.fill((255, 0, 255))
        self.resizes.append(size)

    @property
    def flips(self) -> int:
        return len(self.frames)

    def show(self) -> None:
        self.shown += 1

    def focus(self, input_only: bool = False) -> None:
        self.focus_calls += 1
        self.focused = True

    def destroy(self) -> None:
        self.destroyed = True

    def get_surface(self) -> pygame.Surface:
        return self._surface

    def flip(self) -> None:
        """What went on screen: the window's size and the colour of its top-left pixel."""
        self.frames.append((self.size, tuple(self._surface.get_at((0, 0)))[:3]))


class FakeDesktop:
    """The OS's monitors, as a test sets them; the pointer; which windows were lifted."""

    def __init__(self, *monitors: Monitor) -> None:
        self.screens = tuple(monitors)
        self.cursor: Pointer | None = None
        self.lifted: list[int] = []
        self.no_activate_calls: dict[int, bool] = {}

    def monitors(self) -> tuple[Monitor, ...]:
        return self.screens

    def pointer(self) -> Pointer | None:
        return self.cursor

    def no_activate(self, handle: int, on: bool) -> None:
        self.no_activate_calls[handle] = on

    def lift(self, handle: int) -> None:
        self.lifted.append(handle)

    def close(self) -> None:
        pass


class FakeKeyboard:
    def __init__(self) -> None:
        self.engaged = 0

    def engage(self) -> None:
        self.engaged += 1

    def release(self) -> None:
        pass

    def close(self) -> None:
        pass

    def status(self) -> str:
        return "fake keyboard lock"
