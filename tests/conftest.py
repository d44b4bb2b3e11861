"""What every test shares: an HTTP session for local servers, and the process-wide
logging set-up put back after each test.

``main.main`` and ``kiosk.logs.setup`` replace the root logger's handlers with a console
handler on the ``sys.stderr`` of that moment, which pytest closes after the test; a
worker thread logging later would then print logging errors into another test's output.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterator

import pytest
import requests


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """``win32`` tests run only on a real Win32, ``linux`` tests only off it: one suite,
    green under Linux and under the Windows CPython (``make test-windows``)."""
    on_windows = sys.platform == "win32"
    for item in items:
        if not on_windows and item.get_closest_marker("win32"):
            item.add_marker(pytest.mark.skip(reason="needs a real Win32 (make test-windows)"))
        if on_windows and item.get_closest_marker("linux"):
            item.add_marker(pytest.mark.skip(reason="assumes Linux"))


@pytest.fixture(autouse=True)
def _restore_logging() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level, hook = list(root.handlers), root.level, sys.excepthook
    yield
    for handler in list(root.handlers):
        if handler not in handlers:
            root.removeHandler(handler)
            handler.close()
    for handler in handlers:
        if handler not in root.handlers:
            root.addHandler(handler)
    root.setLevel(level)
    sys.excepthook = hook


@pytest.fixture
def http() -> Iterator[requests.Session]:
    """A session for the tests' local servers."""
    with requests.Session() as session:
        session.trust_env = False  # never route localhost through a proxy from the environment
        yield session
