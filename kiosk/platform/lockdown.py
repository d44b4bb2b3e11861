"""Everything a locked page closes, as one lock the kiosk window engages and releases.

The keyboard (SDL's grab, the Windows hook: ``keyboard.py``), and on Windows the
accessibility hotkeys (``accessibility.py``), the IME (``ime.py``) and touch edge swipes
(``touch.py``). Engaged on every locked page and on each guard period (a part that holds
does nothing again), released for the widget in C and on exit. Elsewhere the Windows parts
do not exist: one log line says so and nothing else changes.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from kiosk.platform.keyboard import CombinedLock, KeyboardLock, keyboard_lock

log = logging.getLogger(__name__)

WINDOWS_PARTS = "accessibility hotkeys, IME, touch edge swipes"


class Lockdown(CombinedLock):
    """The parts as one; ``typing`` tells the IME part that the admin prompt takes text."""

    def __init__(self, parts: Sequence[KeyboardLock], ime: Any = None) -> None:
        super().__init__(parts)
        self.ime = ime

    def typing(self, on: bool) -> None:
        if self.ime is not None:
            self.ime.typing(on)


class _Unavailable:
    """A Windows part whose DLL or function is missing: it holds nothing and says so."""

    def __init__(self, name: str, exc: Exception) -> None:
        self.name = name
        self._problem = f"{name} unavailable: {exc}"
        log.error("%s; that way out stays open", self._problem)

    def engage(self) -> None: ...
    def release(self) -> None: ...
    def close(self) -> None: ...

    def problem(self) -> str | None:
        return self._problem

    def status(self) -> str:
        return f"{self.name} missing"


def _part(name: str, make: Callable[[], Any]) -> Any:
    try:
        return make()
    except (OSError, AttributeError) as exc:  # the DLL or the function is not there
        return _Unavailable(name, exc)


def keys_only(window: Any, handles: Callable[[], Sequence[int]]) -> Lockdown:
    """The keyboard lock alone: for a kiosk window made without the app's lock (tests, tools),
    which must never change the machine's settings."""
    return Lockdown(keyboard_lock(window).parts)


def lockdown(window: Any, handles: Callable[[], Sequence[int]], state_dir: Path,
             platform: str = sys.platform) -> Lockdown:
    """The lock for this OS. ``handles``: the page's window and the covers' now;
    ``state_dir``: where the accessibility flags before are kept while changed (log.dir,
    where the guardian and the next UI look)."""
    keyboard = keyboard_lock(window, platform)
    if platform != "win32":
        log.info("%s: not on this platform", WINDOWS_PARTS)
        return Lockdown(keyboard.parts)
    from kiosk.platform.accessibility import STATE_FILE, AccessibilityHotkeys
    from kiosk.platform.ime import ImeBlock
    from kiosk.platform.touch import EdgeSwipes

    hotkeys = _part("accessibility hotkeys",
                    lambda: AccessibilityHotkeys(state_dir / STATE_FILE))
    ime = _part("IME block", lambda: ImeBlock(handles))
    swipes = _part("edge swipes", lambda: EdgeSwipes(handles))
    return Lockdown([*keyboard.parts, hotkeys, ime, swipes],
                    ime if isinstance(ime, ImeBlock) else None)
