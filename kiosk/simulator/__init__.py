"""Local stand-in for the venue backend, so the kiosk runs and is tested without one.

``Simulator`` is imported on first use: the guardian imports
``kiosk.simulator.embedded`` and must stay light (no HTTP server code in its memory).
"""

from __future__ import annotations

from typing import Any

__all__ = ["Simulator"]


def __getattr__(name: str) -> Any:
    if name == "Simulator":
        from kiosk.simulator.server import Simulator

        return Simulator
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
