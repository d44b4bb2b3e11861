"""Run the real kiosk (guardian, embedded simulator and UI) on a virtual screen for a test.

The end-to-end tests drive ``python main.py --config PATH`` exactly as an operator
starts it. This module writes that config (short timers so a whole rule plays out
in seconds, everything the run writes inside the test's ``tmp_path``), starts the
guardian on a :class:`~tests.e2e.xscreen.VirtualScreen` (or, under Wine, the
:class:`~tests.e2e.win32_desktop.Desktop`), and gives the tests what
they observe the kiosk through: the JSON-lines trace, the simulator's control API,
the UI's process id and window. :meth:`Kiosk.stop` leaves no process behind, even
when the UI was killed and restarted or started a new guardian of its own.
"""

from __future__ import annotations

import contextlib
import copy
import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any, BinaryIO

import requests
import yaml

from kiosk.platform import kill

from . import win32_desktop
from .win32_desktop import Desktop
from .xscreen import VirtualScreen, wait_until, window_geometry, windows_of

ROOT = Path(__file__).resolve().parents[2]
MAIN_PY = ROOT / "main.py"
CLIENT_ID = "370011"
QR_URL = "http://venue.example/h5/scan?clientId={client_id}"
PAY_QR_URL = "http://venue.example/h5/pay?clientId={client_id}"
CONTROL_LINE = re.compile(r"control page: (http://127\.0\.0\.1:\d+)/")
# kiosk/logs.py FORMAT: "%(asctime)s %(levelname)s %(process)d %(name)s: %(message)s"
LOG_LINE = re.compile(r"(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3}) (\w+) (\d+) ([\w.]+): (.*)")

Entry = dict[str, Any]


def free_port() -> int:
    """A port nobody listens on right now (the simulator must not collide with a parallel run)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def deep_merge(base: dict[str, Any], overrides: Mapping[str, Any]) -> dict[str, Any]:
    """``base`` with ``overrides`` merged section by section: a test names only what it changes."""
    merged = copy.deepcopy(base)
    for key, value in overrides.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), dict):
            merged[key] = deep_merge(merged[key], value)
        else:
            merged[key] = copy.deepcopy(value)
    return merged


def base_config(tmp_path: Path) -> dict[str, Any]:
    """The config every e2e test starts from: embedded simulator, full screen, fast timers."""
    return {
        "server": {"base_url": "embedded", "timeout_s": 2},
        "client": {"id": CLIENT_ID, "qr_url": QR_URL, "pay_qr_url": PAY_QR_URL,
                   "status_value": 1},
        "timers": {
            "scan_idle_s": 4,
            "scan_poll_s": 0.5,
            "session_report_s": 1,
            "session_poll_s": 0.5,
            "after_confirm_reboot_s": 3,
            "unpaid_poll_s": 0.5,
            # The config's default, written out: the tests' timing bounds read it from here.
            "jitter": 0.05,
        },
        "reboot": {"mode": "simulate", "command": [], "simulate_s": 1},
        # Locked pages fill the whole virtual screen, as on a café PC.
        "display": {"fullscreen": True, "widget_corner": "top-right"},
        "media": {"cache_dir": str(tmp_path / "cache"), "refresh_s": 300},
        "log": {"dir": str(tmp_path / "logs"), "trace": str(tmp_path / "trace.jsonl")},
        "simulator": {
            "port": free_port(),
            "rate_per_min": 1.32,
            # Long enough that a slow machine never ends a session behind the test's back.
            "report_timeout_s": 30,
            "files_dir": None,
            "service_num": "13738196887",
        },
        "debug": False,
    }


def fill(template: str, client_id: str = CLIENT_ID) -> str:
    """What a QR made from ``template`` must decode to."""
    return template.replace("{client_id}", client_id)


def cmdline(pid: int) -> list[str]:
    """A process's argv from /proc (on Windows, its PEB); ``[]`` if it is gone (or a zombie)."""
    if sys.platform == "win32":
        return win32_desktop.cmdline(pid)
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return []
    return [part.decode("utf-8", "replace") for part in raw.split(b"\0") if part]


def pids_with(*needles: str) -> list[int]:
    """Live processes whose argv contains every one of ``needles`` as a whole argument.

    Exact argument matching (not ``pgrep -f``'s regex over the joined command line),
    so a test's config path never matches another test's.
    """
    if sys.platform == "win32":
        every = win32_desktop.pids()
    else:
        every = [int(entry.name) for entry in Path("/proc").iterdir() if entry.name.isdigit()]
    found = []
    for pid in every:
        args = cmdline(pid)
        if args and all(needle in args for needle in needles):
            found.append(pid)
    return sorted(found)


def decoder_resident_kb(pid: int) -> int | None:
    """KB of OpenCV's code and read-only data (cv2 and the libraries of its wheel) resident
    in ``pid`` alone, from /proc/PID/smaps: the pages it touched that no other process (this
    test's own OpenCV) maps too; None without OpenCV loaded at all."""
    try:
        smaps = Path(f"/proc/{pid}/smaps").read_text()
    except OSError:
        return None
    total, loaded, ours = 0, False, False
    for line in smaps.splitlines():
        fields = line.split()
        if re.fullmatch(r"[0-9a-f]+-[0-9a-f]+", fields[0]):
            path = fields[5] if len(fields) > 5 else ""
            ours = "w" not in fields[1] and ("/cv2/" in path or "/opencv" in path)
            loaded = loaded or "/cv2/" in path
        elif ours and fields[0] == "Private_Clean:":
            total += int(fields[1])
    return total if loaded else None


class Kiosk:
    """One running kiosk: its config, guardian process, trace and simulator."""

    def __init__(self, screen: VirtualScreen | Desktop, tmp_path: Path, config: dict[str, Any],
                 name: str = "kiosk", program: Sequence[str] | None = None) -> None:
        self.screen = screen
        self.tmp_path = tmp_path
        self.config = config
        self.config_path = tmp_path / f"{name}.yaml"
        self.trace_path = Path(config["log"]["trace"])
        self.out_path = tmp_path / f"{name}.out.log"
        self.err_path = tmp_path / f"{name}.err.log"
        self.client_id = str(config["client"]["id"])
        self.proc: subprocess.Popen[bytes] | None = None
        self.base_url: str | None = None
        self.http = requests.Session()
        # What an operator runs: Python with main.py, or a built program (tools/check_dist.py).
        self.program = list(program or [sys.executable, str(MAIN_PY)])

    # --- life cycle

    def start(self, timeout: float = 15.0) -> Kiosk:
        """Write the config, start ``main.py`` and wait for the simulator's control line
        (with ``server.base_url: embedded``; a test's own backend is ready already)."""
        self.write_config()
        self.launch()
        if self.config["server"]["base_url"] != "embedded":  # a backend of the test's own
            self.base_url = self.config["server"]["base_url"]
            return self
        self.base_url = wait_until(self._control_url, timeout, interval=0.05,
                                   message=f"no control page line from the kiosk\n{self.logs()}")
        return self

    def write_config(self) -> None:
        self.config_path.write_text(yaml.safe_dump(self.config, allow_unicode=True),
                                    encoding="utf-8")

    def launch(self) -> None:
        """Start ``main.py`` with the config written already, without waiting for anything."""
        if sys.platform == "win32":
            # Under Wine a regular file as a standard stream kills python.exe at start
            # (shared/winpy README): pipes, copied into the same files.
            self.proc = self.screen.popen(
                [*self.program, "--config", str(self.config_path)],
                env={"PYGAME_HIDE_SUPPORT_PROMPT": "1", "PYTHONUNBUFFERED": "1"},
                stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=str(ROOT),
            )
            for pipe, path in ((self.proc.stdout, self.out_path),
                               (self.proc.stderr, self.err_path)):
                threading.Thread(target=_copy, args=(pipe, path), daemon=True).start()
            return
        with self.out_path.open("wb") as out, self.err_path.open("wb") as err:
            self.proc = self.screen.popen(
                [*self.program, "--config", str(self.config_path)],
                env={"PYGAME_HIDE_SUPPORT_PROMPT": "1", "PYTHONUNBUFFERED": "1"},
                stdout=out, stderr=err, cwd=str(ROOT),
            )

    def _control_url(self) -> str | None:
        match = CONTROL_LINE.search(self.out_path.read_text("utf-8", "replace"))
        if match:
            return match.group(1)
        if self.proc is not None and self.proc.poll() is not None:
            raise AssertionError(f"kiosk exited with {self.proc.returncode}\n{self.logs()}")
        return None

    def stop(self, timeout: float = 5.0) -> int | None:
        """SIGTERM the guardian (it ends its UI), then SIGKILL anything of this kiosk left
        (on Windows both are TerminateProcess: the guardian gets no say).

        Returns the guardian's exit code. Leftovers are found by the config path in
        their argv: a UI restarted by the guardian, or a guardian the UI started itself.
        """
        code = None
        if self.proc is not None:
            if self.proc.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    self.proc.send_signal(signal.SIGTERM)
            try:
                code = self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                code = None
            if sys.platform != "win32":  # Windows has no process groups to kill
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.killpg(self.proc.pid, signal.SIGKILL)  # its group: the UI it started
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.proc.wait(timeout=timeout)
        deadline = time.monotonic() + timeout
        while (left := self.pids()) and time.monotonic() < deadline:
            for pid in left:
                with contextlib.suppress(ProcessLookupError, PermissionError, OSError):
                    kill(pid)  # SIGKILL; TerminateProcess on Windows
            time.sleep(0.05)
        self.http.close()
        if left:
            raise AssertionError(f"kiosk processes survived stop(): {left}")
        return code

    def __enter__(self) -> Kiosk:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # --- processes and windows

    def pids(self) -> list[int]:
        """Every live process of this kiosk (guardians and UIs), by its config path."""
        return pids_with("--config", str(self.config_path))

    def ui_pids(self) -> list[int]:
        return pids_with(str(self.config_path), "--role", "ui")

    def ui_pid(self, timeout: float = 10.0, other_than: int | None = None) -> int:
        """The pid of the one running UI process (a new one, with ``other_than``)."""

        def one() -> int | None:
            pids = [pid for pid in self.ui_pids() if pid != other_than]
            return pids[0] if len(pids) == 1 else None

        return wait_until(one, timeout, interval=0.05,
                          message=f"no single UI process\n{self.logs()}")

    def window(self, pid: int | None = None, timeout: float = 10.0) -> int:
        """The X window id of the UI (the current one unless ``pid`` is given)."""
        pid = self.ui_pid(timeout) if pid is None else pid
        wids = windows_of(pid, self.screen, timeout=timeout)
        assert wids, f"UI {pid} shows no window\n{self.logs()}"
        return wids[-1]

    def geometry(self, pid: int | None = None) -> tuple[int, int, int, int]:
        """``(x, y, width, height)`` of the UI's window on the screen."""
        return window_geometry(self.window(pid), self.screen)

    # --- the trace

    def trace(self) -> list[Entry]:
        """Every complete line of the trace, parsed (a half-written last line is skipped)."""
        try:
            text = self.trace_path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return []
        entries = []
        for line in text.splitlines(keepends=True):
            if line.endswith("\n") and line.strip():
                entries.append(json.loads(line))
        return entries

    def mark(self) -> int:
        """How many trace lines exist now: pass it as ``since`` to look only at what follows."""
        return len(self.trace())

    def wait_entry(self, match: Callable[[Entry], bool], timeout: float, since: int = 0,
                   message: str = "no such trace entry") -> Entry:
        """The first trace entry from index ``since`` on that ``match`` accepts."""

        def find() -> Entry | None:
            return next((e for e in self.trace()[since:] if match(e)), None)

        return wait_until(find, timeout, interval=0.05,
                          message=f"{message}; trace: {self.trace()[since:]}\n{self.logs()}")

    def wait_scene(self, scene: str, reason: str | None = None, timeout: float = 10.0,
                   since: int = 0) -> Entry:
        """The first page change to ``scene`` (with ``reason`` if given) from ``since`` on."""
        return self.wait_entry(
            lambda e: e.get("event") == "scene" and e.get("scene") == scene
            and (reason is None or e.get("reason") == reason),
            timeout, since, message=f"no scene {scene} ({reason or 'any reason'})")

    def wait_reboot(self, reason_prefix: str | tuple[str, ...] = "", timeout: float = 10.0,
                    since: int = 0) -> Entry:
        """The first reboot whose reason starts with ``reason_prefix`` (or one of them),
        from ``since`` on."""
        return self.wait_entry(
            lambda e: e.get("event") == "reboot" and str(e.get("reason", "")).startswith(
                reason_prefix),
            timeout, since, message=f"no reboot {reason_prefix!r}")

    # --- the simulator

    def control(self, action: str, **params: Any) -> dict[str, Any]:
        """POST /control/<action> (start, end, pay, service); clientId defaults to ours."""
        if action != "service":
            params.setdefault("clientId", self.client_id)
        assert self.base_url is not None
        response = self.http.post(f"{self.base_url}/control/{action}", params=params, timeout=5)
        response.raise_for_status()
        return response.json()

    def state(self) -> dict[str, Any]:
        """GET /control/state: clients, request counts."""
        assert self.base_url is not None
        response = self.http.get(f"{self.base_url}/control/state", timeout=5)
        response.raise_for_status()
        return response.json()

    def client(self) -> dict[str, Any]:
        """This kiosk's client as the simulator sees it (status, reports, offline_calls)."""
        return self.state()["clients"].get(self.client_id, {})

    def ledger(self) -> dict[str, Any]:
        """GET /control/ledger: the sessions and every request's arrival time (epoch s)."""
        assert self.base_url is not None
        response = self.http.get(f"{self.base_url}/control/ledger", timeout=5)
        response.raise_for_status()
        return response.json()

    def arrivals(self, path: str, after: float = 0.0) -> list[float]:
        """When requests for ``path`` (``/rest/status_client``, ``/control/start``...) reached
        the simulator, by its own clock, oldest first: the backend's side of the timing,
        free of the test's own process starts and HTTP calls."""
        return [t for t, p in self.ledger()["arrivals"] if p == path and t >= after]

    # --- the log files

    def log_entries(self, name: str = "kiosk") -> list[tuple[float, int, str]]:
        """``(epoch s, pid, message)`` of each line of ``<log dir>/<name>.log`` (``kiosk`` is
        the guardians', ``kiosk-ui`` the UIs'): the kiosk's own account of when it did what.
        Times are to the millisecond (truncated); continuation lines are skipped."""
        path = Path(self.config["log"]["dir"]) / f"{name}.log"
        try:
            text = path.read_text("utf-8", "replace")
        except FileNotFoundError:
            return []
        found = []
        for line in text.splitlines():
            match = LOG_LINE.fullmatch(line)
            if match:
                at = datetime.strptime(match.group(1), "%Y-%m-%d %H:%M:%S,%f").timestamp()
                found.append((at, int(match.group(3)), match.group(5)))
        return found

    def wait_log(self, name: str, match: Callable[[str], bool], timeout: float,
                 after: float = 0.0, message: str = "no such log line") -> tuple[float, int, str]:
        """The first line of log ``name`` written at ``after`` or later that ``match`` accepts."""

        def find() -> tuple[float, int, str] | None:
            # A line's time is truncated to the millisecond: one written at ``after`` may show less.
            return next((e for e in self.log_entries(name)
                         if e[0] >= after - 0.001 and match(e[2])), None)

        return wait_until(find, timeout, interval=0.05, message=f"{message}\n{self.logs()}")

    # --- diagnostics

    def logs(self, tail: int = 3000) -> str:
        """The end of the guardian's stdout and stderr (the UI's stderr goes there too)."""
        parts = []
        for path in (self.out_path, self.err_path):
            with contextlib.suppress(OSError):
                parts.append(f"--- {path.name}\n{path.read_text('utf-8', 'replace')[-tail:]}")
        return "\n".join(parts)


def _copy(pipe: BinaryIO, path: Path) -> None:
    """Copy a program's output pipe into ``path`` as it comes, until the pipe closes."""
    with path.open("wb") as out:
        while chunk := pipe.read1(65536):
            out.write(chunk)
            out.flush()


def start_kiosk(screen: VirtualScreen | Desktop, tmp_path: Path,
                overrides: Mapping[str, Any] | None = None, *, name: str = "kiosk",
                timeout: float = 15.0,
                program: Sequence[str] | None = None) -> Kiosk:
    """Write a config (the e2e defaults with ``overrides`` merged in) and start the kiosk."""
    config = deep_merge(base_config(tmp_path), overrides or {})
    kiosk = Kiosk(screen, tmp_path, config, name=name, program=program)
    try:
        return kiosk.start(timeout)
    except BaseException:
        kiosk.stop()
        raise
