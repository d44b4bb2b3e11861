"""The real UI app on SDL's dummy display, stepped by a test instead of its own loop."""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pygame

os.environ.setdefault("SDL_VIDEODRIVER", "dummy")

from kiosk import config as config_module  # noqa: E402
from kiosk.app import App  # noqa: E402
from kiosk.flow import Start  # noqa: E402
from kiosk.guardian_link import GuardianLink  # noqa: E402
from kiosk.simulator import Simulator  # noqa: E402

CLIENT = "370011"


@contextmanager
def running_simulator() -> Iterator[Simulator]:
    """The backend simulator, whose sessions never end by themselves during a test."""
    simulator = Simulator(report_timeout_s=10_000)
    simulator.start()
    try:
        yield simulator
    finally:
        simulator.stop()


@contextmanager
def running_app(sim: Simulator, tmp_path: Path, size: tuple[int, int] = (640, 360),
                renderer: str = "auto") -> Iterator[App]:
    """The app against ``sim``, a locked window of ``size``, routed (Start) and ready to step;
    ``renderer``: its media.renderer."""
    data = {
        "server": {"base_url": sim.base_url, "timeout_s": 1},
        "client": {"id": CLIENT},
        "timers": {"scan_poll_s": 0.1, "session_poll_s": 0.1, "session_report_s": 0.2,
                   "unpaid_poll_s": 0.1},
        "reboot": {"mode": "simulate", "simulate_s": 60},
        "display": {"fullscreen": False, "window_size": list(size)},
        "media": {"cache_dir": str(tmp_path / "cache"), "refresh_s": 300, "renderer": renderer},
        "log": {"dir": str(tmp_path / "logs"), "trace": str(tmp_path / "trace.jsonl")},
    }
    config = config_module.load(tmp_path / "config.yaml", data)
    kiosk = App(config, sim.base_url, GuardianLink(None, None, []), None)
    from kiosk.window import KioskWindow

    pygame.display.init()
    pygame.font.init()
    kiosk.window = KioskWindow(fullscreen=False, window_size=size, corner="top-right")
    kiosk._admin_exit()
    kiosk.answer_event = pygame.event.custom_type()
    kiosk._build()
    kiosk._feed(Start(time.monotonic()), time.monotonic())
    try:
        yield kiosk
    finally:
        kiosk._stop_workers()
        kiosk.scene.leave()
        kiosk.window.window.destroy()  # pygame stays up: the scenes' fonts are kept across tests


def steps(app: App, seconds: float) -> None:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        app._step()
        time.sleep(0.01)


def until(app: App, done: Callable[[], object], seconds: float = 5) -> None:
    end = time.monotonic() + seconds
    while not done():
        assert time.monotonic() < end, "not within the time"
        app._step()
        time.sleep(0.01)
