"""The UI's end of the guardian pipes: it reports its page and watches the guardian.

The guardian learns the current page from here (rule 3 needs it the instant the UI
dies). If the guardian dies instead, its pipe closes and the UI starts a new one
that adopts this UI, so neither can be killed alone to unlock the PC; a guardian that
stops signing life (suspended, say) is killed and replaced the same way. Once the
UI's loop runs, the life sign ("alive") is sent only while it makes progress, so a
loop stuck in a call counts as hung even though this thread still runs; before that
(window, fonts, media) it is sent for at most ``START_GRACE_S``, so a UI stopped
during its start is caught within ``guardian.hang_s`` too.
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import threading
from collections.abc import Callable
from typing import BinaryIO

from kiosk.guardian import HEARTBEAT_S, REBOOT_FAILED_LINE, START_GRACE_S, Heartbeat, LifeLine
from kiosk.platform import detached, kill, self_argv

log = logging.getLogger(__name__)


class GuardianLink:
    """Page reports and life signs to the guardian; a new guardian if it goes."""

    def __init__(self, to_guardian: BinaryIO | None, from_guardian: BinaryIO | None,
                 guardian_args: list[str], *, hang_s: float | None = None,
                 guardian_pid: int | None = None) -> None:
        self._out = to_guardian
        self._in = from_guardian
        self._args = guardian_args
        self._hang_s = hang_s
        self._guardian_pid = guardian_pid
        self._lock = threading.Lock()
        self._page = "boot"
        self._widget: str | None = None  # where the widget is, for a new guardian too
        self._closed = threading.Event()
        self._heart: Heartbeat | None = None  # life signs, from start()
        self.reboot_failed = threading.Event()  # the guardian said its reboot failed
        self.on_reboot_failed: Callable[[], None] = lambda: None

    @classmethod
    def from_stdio(cls, guardian_args: list[str], hang_s: float | None = None) -> GuardianLink:
        """Take over stdin/stdout as the pipes, and point fd 1 at stderr for stray prints."""
        out = os.fdopen(os.dup(sys.stdout.fileno()), "wb", buffering=0)
        # A windowed Windows build has no stderr (sys.stderr is None): stray prints go nowhere.
        stray = sys.stderr.fileno() if sys.stderr is not None else os.open(os.devnull, os.O_WRONLY)
        os.dup2(stray, sys.stdout.fileno())
        return cls(out, sys.stdin.buffer, guardian_args, hang_s=hang_s,
                   guardian_pid=os.getppid())  # the guardian started us

    def start(self) -> None:
        if self._in is None:
            return
        threading.Thread(target=self._watch, daemon=True, name="guardian-watch").start()
        self._heart = Heartbeat(self._alive, HEARTBEAT_S, grace_s=START_GRACE_S).start()

    def page(self, page: str) -> None:
        self._page = page
        self._send(f"page {page}")

    def widget(self, place: str) -> None:
        """Where the customer put the widget (kiosk/widget.py's token): the guardian hands
        it to the UI it starts next, so a restarted UI puts the widget back there."""
        self._widget = place
        self._send(f"widget {place}")

    def progress(self) -> None:
        """Called once per loop iteration: the next life sign may go out."""
        if self._heart is not None:
            self._heart.turn()

    def reboot(self, outcome: str) -> None:
        """Tell the guardian what became of our own reboot (is page R a real reboot?)."""
        self._send(f"reboot {outcome}")

    def quit(self) -> None:
        """Tell the guardian this exit is on purpose (debug F12, the admin exit)."""
        self._closed.set()
        if self._heart is not None:
            self._heart.stop()
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

    def _alive(self) -> bool:
        self._send("alive")
        return True  # a gone guardian is replaced by _watch: keep beating to the new one

    def _watch(self) -> None:
        while not self._closed.is_set():
            assert self._in is not None
            lines = LifeLine(self._in, self._hang_s)
            for line in lines:
                if line == REBOOT_FAILED_LINE:
                    log.critical("the guardian's reboot failed: showing 请联系网管")
                    self.reboot_failed.set()
                    self.on_reboot_failed()
            if self._closed.is_set():
                return
            if lines.hung:
                log.error("the guardian (pid %s) gave no life sign for %gs; replacing it",
                          self._guardian_pid, self._hang_s)
                self._kill_guardian()
            else:
                log.error("the guardian is gone; starting a new one")
            self._respawn()

    def _kill_guardian(self) -> None:
        """End a hung guardian, so it cannot wake up later beside the new one."""
        pid = self._guardian_pid
        if pid is None or pid <= 1:  # never init: we were orphaned, nothing to end
            return
        try:
            kill(pid)
        except OSError as exc:
            log.error("cannot kill the hung guardian %d: %s", pid, exc)

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
            self._guardian_pid = child.pid
        self.page(self._page)
        if self._widget is not None:
            self.widget(self._widget)
