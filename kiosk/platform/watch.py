"""The watchdog's hold on the kiosk's processes, and how it starts the kiosk again.

Facts relied on:
- Linux: ``pidfd_open(2)`` (Linux 5.3) gives a descriptor that refers to one process, not
  to a pid number that may be reused, and turns readable when it exits (a zombie
  counts); ``poll(2)`` on several waits for any of them with no CPU use. A process is
  verified after its descriptor is opened: ``/proc/PID/exe`` is the kiosk's program,
  its argv runs main.py (not frozen) with our config as the guardian or the UI, and
  the descriptor is not yet readable, so what was read is the process the descriptor
  holds. ``/proc/PID/status`` gives its owner, ``/proc/PID/environ`` its display.
- A process that only takes the kiosk's name (``kiosk`` in its title, a script named
  main.py elsewhere) does not count: the program's resolved path and main.py's path
  are compared, not names.

The kiosk is started again as the desktop user it last ran as (uid, groups, its display
and X authority), with the system's PATH, never the customer's.
"""

from __future__ import annotations

import contextlib
import logging
import ntpath
import os
import select
import signal
import subprocess
import sys
import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kiosk.platform.process import MAIN_PY, self_argv

log = logging.getLogger(__name__)

SCAN_S = 2.0  # with no kiosk to watch (before logon, after an admin exit), look this often
ROLES = (None, "guardian", "ui")  # a simulator or any command (check, install…) is not the kiosk
# What the kiosk takes from the desktop user's environment; the rest is the system's.
DESKTOP_VARIABLES = ("DISPLAY", "XAUTHORITY", "WAYLAND_DISPLAY", "XDG_RUNTIME_DIR",
                     "DBUS_SESSION_BUS_ADDRESS", "XDG_SESSION_TYPE", "LANG", "LANGUAGE",
                     "LC_ALL", "SDL_FRAMEBUFFER_ACCELERATION", "SDL_AUDIODRIVER")
VIDEO_DRIVERS = ("x11", "wayland")  # SDL_VIDEODRIVER passed on only when it shows a screen
SYSTEM_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


@dataclass(frozen=True)
class Rules:
    """What makes a process the kiosk: its program (or the program's windowed twin, which
    the logon task runs on Windows), main.py (None when frozen), its config."""

    programs: tuple[Path, ...]
    main_py: Path | None
    config: Path

    @classmethod
    def here(cls, config: Path, platform: str = sys.platform) -> Rules:
        frozen = bool(getattr(sys, "frozen", False))
        # A Windows venv's python.exe is a launcher: the process runs the base interpreter.
        found = {Path(sys.executable).resolve(),
                 Path(getattr(sys, "_base_executable", sys.executable)).resolve()}
        programs = tuple(sorted(found))
        if platform == "win32":  # kiosk-console.exe runs us, kiosk.exe the kiosk (autostart)
            programs += tuple(program.parent / ("kiosk.exe" if frozen else "pythonw.exe")
                              for program in programs)
        return cls(programs, None if frozen else MAIN_PY.resolve(), config.resolve())


def posix_key(path: str, cwd: str) -> str:
    """What names a file on Linux: its real path (symlinks followed)."""
    return os.path.realpath(os.path.join(cwd, path))


def windows_key(path: str, cwd: str) -> str:
    """What names a file on Windows: its full path without regard to case or slashes."""
    return ntpath.normcase(ntpath.normpath(ntpath.join(cwd, path)))


def option(args: list[str], name: str) -> str | None:
    """The value of ``--name value`` or ``--name=value`` in ``args``."""
    for i, arg in enumerate(args):
        if arg == name and i + 1 < len(args):
            return args[i + 1]
        if arg.startswith(name + "="):
            return arg[len(name) + 1:]
    return None


def is_kiosk(program: Path, argv: list[str], cwd: Path, rules: Rules,
             key: Callable[[str, str], str] = posix_key) -> bool:
    """Whether a process running ``program`` with ``argv`` in ``cwd`` is this kiosk's
    guardian or UI (a pure function of what /proc or the image path said)."""
    def same(path: str | Path, known: Path) -> bool:
        return key(str(path), str(cwd)) == key(str(known), str(cwd))

    if not argv or not any(same(program, known) for known in rules.programs):
        return False
    args = argv[1:]
    if rules.main_py is not None:
        if not args or not same(args[0], rules.main_py):
            return False
        args = args[1:]
    if args and not args[0].startswith("-"):
        return False  # a command: install, check, watchdog…
    config = option(args, "--config")
    return (option(args, "--role") in ROLES and config is not None
            and same(config, rules.config))


@dataclass(frozen=True)
class Desktop:
    """The account and display the kiosk ran on: where it is started again."""

    uid: int
    gid: int
    groups: tuple[int, ...]
    env: Mapping[str, str] = field(default_factory=dict)


def desktop_env(found: Mapping[str, str], home: str, user: str) -> dict[str, str]:
    """The environment the kiosk is started with: the display from the user's own
    kiosk, the system's PATH (a customer's PATH could name a fake ``systemctl``)."""
    env = {name: found[name] for name in DESKTOP_VARIABLES if name in found}
    if found.get("SDL_VIDEODRIVER") in VIDEO_DRIVERS:
        env["SDL_VIDEODRIVER"] = found["SDL_VIDEODRIVER"]
    env.update(HOME=home, USER=user, LOGNAME=user, PATH=SYSTEM_PATH,
               PYGAME_HIDE_SUPPORT_PROMPT="1")
    return env


def parse_status(text: str) -> tuple[int, int, tuple[int, ...]]:
    """The real uid, gid and supplementary groups in /proc/PID/status."""
    fields = dict(line.split(":", 1) for line in text.splitlines() if ":" in line)
    uid = int(fields["Uid"].split()[0])
    gid = int(fields["Gid"].split()[0])
    return uid, gid, tuple(int(g) for g in fields.get("Groups", "").split())


def parse_environ(raw: bytes) -> dict[str, str]:
    pairs = (item.decode("utf-8", "replace").partition("=") for item in raw.split(b"\0") if item)
    return {name: value for name, _, value in pairs}


def all_gone(processes: Any, ended: list[int]) -> bool:
    """After a wait woke: whether the kiosk is gone, once a new look found no process
    started meanwhile (a UI or guardian restarted by the other one takes over); with
    nothing watched, the look for a kiosk started at logon. While ``ending`` (asked by
    ``end``), every kiosk process found is ended until none is left."""
    ending = processes.ending.is_set()
    if ended:
        log.info("watchdog: kiosk process%s %s ended", "es" * (len(ended) > 1),
                 ", ".join(map(str, ended)))
    elif processes.watched and not ending:
        return False
    processes.scan()
    if ending and processes.watched:
        processes.kill_watched()
        return False  # their ends wake the wait
    gone = (bool(ended) or ending) and not processes.watched
    if gone:
        processes.ending.clear()
    return gone


def _readable(fd: int) -> bool:
    poller = select.poll()
    poller.register(fd, select.POLLIN)
    return bool(poller.poll(0))


class Hold:
    """What both platforms' holds share: the processes watched and the ending."""

    def __init__(self) -> None:
        self.watched: dict[int, int] = {}  # pid → pidfd or process handle
        self.ending = threading.Event()

    def wake(self) -> None:
        raise NotImplementedError

    def end(self) -> None:
        """From any thread: end every kiosk process (the wait's own thread does it)."""
        self.ending.set()
        self.wake()


class LinuxProcesses(Hold):
    """Holds a pidfd on each kiosk process; ``wait_gone`` returns when none is left."""

    def __init__(self, rules: Rules, *, proc: Path = Path("/proc"),
                 spawn: Callable[..., subprocess.Popen] = subprocess.Popen,
                 argv: Callable[..., list[str]] = self_argv) -> None:
        super().__init__()
        self.rules = rules
        self.proc = proc
        self._spawn = spawn
        self._argv = argv
        self.desktop: Desktop | None = None
        self.child: subprocess.Popen | None = None  # the kiosk this watchdog started last
        self._wake_r, self._wake_w = os.pipe()

    # --- finding and verifying

    def _verified(self, pid: int) -> tuple[Path, list[str], Path] | None:
        base = self.proc / str(pid)
        try:
            program = Path(os.readlink(base / "exe"))
            raw = (base / "cmdline").read_bytes()
            cwd = Path(os.readlink(base / "cwd"))
        except OSError:
            return None
        argv = [part.decode("utf-8", "replace") for part in raw.split(b"\0") if part]
        return (program, argv, cwd) if is_kiosk(program, argv, cwd, self.rules) else None

    def _learn_desktop(self, pid: int) -> None:
        import pwd  # POSIX only

        base = self.proc / str(pid)
        try:
            uid, gid, groups = parse_status((base / "status").read_text())
            found = parse_environ((base / "environ").read_bytes())
            account = pwd.getpwuid(uid)
        except (OSError, KeyError, ValueError):
            return
        desktop = Desktop(uid, gid, groups, desktop_env(found, account.pw_dir, account.pw_name))
        if desktop != self.desktop:
            log.info("watchdog: the kiosk runs as %s (uid %d) on display %s", account.pw_name,
                     uid, desktop.env.get("DISPLAY") or desktop.env.get("WAYLAND_DISPLAY"))
        self.desktop = desktop

    def _pids(self) -> Iterable[int]:
        try:
            return [int(entry.name) for entry in self.proc.iterdir() if entry.name.isdigit()]
        except OSError:
            return []

    def scan(self) -> None:
        """Watch every kiosk process not watched yet."""
        for pid in self._pids():
            if pid in self.watched or pid == os.getpid() or self._verified(pid) is None:
                continue
            try:
                fd = os.pidfd_open(pid)
            except OSError:
                continue  # gone already
            if self._verified(pid) is None or _readable(fd):
                os.close(fd)  # it changed or ended between the look and the hold
                continue
            self.watched[pid] = fd
            if self.child is None or pid != self.child.pid:
                log.info("watchdog: watching kiosk process %d", pid)
            self._learn_desktop(pid)

    # --- waiting

    def wake(self) -> None:
        os.write(self._wake_w, b"x")

    def wait_gone(self, stop: threading.Event) -> bool:
        """Block until the kiosk processes watched are all gone (True), or ``stop`` (False).
        With none to watch yet, look for the kiosk every ``SCAN_S``."""
        self.scan()
        while not stop.is_set():
            poller = select.poll()
            poller.register(self._wake_r, select.POLLIN)
            for fd in self.watched.values():
                poller.register(fd, select.POLLIN)
            ready = {fd for fd, _ in poller.poll(None if self.watched else SCAN_S * 1000)}
            if self._wake_r in ready:
                os.read(self._wake_r, 64)
            ended = [pid for pid, fd in self.watched.items() if fd in ready]
            for pid in ended:
                os.close(self.watched.pop(pid))
            self._reap()
            if all_gone(self, ended):
                return True
        return False

    def kill_watched(self) -> None:
        for fd in self.watched.values():
            with contextlib.suppress(OSError):
                signal.pidfd_send_signal(fd, signal.SIGKILL)

    def _reap(self) -> None:
        if self.child is not None:
            self.child.poll()  # no zombie left behind

    def last_exit(self) -> int | None:
        if self.child is None:
            return None
        return self.child.poll()

    # --- starting

    def start(self, rebooting: str | None, outcome: str | None) -> None:
        desktop = self.desktop
        if desktop is None:
            log.error("watchdog: no desktop user known yet; the kiosk starts at the next logon")
            return
        args = ["--config", str(self.rules.config)]
        if rebooting:
            args += ["--rebooting", rebooting, "--reboot-outcome", outcome or "started"]
        argv = self._argv(*args)
        home = desktop.env.get("HOME", "/")
        try:
            child = self._spawn(argv, user=desktop.uid, group=desktop.gid,
                                extra_groups=list(desktop.groups), env=dict(desktop.env),
                                cwd=home if os.path.isdir(home) else "/", stdin=subprocess.DEVNULL,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                start_new_session=True, close_fds=True)
        except (OSError, ValueError, subprocess.SubprocessError) as exc:
            log.error("watchdog: cannot start the kiosk %s as uid %d: %s", argv, desktop.uid,
                      exc)
            return
        self.child = child
        try:
            self.watched[child.pid] = os.pidfd_open(child.pid)
        except OSError as exc:
            log.error("watchdog: cannot hold the kiosk it started (pid %d): %s", child.pid, exc)
        log.warning("watchdog: started the kiosk as uid %d, pid %d%s", desktop.uid, child.pid,
                    f" locked on the reboot ({rebooting})" if rebooting else "")
