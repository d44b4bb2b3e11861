"""The UI's end of the guardian pipes: it reports its page and watches the guardian.

The guardian learns the current page from here (rule 3 needs it the instant the UI
dies). If the guardian dies instead, its pipe closes and the UI starts a new one
that adopts this UI, so neither can be killed alone to unlock the PC.
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import threading
from typing import BinaryIO

from kiosk.guardian import HEARTBEAT_S
from kiosk.platform import detached, self_argv

log = logging.getLogger(__name__)


class GuardianLink:
    """Page reports and life signs to the guardian; a new guardian if it goes."""

    def __init__(self, to_guardian: BinaryIO | None, from_guardian: BinaryIO | None,
                 guardian_args: list[str]) -> None:
        self._out = to_guardian
        self._in = from_guardian
        self._args = guardian_args
        self._lock = threading.Lock()
        self._page = "boot"
        self._closed = threading.Event()

    @classmethod
    def from_stdio(cls, guardian_args: list[str]) -> GuardianLink:
        """Take over stdin/stdout as the pipes, and point fd 1 at stderr for stray prints."""
        out = os.fdopen(os.dup(sys.stdout.fileno()), "wb", buffering=0)
        # A windowed Windows build has no stderr (sys.stderr is None): stray prints go nowhere.
        stray = sys.stderr.fileno() if sys.stderr is not None else os.open(os.devnull, os.O_WRONLY)
        os.dup2(stray, sys.stdout.fileno())
        return cls(out, sys.stdin.buffer, guardian_args)

    def start(self) -> None:
        if self._in is None:
            return
        threading.Thread(target=self._watch, daemon=True, name="guardian-watch").start()
        threading.Thread(target=self._beat, daemon=True, name="guardian-beat").start()

    def page(self, page: str) -> None:
        self._page = page
        self._send(f"page {page}")

    def quit(self) -> None:
        """Tell the guardian this exit is on purpose (debug F12)."""
        self._closed.set()
        self._send("quit")

    def _send(self, line: str) -> None:
        with self._lock:
            if self._out is None:
                return
            try:
                self._out.write(line.encode("ascii") + b"\n")
                self._out.flush()
            except (OSError, ValueError):
                pass  # the guardian is gone; _watch is starting a new one

    def _beat(self) -> None:
        while not self._closed.wait(HEARTBEAT_S):
            self._send("alive")

    def _watch(self) -> None:
        while not self._closed.is_set():
            pipe = self._in
            assert pipe is not None
            for _ in iter(pipe.readline, b""):
                pass
            if self._closed.is_set():
                return
            log.error("the guardian is gone; starting a new one")
            self._respawn()

    def _respawn(self) -> None:
        argv = self_argv(*self._args, "--ui-pid", str(os.getpid()))
        try:  # detached: not killed along with our process group
            child = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     **detached())
        except OSError as exc:
            log.error("cannot start a new guardian: %s", exc)
            self._closed.wait(1.0)
            return
        with self._lock:
            self._out, self._in = child.stdin, child.stdout
        self.page(self._page)
