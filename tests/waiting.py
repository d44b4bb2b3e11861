"""Waiting for something another thread or process does: poll it, never sleep a guess.

Tests on a shared, busy machine cannot know how long a worker, a window or a pipe
takes; they wait until it happened, with a deadline far above any real delay.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


def _is_array(value: object) -> bool:
    """A NumPy array, without loading NumPy for the waits that never see one (the bench's
    harness must not share OpenCV's and NumPy's pages with the kiosk it measures)."""
    numpy = sys.modules.get("numpy")
    return numpy is not None and isinstance(value, numpy.ndarray)


def wait_until(
    predicate: Callable[[], T],
    timeout: float,
    interval: float = 0.1,
    message: str = "condition not met",
    ignore: tuple[type[BaseException], ...] = (),
) -> T:
    """Call ``predicate`` until it returns something truthy, and return that.

    A NumPy array counts as truthy, so a predicate may return a screenshot or
    None. Screens update asynchronously, so tests poll rather than sleep. On timeout
    raise AssertionError with ``message`` and the last value seen (or the last
    exception among ``ignore``), which usually says what went wrong.
    """
    deadline = time.monotonic() + timeout
    last: object = None
    while True:
        try:
            value = predicate()
            if _is_array(value) or value:
                return value
            last = value
        except ignore as err:
            last = err
        if time.monotonic() >= deadline:
            raise AssertionError(f"{message} (after {timeout:g}s; last value: {last!r})")
        time.sleep(interval)
