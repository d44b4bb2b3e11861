"""The watchdog's Windows side: process handles, the user's session, the service (issue 17).

The first tests run everywhere against a fake of the Win32 calls (kiosk/platform/
watch_windows.Win32). The ``win32`` ones call the real Win32 API; under Wine 8
(../shared/winpy) they ran for real: the toolhelp snapshot, OpenProcess,
QueryFullProcessImageNameW, WaitForMultipleObjects on a killed child, WTSQueryUserToken +
CreateEnvironmentBlock + CreateProcessAsUserW into the console session, and the service:
``sc create`` / ``start`` / ``query`` / ``stop`` / ``delete`` with ``main.py watchdog
--service`` answering Wine's services.exe through StartServiceCtrlDispatcherW. What Wine
does not have, and Windows does (Microsoft's documentation decides): the command line of
another process (NtQueryInformationProcess class 60, Windows 8.1+: Wine answers nothing),
``sc failureflag``, ``sc config`` and ``sc qc`` (exit code 1 or no output), session 0
for services (Wine runs them in the user's session 1), and a DACL a test could see
enforced (``sc sdset`` exits 0, ``sc sdshow`` is missing, and everything runs as one user).
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

import pytest

from kiosk.platform.scm import (
    ACCEPT_SHUTDOWN,
    ACCEPT_STOP,
    RUNNING,
    START_PENDING,
    STOP_PENDING,
    STOPPED,
    status_fields,
)
from kiosk.platform.service import Service, sc_state, watchdog_argv
from kiosk.platform.watch import Rules
from kiosk.platform.watch_windows import WindowsProcesses, windowed

ROOT = Path(__file__).resolve().parents[1]
PROGRAM = Path("C:/kiosk/kiosk.exe")
PYTHON = Path("C:/Python311/python.exe")
CONFIG = Path("C:/kiosk/config.yaml")


class FakeWin32:
    """Processes as (image, command line, alive); handles are pid + 1000."""

    def __init__(self, processes: dict[int, tuple[str, str | None]], session: int | None = 1
                 ) -> None:
        self.processes = processes
        self.dead: set[int] = set()
        self.session = session
        self.started: list[tuple[int, list[str], str]] = []
        self.closed: list[int] = []
        self.on_wait = lambda: None

    def pids(self) -> list[int]:
        return list(self.processes)

    def open(self, pid: int) -> int | None:
        return pid + 1000 if pid in self.processes and pid not in self.dead else None

    def close(self, handle: int) -> None:
        self.closed.append(handle)

    def image(self, handle: int) -> str | None:
        return self.processes[handle - 1000][0]

    def command_line(self, handle: int) -> str | None:
        return self.processes[handle - 1000][1]

    def split(self, line: str) -> list[str]:
        return line.split()

    def alive(self, handle: int) -> bool:
        return handle - 1000 not in self.dead

    def exit_code(self, handle: int) -> int | None:
        return 1 if handle - 1000 in self.dead else None

    def terminate(self, handle: int) -> None:
        self.dead.add(handle - 1000)

    def session_of(self, pid: int) -> int | None:
        return 1

    def event(self) -> int:
        return 1

    def set(self, event: int) -> None:
        pass

    def wait_any(self, handles: list[int], timeout_ms: int) -> int:
        self.on_wait()
        return -1

    def console_session(self) -> int | None:
        return self.session

    def start_as_user(self, session: int, argv: list[str], cwd: str) -> tuple[int, int]:
        self.started.append((session, argv, cwd))
        pid = 900 + len(self.started)
        self.processes[pid] = (argv[0], " ".join(argv))
        return pid + 1000, pid


FROZEN = Rules((Path("C:/kiosk/kiosk-console.exe"), PROGRAM), None, CONFIG)
SOURCE = Rules((PYTHON, Path("C:/Python311/pythonw.exe")), Path("C:/kiosk/main.py"), CONFIG)


def test_kiosk_processes_are_known_by_image_and_command_line_and_a_decoy_is_not() -> None:
    api = FakeWin32({
        10: (str(PYTHON), f"{PYTHON} C:/kiosk/main.py --config {CONFIG}"),
        11: ("C:\\PYTHON311\\PYTHONW.EXE", f"pythonw C:/kiosk/main.py --config {CONFIG} "
                                          f"--role ui"),  # another case: the same file
        12: (str(PYTHON), f"{PYTHON} C:/Users/c/main.py --config {CONFIG}"),  # a decoy script
        13: ("C:/Users/c/kiosk.exe", f"kiosk.exe --config {CONFIG}"),  # the name only
        14: (str(PYTHON), f"{PYTHON} C:/kiosk/main.py --config {CONFIG} --role simulator"),
        15: (str(PYTHON), None)})  # command line unreadable: python.exe alone proves nothing
    watch = WindowsProcesses(SOURCE, api)
    watch.scan()
    assert sorted(watch.watched) == [10, 11]
    assert sorted(api.closed) == [1012, 1013, 1014, 1015]


def test_before_windows_8_1_a_frozen_build_is_known_by_its_program_alone() -> None:
    api = FakeWin32({20: (str(PROGRAM), None), 21: ("C:/Users/c/kiosk.exe", None)})
    watch = WindowsProcesses(FROZEN, api)
    watch.scan()
    assert list(watch.watched) == [20]


def test_wait_gone_returns_when_the_last_kiosk_process_ends_and_not_before() -> None:
    api = FakeWin32({10: (str(PROGRAM), f"kiosk.exe --config {CONFIG}"),
                     11: (str(PROGRAM), f"kiosk.exe --config {CONFIG} --role ui")})
    watch = WindowsProcesses(FROZEN, api)
    rounds = iter([{10}, {10, 11}])
    api.on_wait = lambda: api.dead.update(next(rounds))
    assert watch.wait_gone(threading.Event()) is True
    assert watch.watched == {}


def test_after_a_failed_reboot_the_kiosk_processes_watched_are_ended() -> None:
    api = FakeWin32({10: (str(PROGRAM), f"kiosk.exe --config {CONFIG}"),
                     11: (str(PROGRAM), f"kiosk.exe --config {CONFIG} --role ui")})
    watch = WindowsProcesses(FROZEN, api)
    watch.scan()
    watch.end()  # from the reboot's thread: the wait's thread does the ending
    assert api.dead == set()
    assert watch.wait_gone(threading.Event()) is True
    assert api.dead == {10, 11} and not watch.ending.is_set()


def test_the_kiosk_is_started_in_the_console_session_locked_on_the_reboot_and_held() -> None:
    api = FakeWin32({})
    watch = WindowsProcesses(FROZEN, api, argv=lambda *args: ["C:/kiosk/kiosk-console.exe",
                                                              *args])
    watch.start("rule3:killed_all", "started")
    session, argv, cwd = api.started[0]
    assert session == 1 and cwd == str(CONFIG.parent)
    assert argv[1:] == ["--config", str(CONFIG), "--rebooting", "rule3:killed_all",
                        "--reboot-outcome", "started"]
    assert list(watch.watched) == [901] and watch.child == (1901, 901)
    api.dead.add(901)
    assert watch.last_exit() == 1


def test_nobody_at_the_console_starts_nothing() -> None:
    api = FakeWin32({}, session=None)
    watch = WindowsProcesses(FROZEN, api)
    watch.start(None, None)
    assert api.started == [] and watch.child is None


def test_the_kiosk_runs_under_the_windowed_twin_when_there_is_one(tmp_path: Path) -> None:
    (tmp_path / "pythonw.exe").write_bytes(b"")
    assert windowed([str(tmp_path / "python.exe"), "--config", "c.yaml"]) == [
        str(tmp_path / "pythonw.exe"), "--config", "c.yaml"]
    assert windowed([str(tmp_path / "nothing" / "python.exe")])[0].endswith("python.exe")


@pytest.mark.parametrize(("state", "accepts"), [
    (START_PENDING, 0), (RUNNING, ACCEPT_STOP | ACCEPT_SHUTDOWN), (STOP_PENDING, 0),
    (STOPPED, 0)])
def test_the_service_accepts_stop_and_shutdown_only_while_running(state: int,
                                                                 accepts: int) -> None:
    fields = status_fields(state, checkpoint=3)
    assert fields[1] == state and fields[2] == accepts
    assert (fields[5] > 0) == (state in (START_PENDING, STOP_PENDING))  # pending: progress


def test_a_failed_watchdog_exit_reports_a_service_specific_error_so_it_is_restarted() -> None:
    assert status_fields(STOPPED, 9, exit_code=2)[3:5] == (1066, 2)
    assert status_fields(STOPPED, 9, exit_code=0)[3:5] == (0, 0)


# --------------------------------------------------------------------------- for real


@pytest.mark.win32
def test_real_handles_find_this_process_and_see_a_killed_child_at_once() -> None:
    """Ran for real under Wine: snapshot, OpenProcess, image path, TerminateProcess,
    WaitForMultipleObjects."""
    from kiosk.platform.watch_windows import Win32

    api = Win32()
    assert os.getpid() in api.pids()
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    handle = api.open(child.pid)
    assert handle
    try:
        image = api.image(handle)
        assert image is not None
        assert os.path.normcase(image) == os.path.normcase(sys.executable)
        wake = api.event()
        assert api.alive(handle) and api.wait_any([wake, handle], 200) == -1
        api.terminate(handle)  # what a failed reboot does to the kiosk on 系统重启中
        started = time.monotonic()
        assert api.wait_any([wake, handle], 5000) == 1
        assert time.monotonic() - started < 1.0 and not api.alive(handle)
        assert api.exit_code(handle) is not None
    finally:
        child.kill()
        child.wait()
        api.close(handle)


@pytest.mark.win32
def test_real_start_in_the_console_session_is_held_and_seen_ending(tmp_path: Path) -> None:
    """Ran for real under Wine: WTSGetActiveConsoleSessionId, WTSQueryUserToken,
    CreateEnvironmentBlock, CreateProcessAsUserW on winsta0\\default. On Windows only
    LocalSystem may call WTSQueryUserToken (a test as a user gets error 1314): skipped then."""
    marker = tmp_path / "ran.txt"
    # A program nothing runs: only the process it starts is watched (by its handle).
    rules = Rules((tmp_path / "kiosk.exe",), None, tmp_path / "config.yaml")
    watch = WindowsProcesses(rules, argv=lambda *args: [
        sys.executable, "-c", f"import pathlib; pathlib.Path({str(marker)!r}).write_text('x')"])
    watch.start(None, None)
    if watch.child is None:
        pytest.skip("WTSQueryUserToken needs LocalSystem (the service) on Windows")
    assert watch.wait_gone(threading.Event()) is True
    assert marker.read_text() == "x" and watch.last_exit() == 0


def sc(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(["sc.exe", *args], capture_output=True, timeout=60, check=False)


@pytest.mark.win32
def test_real_service_answers_the_service_manager_and_stops_on_its_control(
        tmp_path: Path) -> None:
    """Ran for real under Wine's services.exe: a service of the test's own name (demand
    start, deleted afterwards) runs ``main.py watchdog --service``; it reaches RUNNING
    through StartServiceCtrlDispatcherW and stops on ``sc stop``."""
    config = tmp_path / "config.yaml"
    logs = tmp_path / "logs"
    logs.mkdir()
    config.write_text(f"client: {{id: '370011'}}\nserver: {{base_url: 'http://127.0.0.1:9'}}\n"
                      f"log: {{dir: '{logs.as_posix()}'}}\n", encoding="utf-8")
    name = f"KioskWatchdogTest{uuid.uuid4().hex[:8]}"
    line = subprocess.list2cmdline(watchdog_argv(config, service=True))
    assert sc("create", name, "binPath=", line, "start=", "demand").returncode == 0
    try:
        assert sc("start", name).returncode == 0

        def state() -> str | None:
            return sc_state(sc("query", name).stdout.decode("latin-1"))

        deadline = time.monotonic() + 30
        while state() != "RUNNING" and time.monotonic() < deadline:
            time.sleep(0.2)
        assert state() == "RUNNING"
        job = Service(config, "win32", name=name)
        assert job.status() == (True, f"service {name} is RUNNING")
        log = logs / "kiosk-watchdog.log"
        while "watchdog" not in (log.read_text("utf-8") if log.exists() else "") \
                and time.monotonic() < deadline:
            time.sleep(0.2)
        assert sc("stop", name).returncode == 0
        while state() != "STOPPED" and time.monotonic() < deadline:
            time.sleep(0.2)
        assert state() == "STOPPED"
        assert "stop control" in log.read_text("utf-8")
    finally:
        with contextlib.suppress(subprocess.TimeoutExpired):
            sc("stop", name)
        sc("delete", name)
    assert sc("query", name).returncode != 0


@pytest.mark.win32
def test_real_sc_takes_the_install_commands_wine_has(tmp_path: Path) -> None:
    """Ran for real under Wine: create, description, failure (restart ×3), sdset, delete.
    Wine's sc.exe has no ``failureflag`` nor ``config`` (exit code 1, no output); Windows has
    both (learn.microsoft.com, sc.exe failureflag / sc.exe config), so they are not run here."""
    name = f"KioskWatchdogTest{uuid.uuid4().hex[:8]}"
    job = Service(tmp_path / "config.yaml", "win32", name=name)
    from kiosk.platform.service import sc_create_argv, sc_setup_argvs

    line = subprocess.list2cmdline(job.argv())
    assert sc(*sc_create_argv(line, name)[1:]).returncode == 0
    try:
        for argv in sc_setup_argvs(name):
            if argv[1] == "failureflag":
                continue
            assert sc(*argv[1:]).returncode == 0, argv
        assert job.status()[0] is False  # installed, not running
    finally:
        sc("delete", name)


# --------------------------------------------------------------------------- the admin door


@pytest.fixture
def pipe_name() -> str:
    return f"\\\\.\\pipe\\kiosk-watchdog-door-test-{uuid.uuid4().hex[:8]}"


@pytest.mark.win32
def test_real_door_served_from_a_users_session_is_sent_no_password(pipe_name: str) -> None:
    """Ran for real under Wine: a server of the user's own (the squatter) is found out by
    GetNamedPipeServerSessionId before the password goes out."""
    from kiosk.platform.door_pipe import PipeServer, ask

    heard: list[bytes] = []
    server = PipeServer(lambda line: heard.append(line) or b"ok\n", pipe_name)
    try:
        answer = ask(b"secret\n", pipe_name)
        assert isinstance(answer, str) and "not sent" in answer
        assert b"secret\n" not in heard
    finally:
        server.close()


@pytest.mark.win32
def test_real_door_has_one_instance_nobody_else_can_serve(pipe_name: str) -> None:
    from kiosk.platform.door_pipe import PipeServer

    server = PipeServer(lambda line: b"no\n", pipe_name)
    try:
        with pytest.raises(OSError, match="another program may hold the name"):
            PipeServer(lambda line: b"ok\n", pipe_name)
    finally:
        server.close()


@pytest.mark.win32
def test_real_door_checks_the_admin_password(pipe_name: str) -> None:
    """Ran for real under Wine, with the session check pointed at this test's own session
    (Wine runs services in the user's session; Windows in session 0, the default)."""
    from kiosk.admin import make_hash, parse_hash
    from kiosk.platform.door_pipe import PipeServer, ask
    from kiosk.platform.watch_windows import Win32
    from kiosk.watchdog_door import Door

    door = Door(parse_hash(make_hash("net-admin 1234", 1000)))
    door.server = PipeServer(door.answer, pipe_name)
    here = Win32().session_of(os.getpid())
    assert here is not None
    try:
        assert ask(b"guess\n", pipe_name, services_session=here) == b"no\n"
        assert door.last_exit() is None
        assert ask(b"net-admin 1234\n", pipe_name, services_session=here) == b"ok\n"
        assert door.last_exit() is not None
    finally:
        door.close()
