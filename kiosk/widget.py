"""The session widget's place: where the customer put it, collapsed or not, and the drag
that moves it. Pure, like the layout beside it (kiosk/layout.py).

The place lasts for the session: the UI tells the guardian (``widget`` lines on the
pipe) and the guardian hands it to a UI it starts again (``--widget``), which uses it
only in the same session (the server's start time and customer name it), so the next
session starts in ``display.widget_corner`` again.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from kiosk.platform.desktop import Point

DRAG_SLOP_PX = 4  # a press that moves less than this is a click, not a drag


@dataclass(frozen=True)
class WidgetPlace:
    """Where the widget of session ``session`` is, and whether it is the slim pill."""

    session: str
    position: Point
    collapsed: bool = False

    def token(self) -> str:
        """One ASCII word for the guardian pipe and the UI's command line."""
        x, y = self.position
        return f"{self.session}:{x}:{y}:{int(self.collapsed)}"

    @classmethod
    def from_token(cls, token: str | None) -> WidgetPlace | None:
        """The place a token names; None for anything else (a token of an older build)."""
        parts = (token or "").split(":")
        if len(parts) != 4 or not parts[0].isalnum() or parts[3] not in ("0", "1"):
            return None
        try:
            position = int(parts[1]), int(parts[2])
        except ValueError:
            return None
        return cls(parts[0], position, parts[3] == "1")


def session_key(client_id: str, session: str) -> str:
    """A short ASCII name for one session of this PC (``Status.session``, the server's
    customer and start time); empty when the server names none."""
    if not session:
        return ""
    return hashlib.blake2s(f"{client_id}\n{session}".encode(), digest_size=6).hexdigest()


class Drag:
    """A press on the widget's body, then the pointer moving: the window follows it.

    Positions are desktop pixels. A press that never moves ``DRAG_SLOP_PX`` is a click."""

    def __init__(self) -> None:
        self._grab: Point | None = None
        self._start: Point = (0, 0)
        self.moved = False

    @property
    def active(self) -> bool:
        return self._grab is not None

    def press(self, pointer: Point, window: Point) -> None:
        self._grab = pointer[0] - window[0], pointer[1] - window[1]
        self._start, self.moved = pointer, False

    def follow(self, pointer: Point) -> Point | None:
        """Where the window goes for the pointer at ``pointer``; None: it stays."""
        if self._grab is None:
            return None
        if not self.moved:
            dx, dy = pointer[0] - self._start[0], pointer[1] - self._start[1]
            if dx * dx + dy * dy < DRAG_SLOP_PX * DRAG_SLOP_PX:
                return None
            self.moved = True
        return pointer[0] - self._grab[0], pointer[1] - self._grab[1]

    def release(self) -> bool:
        """End the drag; True when it was a click (the pointer never went anywhere)."""
        clicked = self._grab is not None and not self.moved
        self._grab, self.moved = None, False
        return clicked
