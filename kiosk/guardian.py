"""The guardian: a small process that keeps the PC locked whatever happens to the UI.

It runs the UI as a child and reads the UI's page over a pipe; the instant the pipe
closes, the UI is gone: during a session (C, D) that is rule 3 and the PC reboots,
anywhere else the UI is started again so the PC never stays unlocked. After a
reboot it starts the UI locked on "系统重启中" and never reboots a second time.
It imports nothing heavy: no pygame, OpenCV or requests.
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import BinaryIO

from kiosk import flow
from kiosk.config import Config
from kiosk.logs import Trace
from kiosk.platform import Rebooter, self_argv, ui_environment

log = logging.getLogger(__name__)

# The pages as the UI names them over the pipe; which ones are a session is the flow's fact.
SESSION_PAGES = frozenset(page.value for page in flow.SESSION_PAGES)
REBOOTING_PAGE = flow.Page.REBOOTING.value
HEARTBEAT_S = 1.0
QUICK_DEATH_S = 5.0  # a UI dying sooner than this, again and again, is backed off


@dataclass
class Watch:
    """What the guardian learned from one UI's pipe before it closed."""

    page: str = "boot"
    quit: bool = False


def watch(lines: BinaryIO, on_page: Callable[[str], None] = lambda page: None) -> Watch:
    """Read the UI's messages until the pipe closes (the UI is gone)."""
    seen = Watch()
    for raw in iter(lines.readline, b""):
        words = raw.decode("ascii", "replace").split()
        if words[:1] == ["page"] and len(words) == 2:
            seen.page = words[1]
            on_page(seen.page)
        elif words == ["quit"]:
            seen.quit = True
    return seen


def heartbeat(pipe: BinaryIO) -> threading.Event:
    """Tell the UI we are alive (the UI starts a new guardian when this pipe closes)
    until the returned event is set."""
    stop = threading.Event()

    def beat() -> None:
        while not stop.wait(HEARTBEAT_S):
            try:
                pipe.write(b"alive\n")
                pipe.flush()
            except (OSError, ValueError):
                return

    threading.Thread(target=beat, daemon=True, name="heartbeat").start()
    return stop


class Guardian:
    """Starts the UI, watches it, and applies rule 3 when it goes."""

    def __init__(self, config: Config, server_url: str, rebooter: Rebooter) -> None:
        self.config = config
        self.server_url = server_url
        self.rebooter = rebooter
        self.rebooting: str | None = None
        self.stopping = threading.Event()
        self.child: subprocess.Popen | None = None
        self._quick_deaths = 0

    def ui_argv(self) -> list[str]:
        args = ["--config", str(self.config.path), "--role", "ui",
                "--server-url", self.server_url]
        if self.rebooting:
            args += ["--rebooting", self.rebooting]
        return self_argv(*args)

    def decide(self, seen: Watch) -> bool:
        """After the UI went: reboot or restart it. Returns False when the kiosk should stop."""
        if seen.quit or self.stopping.is_set():
            log.info("kiosk stopped on purpose (%s)", "debug exit" if seen.quit else "signal")
            return False
        if seen.page in SESSION_PAGES:
            reason = f"rule3:ui_closed_in_{seen.page}"
            self.rebooting = reason
            self.rebooter.reboot(reason)
        elif seen.page == REBOOTING_PAGE and not self.rebooter.simulated:
            # The UI had started the reboot itself: never reboot twice, never unlock.
            log.warning("UI closed while the machine reboots; starting it locked again")
            self.rebooting = self.rebooting or "ui_closed_while_rebooting"
        else:
            log.warning("UI closed on page %s; starting it again", seen.page)
            self.rebooting = None
        return True

    def adopt(self, ui_pipe: BinaryIO) -> bool:
        """Watch a UI that started us (it outlived its first guardian) through our stdin."""
        log.info("guardian adopted a running UI")
        seen = watch(ui_pipe)
        return self.decide(seen)

    def run(self) -> int:
        """Keep a UI running until it asks to stop or we are told to stop."""
        while not self.stopping.is_set():
            started = time.monotonic()
            seen = self._run_child()
            if not self.decide(seen):
                return 0
            self._back_off(time.monotonic() - started)
        return 0

    def _run_child(self) -> Watch:
        argv = self.ui_argv()
        try:
            child = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     env=ui_environment())
        except OSError as exc:
            log.error("cannot start the UI %s: %s", argv, exc)
            return Watch()
        self.child = child
        log.info("UI started, pid %d", child.pid)
        assert child.stdin is not None and child.stdout is not None
        beating = heartbeat(child.stdin)
        seen = watch(child.stdout)
        beating.set()
        try:
            code = child.wait(timeout=0.5)
        except subprocess.TimeoutExpired:
            child.kill()  # it closed its pipe but lives on: it can no longer be watched
            code = child.wait()
        log.info("UI pid %d ended with code %s on page %s", child.pid, code, seen.page)
        return seen

    def _back_off(self, lived_s: float) -> None:
        """Restart at once, unless the UI keeps dying at start-up (say, no display)."""
        self._quick_deaths = self._quick_deaths + 1 if lived_s < QUICK_DEATH_S else 0
        if self._quick_deaths >= 3:
            self.stopping.wait(min(30.0, 0.5 * 2 ** (self._quick_deaths - 3)))

    def stop(self) -> None:
        """Stop the kiosk on purpose (Ctrl+C, a service stop): no reboot, no restart."""
        self.stopping.set()
        if self.child is not None and self.child.poll() is None:
            self.child.terminate()


def run(config: Config, *, server_url: str | None = None, adopt: bool = False) -> int:
    """The guardian process's main: the embedded simulator if asked for, then the watch."""
    simulator = None
    if config.embedded:  # only then: a venue's guardian never loads the simulator's code
        from kiosk.simulator.embedded import EmbeddedSimulator

        simulator = EmbeddedSimulator(config)
    if simulator is not None:
        port = int(server_url.rsplit(":", 1)[1]) if server_url else config.simulator.port
        server_url = simulator.start(port)
        # An adopting guardian's stdout is the pipe to the UI: announce on stderr there.
        print(f"模拟后台 (embedded simulator) control page: {server_url}/", flush=True,
              file=sys.stderr if adopt else sys.stdout)
    url = server_url or config.base_url
    guardian = Guardian(config, url, Rebooter(config.reboot_mode, config.reboot_command,
                                              Trace(config.trace)))

    def stop(signum: int, frame: object) -> None:
        log.info("guardian got signal %d: stopping the kiosk", signum)
        guardian.stop()

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    log.info("guardian %d started (server %s)", os.getpid(), url)
    try:
        if adopt:
            beating = heartbeat(sys.stdout.buffer)
            carry_on = guardian.adopt(sys.stdin.buffer)
            beating.set()
            if not carry_on:
                return 0
        return guardian.run()
    finally:
        if simulator is not None:
            simulator.stop()
