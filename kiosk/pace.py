"""How the UI loop sleeps between frames: until the page's next frame, or a worker's answer.

``pygame.time.Clock.tick`` cannot be woken early, and pygame's ``event.wait(timeout)``
polls the queue every millisecond (``make bench`` measures it at several percent of
a core while idle). A ``threading.Event`` sleeps in the kernel and is set by the
worker that posted an answer, so the widget can wake only a few times a second and
still act on every answer within milliseconds.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable


class Pace:
    """Sleeps for the rest of a frame period; ``wake()`` from any thread cuts it short."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._woken = threading.Event()

    def wake(self) -> None:
        self._woken.set()

    def sleep(self, started: float, fps: float, until: float | None = None) -> bool:
        """Sleep until ``started + 1/fps``, or ``until`` if sooner (the next video
        frame's time); returns True when woken early by ``wake()``."""
        deadline = started + 1.0 / fps
        if until is not None:
            deadline = min(deadline, until)
        woken = self._woken.wait(max(0.0, deadline - self._clock()))
        # Cleared after the wait: an answer posted just before is still in pygame's
        # queue and is handled by the step that follows at once.
        self._woken.clear()
        return woken
