"""The guardian: a small process that keeps the PC locked whatever happens to the UI.

It runs the UI as a child and reads the UI's page over a pipe; the instant the pipe
closes, the UI is gone: during a session (C, D) that is rule 3 and the PC reboots,
anywhere else the UI is started again so the PC never stays unlocked. A UI that
gives no life sign for ``guardian.hang_s`` (its loop is stuck, or it was stopped)
is killed and treated the same way. After a reboot it starts the UI locked on
"系统重启中" and never reboots a second time; if the reboot fails, on "请联系网管".
Only one guardian runs per PC (``InstanceLock``). It imports nothing heavy: no
pygame, OpenCV or requests.
"""

from __future__ import annotations

import logging
import os
import queue
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, BinaryIO

from kiosk import flow
from kiosk.config import Config
from kiosk.logs import Trace
from kiosk.platform import (
    InstanceLock,
    Maintenance,
    MaintenanceWatch,
    Outcome,
    Rebooter,
    kill,
    self_argv,
    ui_environment,
)
from kiosk.platform.disks import placement

if TYPE_CHECKING:
    from kiosk.remote_log import RemoteLog

log = logging.getLogger(__name__)

# The pages as the UI names them over the pipe; which ones are a session is the flow's fact.
SESSION_PAGES = frozenset(page.value for page in flow.SESSION_PAGES)
REBOOTING_PAGE = flow.Page.REBOOTING.value
FAILED_PAGE = flow.Page.REBOOT_FAILED.value
HEARTBEAT_S = 1.0
TURN_S = HEARTBEAT_S / 2  # the watch loop wakes at least this often, lines or not
QUICK_DEATH_S = 5.0  # a UI dying sooner than this, again and again, is backed off
# The first life sign may take longer: the UI speaks only once Python and pygame are
# loaded, which a cold start on a slow café PC (antivirus scans) can stretch. The UI
# also signs life at most this long while it starts, before its loop runs.
START_GRACE_S = 30.0
ALREADY_RUNNING = 3  # exit code of a second start
ADOPT_LOCK_S = 5.0  # how long an adopting guardian waits for the dead one's lock
REBOOT_FAILED_LINE = b"reboot_failed\n"  # guardian → UI: show 请联系网管


@dataclass
class Watch:
    """What the guardian learned from one UI's pipe before it closed (or hung)."""

    page: str = "boot"
    quit: bool = False
    hung: bool = False  # no life sign for hang_s: killed, and treated as closed
    reboot: str | None = None  # the outcome of the UI's own last reboot
    widget: str | None = None  # where the UI last put the session widget


class LifeLine:
    """The lines of the other process's pipe, each one a life sign. Iterating ends when
    the pipe closes (the process is gone) or, with ``hang_s``, when it stays silent that
    long (``hung`` is then True); the first line gets ``start_grace_s`` instead.
    ``on_turn`` is called at least every ``TURN_S`` while the iteration runs: the sign
    that the reading thread itself is not stuck (see ``Heartbeat``)."""

    def __init__(self, pipe: BinaryIO, hang_s: float | None = None,
                 start_grace_s: float = START_GRACE_S,
                 clock: Callable[[], float] = time.monotonic,
                 on_turn: Callable[[], None] = lambda: None) -> None:
        self.hang_s = hang_s
        self.start_grace_s = start_grace_s
        self.clock = clock
        self.on_turn = on_turn
        self.hung = False
        # select() does not work on Windows pipes; a reading thread works everywhere.
        self._lines: queue.Queue[bytes | None] = queue.Queue()
        threading.Thread(target=self._read, args=(pipe,), daemon=True, name="pipe").start()

    def _read(self, pipe: BinaryIO) -> None:
        try:
            for raw in iter(pipe.readline, b""):
                self._lines.put(raw)
        except (OSError, ValueError):
            pass
        self._lines.put(None)

    def __iter__(self) -> Iterator[bytes]:
        limit = None if self.hang_s is None else max(self.hang_s, self.start_grace_s)
        last = self.clock()
        while True:
            self.on_turn()
            wait = TURN_S if limit is None else max(0.0, last + limit - self.clock())
            try:
                raw = self._lines.get(timeout=min(wait, TURN_S))
            except queue.Empty:
                if limit is not None and self.clock() >= last + limit:
                    self.hung = True
                    return
                continue
            if raw is None:
                return
            last, limit = self.clock(), self.hang_s
            yield raw


def watch(pipe: BinaryIO, on_page: Callable[[str], None] = lambda page: None,
          hang_s: float | None = None, start_grace_s: float = START_GRACE_S,
          clock: Callable[[], float] = time.monotonic,
          on_turn: Callable[[], None] = lambda: None) -> Watch:
    """Read the UI's messages until the pipe closes (the UI is gone), or, with ``hang_s``,
    until no message at all came for that long (the UI is hung). The UI sends its life
    sign only while its loop runs."""
    lines = LifeLine(pipe, hang_s, start_grace_s, clock, on_turn)
    seen = Watch()
    for raw in lines:
        words = raw.decode("ascii", "replace").split()
        if words[:1] == ["page"] and len(words) == 2:
            seen.page = words[1]
            on_page(seen.page)
        elif words[:1] == ["reboot"] and len(words) == 2:
            seen.reboot = words[1]
        elif words[:1] == ["widget"] and len(words) == 2:
            seen.widget = words[1]
        elif words == ["quit"]:
            seen.quit = True
    seen.hung = lines.hung
    return seen


class Heartbeat:
    """Life signs to the other process, every ``period_s``, but only while the sender's
    own loop turns (``turn``): a process whose main thread is stuck (a hung call, a
    deadlock) falls silent, and the other side treats it as hung. Both ends use it: the
    guardian's watch loop, and the UI's main loop (kiosk/guardian_link.py), which for
    ``grace_s`` before its first turn (window, fonts, media) signs life regardless.
    The first sign goes at once: the other side's start grace lasts only until then.
    ``send`` writes one sign; False means the pipe is gone and the beat ends."""

    def __init__(self, send: Callable[[], bool], period_s: float = HEARTBEAT_S,
                 grace_s: float = 0.0) -> None:
        self.turns = 0
        self._send = send
        self._period_s = period_s
        self._grace_s = grace_s
        self._stopped = threading.Event()

    def start(self) -> Heartbeat:
        threading.Thread(target=self._beat, daemon=True, name="heartbeat").start()
        return self

    def turn(self) -> None:
        self.turns += 1

    def stop(self) -> None:
        self._stopped.set()

    def _beat(self) -> None:
        started = time.monotonic()
        seen = -1
        while True:
            starting = self.turns == 0 and time.monotonic() - started < self._grace_s
            if starting or self.turns != seen:  # else the loop did not move: no sign
                seen = self.turns
                if not self._send():
                    return
            if self._stopped.wait(self._period_s):
                return


def pipe_sender(pipe: BinaryIO) -> Callable[[], bool]:
    """``Heartbeat``'s ``send`` for a pipe of our own."""

    def send() -> bool:
        try:
            pipe.write(b"alive\n")
            pipe.flush()
        except (OSError, ValueError):
            return False
        return True

    return send


class Guardian:
    """Starts the UI, watches it, and applies rule 3 when it goes or hangs."""

    def __init__(self, config: Config, server_url: str, rebooter: Rebooter) -> None:
        self.config = config
        self.server_url = server_url
        self.rebooter = rebooter
        self.rebooting: str | None = None  # why the next UI starts locked
        self.outcome: Outcome | None = None  # what became of that reboot
        self.stopping = threading.Event()
        self.child: subprocess.Popen | None = None
        self._child_lock = threading.Lock()  # the child and what it must be told
        self._quick_deaths = 0
        self.widget: str | None = None  # where the UI last put its widget (kiosk/widget.py)
        rebooter.on_failed = self._reboot_failed

    def ui_argv(self) -> list[str]:
        cfg = self.config
        # The UI puts its black window up with this before it reads the config (boot race).
        window = "full" if cfg.fullscreen else "{}x{}".format(*cfg.window_size)
        args = ["--config", str(cfg.path), "--role", "ui", "--server-url", self.server_url,
                "--window", window]
        if self.widget:
            args += ["--widget", self.widget]
        if self.rebooting:
            args += ["--rebooting", self.rebooting,
                     "--reboot-outcome", str(self.outcome or Outcome.STARTED)]
        return self_argv(*args)

    def decide(self, seen: Watch) -> bool:
        """After the UI went: reboot or restart it. Returns False when the kiosk should stop."""
        self.widget = seen.widget or self.widget
        if seen.quit or self.stopping.is_set():
            log.info("kiosk stopped on purpose (%s)", "admin or debug exit" if seen.quit
                     else "signal")
            return False
        if seen.page in SESSION_PAGES:
            reason = f"rule3:ui_{'hung' if seen.hung else 'closed'}_in_{seen.page}"
            with self._child_lock:
                self.rebooting, self.outcome = reason, None
            outcome = self.rebooter.reboot(reason)
            with self._child_lock:  # a fast failure may have been recorded already
                self.outcome = self.outcome or outcome
        elif seen.page == FAILED_PAGE:
            log.error("UI closed on 请联系网管; starting it there again")
            self.rebooting = self.rebooting or "ui_closed_after_reboot_failed"
            self.outcome = Outcome.FAILED
        elif seen.page == REBOOTING_PAGE and self._reboot_coming(seen):
            # The machine is going down: never reboot twice, never unlock.
            log.warning("UI closed while the machine reboots; starting it locked again")
            self.rebooting = self.rebooting or "ui_closed_while_rebooting"
            self.outcome = Outcome.STARTED
        else:
            log.warning("UI closed on page %s; starting it again", seen.page)
            self.rebooting = self.outcome = None
        return True

    def _reboot_coming(self, seen: Watch) -> bool:
        """Whether the reboot behind page R is real: the UI's word on its own, else ours,
        else what the mode and maintenance mode say (the UI died before telling)."""
        if seen.reboot is not None:
            return seen.reboot == Outcome.STARTED
        if self.outcome is not None:
            return self.outcome == Outcome.STARTED
        maintenance = self.rebooter.maintenance
        return not self.rebooter.simulated and not (maintenance and maintenance.reason())

    def _reboot_failed(self, reason: str) -> None:
        """Our rule-3 reboot failed: the UI shows 请联系网管, now and after any restart."""
        with self._child_lock:
            self.outcome = Outcome.FAILED
            child = self.child
            if child is not None and child.stdin is not None:
                try:
                    child.stdin.write(REBOOT_FAILED_LINE)
                    child.stdin.flush()
                except (OSError, ValueError):
                    pass  # it is gone; the next one starts with --reboot-outcome failed

    def adopt(self, ui_pipe: BinaryIO, ui_pid: int, beating: Heartbeat) -> bool:
        """Watch a UI that started us (it outlived its first guardian) through our stdin."""
        log.info("guardian adopted a running UI, pid %d", ui_pid)
        seen = watch(ui_pipe, self.rebooter.trace.at_page, hang_s=self.config.guard.hang_s,
                     on_turn=beating.turn)
        if seen.hung:
            self._kill_hung(ui_pid, seen)
        self._give_back_leftovers()
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
        with self._child_lock:  # the argv and the child agree on a failed reboot
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
        beating = Heartbeat(pipe_sender(child.stdin)).start()
        seen = watch(child.stdout, self.rebooter.trace.at_page, hang_s=self.config.guard.hang_s,
                     on_turn=beating.turn)
        beating.stop()
        if seen.hung:
            self._kill_hung(child.pid, seen)
        try:
            code = child.wait(timeout=0.5)
        except subprocess.TimeoutExpired:
            child.kill()  # it closed its pipe but lives on: it can no longer be watched
            code = child.wait()
        log.info("UI pid %d ended with code %s on page %s", child.pid, code, seen.page)
        self._give_back_leftovers()
        return seen

    def _give_back_leftovers(self) -> None:
        """A UI killed, hung or stopped on a locked page could not give the accessibility
        hotkeys back (Windows): they are given back before anything else starts."""
        from kiosk.platform.accessibility import recover_left_behind

        recover_left_behind(self.config.log_dir)

    def _kill_hung(self, pid: int, seen: Watch) -> None:
        log.error("UI pid %d gave no life sign for %gs on page %s: killing it, as if closed",
                  pid, self.config.guard.hang_s, seen.page)
        try:
            kill(pid)
        except OSError as exc:
            log.error("cannot kill the hung UI %d: %s", pid, exc)

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


def rebooter_for(config: Config, trace: Trace) -> Rebooter:
    """The Rebooter of both processes: the config's mode, skipped in maintenance mode."""
    guard = config.guard
    maintenance = Maintenance(guard.maintenance_flag_file, guard.maintenance_registry_flags)
    return Rebooter(config.reboot_mode, config.reboot_command, trace, maintenance=maintenance,
                    down_within_s=config.reboot_down_within_s)


def run(config: Config, *, server_url: str | None = None, ui_pid: int | None = None,
        remote: RemoteLog | None = None, rebooting: str | None = None,
        reboot_outcome: str = Outcome.STARTED) -> int:
    """The guardian process's main: the single-instance lock, the embedded simulator if
    asked for, then the watch. ``rebooting``: the watchdog started this kiosk after its
    own reboot (kiosk/watchdog.py), so the first UI starts locked on 系统重启中."""
    lock = InstanceLock(config.guard.lock_file)
    if ui_pid is not None:
        # We replace a guardian that just died; the OS frees its lock as it goes.
        if not lock.acquire_within(ADOPT_LOCK_S):
            log.error("the lock %s is still held (pid %s); watching the UI anyway",
                      lock.path, lock.holder())
    elif not lock.acquire():
        # One line, on the console and in the log, like a config error; nothing else is touched.
        log.error("the kiosk is already running (pid %s).", lock.holder() or "unknown")
        return ALREADY_RUNNING
    simulator = None
    if config.embedded:  # only then: a venue's guardian never loads the simulator's code
        from kiosk.simulator.embedded import EmbeddedSimulator

        simulator = EmbeddedSimulator(config)
    if simulator is not None:
        port = int(server_url.rsplit(":", 1)[1]) if server_url else config.simulator.port
        server_url = simulator.start(port)
        # An adopting guardian's stdout is the pipe to the UI: announce on stderr there.
        print(f"模拟后台 (embedded simulator) control page: {server_url}/", flush=True,
              file=sys.stderr if ui_pid is not None else sys.stdout)
    url = server_url or config.base_url
    # Restored disks lose their files at each reboot: say where ours are (README, log.dir).
    log.info("disks: %s", placement({"logs": config.log_dir, "cache": config.cache_dir,
                                     "trace": config.trace}))
    rebooter = rebooter_for(config, Trace(config.trace, remote))
    assert rebooter.maintenance is not None
    MaintenanceWatch(rebooter.maintenance, config.guard.maintenance_check_s)  # logs it if on
    guardian = Guardian(config, url, rebooter)
    if rebooting:
        guardian.rebooting, guardian.outcome = rebooting, Outcome(reboot_outcome)

    def stop(signum: int, frame: object) -> None:
        log.info("guardian got signal %d: stopping the kiosk", signum)
        guardian.stop()

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    log.info("guardian %d started (server %s)", os.getpid(), url)
    try:
        if ui_pid is not None:
            beating = Heartbeat(pipe_sender(sys.stdout.buffer)).start()
            carry_on = guardian.adopt(sys.stdin.buffer, ui_pid, beating)
            beating.stop()
            if not carry_on:
                return 0
        return guardian.run()
    finally:
        if simulator is not None:
            simulator.stop()
