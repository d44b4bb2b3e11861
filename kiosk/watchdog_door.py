"""How the admin exit tells the watchdog to leave the kiosk stopped, and why it is safe.

The kiosk runs in the customer's account, so any file or message the kiosk could write,
the customer could write too. What the customer does not have is the admin password:
the UI hands the password the admin just typed to the watchdog, which checks it against
``admin.password_hash`` itself before it counts the exit. The channel is one only the
watchdog can open, so a program of the customer's cannot pose as the watchdog to catch
the password: Linux, a Unix socket in /run/kiosk-watchdog (only root writes in /run).
Wrong passwords at the door are counted as at the prompt (kiosk.admin.PasswordGate), so
it cannot be used to guess, and each check costs the watchdog one hash on a thread of
its own, never its watch.

Residual risk (README "The watchdog"): a program of the customer's running while the
admin types could read the keystrokes as it could at any prompt of the desktop.
"""

from __future__ import annotations

import contextlib
import logging
import os
import socket
import stat
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from kiosk.admin import PasswordGate, PasswordHash, parse_hash, verify
from kiosk.config import Config

log = logging.getLogger(__name__)

DOOR_DIR = Path("/run/kiosk-watchdog")
DOOR = DOOR_DIR / "door"
MAX_LINE = 512
ANSWER_S = 5.0  # the UI waits this long for the watchdog's word (one hash takes ~0.5 s)
OK, NO, WAIT = b"ok\n", b"no\n", b"wait\n"


class Door:
    """The watchdog's end: counts an admin exit proven by the admin password."""

    def __init__(self, stored: PasswordHash, clock: Callable[[], float] = time.monotonic
                 ) -> None:
        self.stored = stored
        self.clock = clock
        self.gate = PasswordGate()
        self._last: float | None = None
        self._lock = threading.Lock()
        self.server: Any = None  # what listens (closed by ``close``)

    @classmethod
    def open_for(cls, config: Config, path: Path = DOOR) -> Door | None:
        """The door, listening, when an admin password is configured."""
        stored = config.guard.admin_password_hash
        if stored is None:
            return None
        door = cls(parse_hash(stored))
        try:
            if sys.platform == "win32":
                from kiosk.platform.door_pipe import PipeServer

                door.server = PipeServer(door.answer)
            else:
                door.server = UnixServer(listen(path), door.answer)
        except OSError as exc:
            log.error("watchdog: cannot open the admin exit's door (%s): an admin exit "
                      "will be undone", exc)
            return None
        return door

    def last_exit(self) -> float | None:
        """When (monotonic) the admin password last stopped the kiosk."""
        return self._last

    def close(self) -> None:
        if self.server is not None:
            self.server.close()

    def answer(self, line: bytes) -> bytes:
        """One client's line (the password) → OK, NO or WAIT."""
        try:
            password: str | None = line.rstrip(b"\n").decode("utf-8")
        except UnicodeDecodeError:
            password = None
        with self._lock:
            return self._check(password)

    def _check(self, password: str | None) -> bytes:
        if not password:
            return NO  # a connection that says nothing is no try at the password
        now = self.clock()
        if self.gate.wait_left(now) > 0:
            log.warning("watchdog: admin exit refused: too many wrong passwords")
            return WAIT
        ok = verify(password, self.stored)
        self.gate.record(ok, now)
        if not ok:
            log.warning("watchdog: admin exit with a wrong password: ignored")
            return NO
        self._last = self.clock()
        log.warning("watchdog: admin exit with the admin password: the kiosk stays stopped "
                    "until the next logon or start")
        return OK


class UnixServer:
    """Linux: answers each connection of the socket on a thread."""

    def __init__(self, server: socket.socket, answer: Callable[[bytes], bytes]) -> None:
        self.server = server
        self.answer = answer
        threading.Thread(target=self._serve, daemon=True, name="admin-door").start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.server.accept()
            except OSError:
                return  # closed
            with conn, contextlib.suppress(OSError):
                conn.settimeout(ANSWER_S)
                conn.sendall(self.answer(read_bytes(conn)))

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self.server.close()


def read_bytes(conn: socket.socket) -> bytes:
    """One line from ``conn``, at most MAX_LINE bytes."""
    data = b""
    while not data.endswith(b"\n") and len(data) < MAX_LINE:
        chunk = conn.recv(MAX_LINE - len(data))
        if not chunk:
            break
        data += chunk
    return data


def listen(path: Path) -> socket.socket:
    """A Unix socket at ``path`` anyone may connect to, in a folder only root writes in."""
    path.parent.mkdir(mode=0o755, parents=True, exist_ok=True)
    folder = path.parent.stat()
    if folder.st_uid != os.geteuid() or folder.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
        raise OSError(f"{path.parent} is not the watchdog's own folder")
    with contextlib.suppress(FileNotFoundError):
        path.unlink()
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(str(path))
    os.chmod(path, 0o666)  # the kiosk's account connects
    server.listen(4)
    return server


def tell_watchdog(password: str, path: Path = DOOR, timeout_s: float = ANSWER_S) -> str:
    """The UI's end, after the admin password was accepted: ``ok`` when the watchdog will
    leave the kiosk stopped, else why not (no watchdog, refused)."""
    line = password.encode("utf-8") + b"\n"
    if sys.platform == "win32":
        from kiosk.platform.door_pipe import ask

        answer = ask(line)
        return answer if isinstance(answer, str) else answer.decode("utf-8", "replace").strip()
    try:
        owner = path.parent.stat().st_uid
    except OSError:
        return "no watchdog"
    if owner != 0:
        return f"{path.parent} is not root's: the password is not sent"
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as conn:
            conn.settimeout(timeout_s)
            conn.connect(str(path))
            conn.sendall(line)
            return read_bytes(conn).decode("utf-8", "replace").strip() or "no answer"
    except OSError as exc:
        return f"no watchdog ({exc})"
