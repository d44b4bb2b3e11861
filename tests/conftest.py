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
