"""The watchdog's policy, its shell, and how it knows the kiosk's processes (issue 17)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from kiosk import config
from kiosk.logs import Trace
from kiosk.platform import Maintenance, Rebooter
from kiosk.platform.watch import (
    SYSTEM_PATH,
    Desktop,
    LinuxProcesses,
    Rules,
    desktop_env,
    is_kiosk,
    parse_environ,
    parse_status,
)
from kiosk.watchdog import (
    REASON,
    Action,
    Facts,
    Watchdog,
    decide,
    last_page,
    needs_backend,
)

SESSION, IDLE, ENDED = 2, 1, 3


def facts(**changes: object) -> Facts:
    base = {"gone": True, "page": "A", "backend": None, "maintenance": False,
            "admin_exit": False, "rebooted": False}
    return Facts(**{**base, **changes})  # type: ignore[arg-type]


# --------------------------------------------------------------------------- the decision

@pytest.mark.parametrize(("given", "action", "locked_on"), [
    # The kiosk still runs (one process left): nothing to do, whatever else is true.
    ({"gone": False, "page": "C"}, Action.WAIT, None),
    ({"gone": False, "page": "A", "backend": SESSION}, Action.WAIT, None),
    # In a session by the page: rule 3, then locked on 系统重启中.
    ({"page": "C"}, Action.REBOOT, "R"),
    ({"page": "D"}, Action.REBOOT, "R"),
    ({"page": "C", "backend": IDLE}, Action.REBOOT, "R"),  # the page is never talked down
    # The page says otherwise (or is unknown), the backend says session: reboot.
    ({"page": "A", "backend": SESSION}, Action.REBOOT, "R"),
    ({"page": "B", "backend": SESSION}, Action.REBOOT, "R"),
    ({"page": None, "backend": SESSION}, Action.REBOOT, "R"),
    ({"page": "boot", "backend": SESSION}, Action.REBOOT, "R"),
    # Outside a session: the kiosk again, locked, on A.
    ({"page": "A", "backend": IDLE}, Action.START, None),
    ({"page": "B", "backend": ENDED}, Action.START, None),
    ({"page": "E", "backend": IDLE}, Action.START, None),
    ({"page": "A", "backend": None}, Action.START, None),  # backend unreachable: the page
    ({"page": None, "backend": None}, Action.START, None),  # nothing known: locked, no reboot
    # Never twice: after its own reboot it keeps the kiosk locked on 系统重启中.
    ({"page": "C", "rebooted": True}, Action.START, "R"),
    ({"page": "A", "backend": SESSION, "rebooted": True}, Action.START, "R"),
    ({"page": "A", "backend": IDLE, "rebooted": True}, Action.START, None),
    # A reboot under way (the kiosk's own) or failed: locked where it was, no new reboot.
    ({"page": "R"}, Action.START, "R"),
    ({"page": "R", "backend": SESSION}, Action.START, "R"),
    ({"page": "X"}, Action.START, "X"),
    # Its own reboot failed: the kiosk comes back on 请联系网管, for staff to see.
    ({"page": "R", "rebooted": True, "reboot_failed": True}, Action.START, "X"),
    ({"page": "C", "rebooted": True, "reboot_failed": True}, Action.START, "X"),
    # Maintenance mode: no reboot; the kiosk comes back (with the session, as the UI finds it).
    ({"page": "C", "maintenance": True}, Action.START, None),
    ({"page": "A", "backend": SESSION, "maintenance": True}, Action.START, None),
    ({"page": "A", "backend": IDLE, "maintenance": True}, Action.START, None),
    # The admin exit: left stopped, in a session or not.
    ({"page": "C", "admin_exit": True}, Action.WAIT, None),
    ({"page": "A", "admin_exit": True}, Action.WAIT, None),
    ({"page": "R", "admin_exit": True}, Action.WAIT, None),
])
def test_decision_over_processes_page_backend_maintenance_admin_exit_and_reboot(
        given: dict, action: Action, locked_on: str | None) -> None:
    decision = decide(facts(**given))
    assert (decision.action, decision.locked_on) == (action, locked_on), decision.why
    in_session = given.get("page") in ("C", "D") or given.get("backend") == SESSION
    assert decision.skipped is bool(given.get("maintenance") and in_session
                                    and action == Action.START
                                    and given.get("page") not in ("R", "X")
                                    and not given.get("rebooted"))


def test_every_combination_of_facts_never_reboots_outside_a_session_nor_twice() -> None:
    pages = [None, "boot", "A", "B", "C", "D", "E", "R", "X", "garbage"]
    for page in pages:
        for backend in (None, 0, IDLE, SESSION, ENDED, 99):
            for maintenance in (False, True):
                for admin_exit in (False, True):
                    for rebooted in (False, True):
                        f = facts(page=page, backend=backend, maintenance=maintenance,
                                  admin_exit=admin_exit, rebooted=rebooted)
                        d = decide(f)
                        in_session = page in ("C", "D") or (backend == SESSION
                                                            and page not in ("R", "X"))
                        if d.action == Action.REBOOT:
                            assert in_session and not rebooted and not maintenance
                            assert not admin_exit
                        if d.action == Action.WAIT:
                            assert admin_exit  # gone and not an admin exit: it always acts


@pytest.mark.parametrize(("page", "asked"), [
    ("C", False), ("D", False), ("R", False), ("X", False),
    ("A", True), ("B", True), ("E", True), ("boot", True), (None, True)])
def test_backend_is_asked_only_when_the_page_does_not_settle_it(page: str | None,
                                                                asked: bool) -> None:
    assert needs_backend(page) is asked


# --------------------------------------------------------------------------- the last page


def write_trace(path: Path, *lines: object) -> Path:
    path.write_text("".join((line if isinstance(line, str) else json.dumps(line)) + "\n"
                            for line in lines), encoding="utf-8")
    return path


def test_last_page_is_the_last_scene_line_of_the_trace(tmp_path: Path) -> None:
    trace = write_trace(tmp_path / "t.jsonl", {"event": "scene", "scene": "A"},
                        {"event": "scene", "scene": "C", "reason": "rule2"},
                        {"event": "video", "shown": 3}, {"event": "reboot", "reason": "x"})
    assert last_page(trace) == "C"


@pytest.mark.parametrize("lines", [
    (), ("not json", "{", "[1, 2]"), ({"event": "scene", "scene": 3},),
    ({"event": "locked", "pid": 1},)])
def test_last_page_is_unknown_without_a_readable_scene_line(tmp_path: Path,
                                                            lines: tuple) -> None:
    assert last_page(write_trace(tmp_path / "t.jsonl", *lines)) is None


def test_last_page_is_unknown_without_a_trace(tmp_path: Path) -> None:
    assert last_page(None) is None
    assert last_page(tmp_path / "missing.jsonl") is None


def test_last_page_reads_only_the_tail_of_a_long_trace(tmp_path: Path) -> None:
    trace = tmp_path / "t.jsonl"
    filler = [{"event": "video", "shown": i} for i in range(5000)]
    write_trace(trace, {"event": "scene", "scene": "A"}, *filler, {"event": "scene",
                                                                   "scene": "D"})
    assert last_page(trace) == "D"


# --------------------------------------------------------------------------- the shell


class FakeProcesses:
    """The kiosk's processes: gone as often as the test says, then ``stop``."""

    def __init__(self, rounds: int, watchdog: list[Watchdog]) -> None:
        self.rounds = rounds
        self.watchdog = watchdog
        self.starts: list[tuple[str | None, str | None]] = []
        self.exit_code: int | None = None
        self.ended = threading.Event()

    def wait_gone(self, stop: threading.Event) -> bool:
        if self.rounds == 0:
            return False
        self.rounds -= 1
        return True

    def last_exit(self) -> int | None:
        return self.exit_code

    def start(self, rebooting: str | None, outcome: str | None) -> None:
        self.starts.append((rebooting, outcome))

    def wake(self) -> None:
        pass

    def end(self) -> None:
        self.ended.set()


def guard_config(tmp_path: Path, **extra: object) -> config.Config:
    path = tmp_path / "config.yaml"
    trace = tmp_path / "trace.jsonl"
    flag = tmp_path / "maintenance.flag"
    lines = ["client: {id: '370011'}", f"log: {{dir: '{tmp_path}', trace: '{trace}'}}",
             f"maintenance: {{flag_file: '{flag}'}}",
             "reboot: {mode: command, command: [reboot-now]}"]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return config.load(path)


class Spawned:
    def __init__(self) -> None:
        self.argvs: list[list[str]] = []

    def __call__(self, argv: list[str], **_: object) -> subprocess.Popen:
        self.argvs.append(argv)
        return subprocess.Popen([sys.executable, "-c", "pass"])


def make_watchdog(tmp_path: Path, rounds: int, status: int | None = None,
                  admin_at: float | None = None) -> tuple[Watchdog, FakeProcesses, Spawned]:
    cfg = guard_config(tmp_path)
    spawned = Spawned()
    rebooter = Rebooter("command", ["reboot-now"], Trace(cfg.trace, create=False),
                        spawn=spawned, maintenance=Maintenance(cfg.guard.maintenance_flag_file,
                                                               ()))
    holder: list[Watchdog] = []
    processes = FakeProcesses(rounds, holder)
    asked: list[int] = []

    def backend() -> int | None:
        asked.append(1)
        return status

    dog = Watchdog(cfg, processes, rebooter, backend, admin_exits=lambda: admin_at)
    dog.asked = asked  # type: ignore[attr-defined]
    holder.append(dog)
    return dog, processes, spawned


def join_reboot(dog: Watchdog) -> None:
    if dog.rebooter.follower is not None:
        dog.rebooter.follower.join(0.5)


def trace_events(cfg: config.Config) -> list[dict]:
    assert cfg.trace is not None
    return [json.loads(line) for line in cfg.trace.read_text().splitlines()]


def test_killed_in_a_session_reboots_once_and_keeps_the_kiosk_locked_on_rebooting(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("kiosk.platform.reboot.REMOTE_WAIT_S", 0)
    dog, processes, spawned = make_watchdog(tmp_path, rounds=3)
    dog.rebooter.down_within_s = 60  # the command "succeeds": the follower waits, as for real
    assert dog.config.trace is not None
    write_trace(dog.config.trace, {"event": "scene", "scene": "C"})
    assert dog.run() == 0
    join_reboot(dog)
    assert spawned.argvs == [["reboot-now"]]  # three kills, one reboot
    assert processes.starts == [(REASON, "started")] * 3
    reboots = [e for e in trace_events(dog.config) if e["event"] == "reboot"]
    assert [e["reason"] for e in reboots] == [REASON]
    assert dog.asked == []  # type: ignore[attr-defined]  # page C settles it: no network wait


def test_killed_on_standby_starts_the_kiosk_again_every_time_without_reboot(
        tmp_path: Path) -> None:
    dog, processes, spawned = make_watchdog(tmp_path, rounds=4, status=IDLE)
    assert dog.config.trace is not None
    write_trace(dog.config.trace, {"event": "scene", "scene": "A"})
    dog.run()
    assert spawned.argvs == [] and processes.starts == [(None, None)] * 4
    assert len(dog.asked) == 4  # type: ignore[attr-defined]


def test_a_failed_reboot_ends_the_kiosk_on_rebooting_and_starts_it_on_contact_staff(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("kiosk.platform.reboot.REMOTE_WAIT_S", 0)
    dog, processes, spawned = make_watchdog(tmp_path, rounds=2)
    dog.rebooter.retry_after_s = 0

    def refused(argv: list[str], **_: object) -> subprocess.Popen:
        raise OSError("no such program")

    dog.rebooter._spawn = refused
    assert dog.config.trace is not None
    write_trace(dog.config.trace, {"event": "scene", "scene": "C"})
    wait_gone = processes.wait_gone
    first = [True]

    def gone_then_ended(stop: threading.Event) -> bool:
        if not first[0]:
            assert processes.ended.wait(5), "the kiosk on 系统重启中 was not ended"
        first[0] = False
        return wait_gone(stop)

    processes.wait_gone = gone_then_ended  # type: ignore[method-assign]
    dog.run()
    assert processes.starts == [(REASON, "started"), (REASON, "failed")]
    events = [e["event"] for e in trace_events(dog.config)]
    assert events.count("reboot") == 1 and "reboot_failed" in events


def test_page_a_but_backend_in_session_reboots(tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("kiosk.platform.reboot.REMOTE_WAIT_S", 0)
    dog, processes, spawned = make_watchdog(tmp_path, rounds=1, status=SESSION)
    dog.rebooter.down_within_s = 60
    assert dog.config.trace is not None
    write_trace(dog.config.trace, {"event": "scene", "scene": "A"})  # forged, or stale
    dog.run()
    join_reboot(dog)
    assert spawned.argvs == [["reboot-now"]]


def test_maintenance_mode_skips_the_reboot_and_starts_the_kiosk(tmp_path: Path) -> None:
    dog, processes, spawned = make_watchdog(tmp_path, rounds=1)
    assert dog.config.trace is not None and dog.config.guard.maintenance_flag_file is not None
    write_trace(dog.config.trace, {"event": "scene", "scene": "C"})
    dog.config.guard.maintenance_flag_file.touch()
    dog.run()
    assert spawned.argvs == [] and processes.starts == [(None, None)]
    skipped = [e for e in trace_events(dog.config) if e["event"] == "reboot_skipped"]
    assert [e["reason"] for e in skipped] == [REASON]


def test_admin_exit_just_before_leaves_the_kiosk_stopped(tmp_path: Path) -> None:
    dog, processes, spawned = make_watchdog(tmp_path, rounds=1, admin_at=time.monotonic())
    assert dog.config.trace is not None
    write_trace(dog.config.trace, {"event": "scene", "scene": "C"})
    dog.run()
    assert spawned.argvs == [] and processes.starts == []


def test_one_admin_exit_covers_one_stop_not_a_kill_of_the_kiosk_started_after_it(
        tmp_path: Path) -> None:
    dog, processes, spawned = make_watchdog(tmp_path, rounds=2, status=IDLE,
                                            admin_at=time.monotonic())
    dog.run()  # the admin exit, then (the admin started it again) a kill seconds later
    assert spawned.argvs == [] and processes.starts == [(None, None)]


def test_admin_exit_long_ago_does_not_cover_a_later_kill(tmp_path: Path) -> None:
    dog, processes, _ = make_watchdog(tmp_path, rounds=1, status=IDLE,
                                      admin_at=time.monotonic() - 60)
    dog.run()
    assert processes.starts == [(None, None)]


def test_the_watchdog_does_not_create_the_kiosk_accounts_trace(tmp_path: Path,
                                                              monkeypatch: pytest.MonkeyPatch
                                                              ) -> None:
    monkeypatch.setattr("kiosk.platform.reboot.REMOTE_WAIT_S", 0)
    dog, _, _ = make_watchdog(tmp_path, rounds=1, status=SESSION)
    dog.rebooter.down_within_s = 60
    dog.run()
    join_reboot(dog)
    assert dog.config.trace is not None and not dog.config.trace.exists()


def test_a_kiosk_stopping_on_a_config_error_is_started_again_only_after_a_pause(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    dog, processes, _ = make_watchdog(tmp_path, rounds=1, status=IDLE)
    processes.exit_code = 2
    waits: list[float] = []
    monkeypatch.setattr(dog.stopping, "wait", lambda s: waits.append(s) or False)
    dog.run()
    assert waits == [30.0] and processes.starts == [(None, None)]


# --------------------------------------------------------------------------- which process


RULES = Rules((Path("/usr/bin/python3.11"),), Path("/opt/kiosk/main.py"),
              Path("/opt/kiosk/config.yaml"))
FROZEN = Rules((Path("/opt/kiosk/kiosk"),), None, Path("/opt/kiosk/config.yaml"))
PY = Path("/usr/bin/python3.11")
CWD = Path("/opt/kiosk")


@pytest.mark.parametrize(("program", "argv", "rules", "counts"), [
    (PY, ["python", "/opt/kiosk/main.py", "--config", "/opt/kiosk/config.yaml"], RULES, True),
    (PY, ["python", "main.py", "--config", "config.yaml"], RULES, True),  # relative to its cwd
    (PY, ["python", "/opt/kiosk/main.py", "--config", "/opt/kiosk/config.yaml", "--role",
          "ui", "--server-url", "http://x"], RULES, True),
    (PY, ["python", "/opt/kiosk/main.py", "--config=/opt/kiosk/config.yaml", "--role=guardian",
          "--ui-pid", "12"], RULES, True),
    (Path("/opt/kiosk/kiosk"), ["kiosk", "--config", "/opt/kiosk/config.yaml"], FROZEN, True),
    # Not the kiosk: the simulator, a command, another config, another program or script.
    (PY, ["python", "/opt/kiosk/main.py", "--config", "/opt/kiosk/config.yaml", "--role",
          "simulator"], RULES, False),
    (PY, ["python", "/opt/kiosk/main.py", "watchdog", "--config", "/opt/kiosk/config.yaml"],
     RULES, False),
    (PY, ["python", "/opt/kiosk/main.py", "check", "--config", "/opt/kiosk/config.yaml"],
     RULES, False),
    (PY, ["python", "/opt/kiosk/main.py", "--config", "/tmp/other.yaml"], RULES, False),
    (PY, ["python", "/opt/kiosk/main.py"], RULES, False),
    (PY, ["python", "/home/customer/main.py", "--config", "/opt/kiosk/config.yaml"], RULES,
     False),
    (Path("/usr/bin/bash"), ["python", "/opt/kiosk/main.py", "--config",
                             "/opt/kiosk/config.yaml"], RULES, False),  # takes the name only
    (Path("/home/customer/kiosk"), ["kiosk", "--config", "/opt/kiosk/config.yaml"], FROZEN,
     False),
    (PY, [], RULES, False),
])
def test_a_process_is_the_kiosk_by_its_program_main_py_and_config_not_its_name(
        program: Path, argv: list[str], rules: Rules, counts: bool) -> None:
    assert is_kiosk(program, argv, CWD, rules) is counts


def test_the_restarted_kiosk_gets_the_display_but_never_the_customers_path_or_libraries(
        ) -> None:
    found = {"DISPLAY": ":0", "XAUTHORITY": "/home/c/.Xauthority", "PATH": "/home/c/bin",
             "LD_PRELOAD": "/home/c/evil.so", "PYTHONPATH": "/home/c/py",
             "SDL_VIDEODRIVER": "dummy", "LANG": "zh_CN.UTF-8"}
    env = desktop_env(found, "/home/c", "c")
    assert env["DISPLAY"] == ":0" and env["XAUTHORITY"] == "/home/c/.Xauthority"
    assert env["PATH"] == SYSTEM_PATH and env["LANG"] == "zh_CN.UTF-8"
    assert "LD_PRELOAD" not in env and "PYTHONPATH" not in env
    assert "SDL_VIDEODRIVER" not in env  # a driver that shows nothing would leave it unlocked
    assert desktop_env({"SDL_VIDEODRIVER": "x11"}, "/h", "u")["SDL_VIDEODRIVER"] == "x11"


def test_proc_status_and_environ_are_read_for_the_account_and_display() -> None:
    status = "Name:\tpython\nUid:\t1001\t1001\t1001\t1001\nGid:\t1002\t1002\t1002\t1002\n" \
             "Groups:\t1002 27 \n"
    assert parse_status(status) == (1001, 1002, (1002, 27))
    assert parse_environ(b"DISPLAY=:1\0A=b=c\0\0") == {"DISPLAY": ":1", "A": "b=c"}


# --------------------------------------------------------------------------- pidfds, for real


@pytest.mark.linux
def test_wait_gone_returns_once_every_watched_process_ended_even_killed_together(
        tmp_path: Path) -> None:
    """Real processes and real pidfds: a sleeping Python posing as the kiosk (its argv
    names a main.py and config, which the rules are made to match)."""
    main_py = tmp_path / "main.py"
    main_py.write_text("import time; time.sleep(60)\n")
    cfg = tmp_path / "config.yaml"
    rules = Rules((Path(sys.executable).resolve(),), main_py.resolve(), cfg.resolve())
    kiosk = [subprocess.Popen([sys.executable, str(main_py), "--config", str(cfg)])
             for _ in range(2)]
    decoy = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)", "main.py",
                              "--config", str(cfg)])  # the name, not the program
    try:
        watch = LinuxProcesses(rules)
        watch.scan()
        assert sorted(watch.watched) == sorted(p.pid for p in kiosk)
        result: list[bool] = []
        stop = threading.Event()
        waiter = threading.Thread(target=lambda: result.append(watch.wait_gone(stop)))
        waiter.start()
        kiosk[0].kill()
        time.sleep(0.3)
        assert result == []  # one is left: it keeps waiting
        watch.end()  # as after a failed reboot: the watched process goes too
        waiter.join(5)
        assert result == [True]
        assert kiosk[1].wait(1) == -signal.SIGKILL
        assert watch.desktop is not None and watch.desktop.uid == os.getuid()
    finally:
        for proc in [*kiosk, decoy]:
            proc.kill()
            proc.wait()


@pytest.mark.linux
def test_wait_gone_sleeps_in_one_wait_while_the_kiosk_runs_and_wakes_for_a_stop(
        tmp_path: Path) -> None:
    """No polling loop: while the kiosk lives the wait is not woken at all."""
    main_py = tmp_path / "main.py"
    main_py.write_text("import time; time.sleep(60)\n")
    cfg = tmp_path / "config.yaml"
    proc = subprocess.Popen([sys.executable, str(main_py), "--config", str(cfg)])
    try:
        watch = LinuxProcesses(Rules((Path(sys.executable).resolve(),), main_py.resolve(),
                                     cfg.resolve()))
        wakes: list[float] = []
        watch._reap = lambda: wakes.append(time.monotonic())  # once per wake of the wait
        stop = threading.Event()
        result: list[bool] = []
        waiter = threading.Thread(target=lambda: result.append(watch.wait_gone(stop)))
        waiter.start()
        time.sleep(1.0)
        assert wakes == [] and waiter.is_alive()
        stop.set()
        watch.wake()
        waiter.join(2)
        assert result == [False] and len(wakes) == 1
    finally:
        proc.kill()
        proc.wait()


@pytest.mark.linux
def test_start_runs_the_kiosk_as_the_desktop_user_with_the_reboot_page(tmp_path: Path) -> None:
    calls: list[tuple[list[str], dict]] = []

    def spawn(argv: list[str], **options: object) -> subprocess.Popen:
        calls.append((argv, options))
        return subprocess.Popen([sys.executable, "-c", "import time; time.sleep(5)"])

    watch = LinuxProcesses(Rules((Path(sys.executable),), None, tmp_path / "c.yaml"), spawn=spawn,
                           argv=lambda *args: ["kiosk", *args])
    watch.start(None, None)
    assert calls == []  # no desktop user known yet: nobody to start it for
    watch.desktop = Desktop(1001, 1002, (1002, 44), {"DISPLAY": ":0", "HOME": str(tmp_path)})
    watch.start(REASON, "started")
    argv, options = calls[0]
    assert argv == ["kiosk", "--config", str(tmp_path / "c.yaml"), "--rebooting", REASON,
                    "--reboot-outcome", "started"]
    assert (options["user"], options["group"], options["extra_groups"]) == (1001, 1002,
                                                                            [1002, 44])
    assert options["env"] == {"DISPLAY": ":0", "HOME": str(tmp_path)}
    assert options["start_new_session"] is True and options["cwd"] == str(tmp_path)
    assert watch.child is not None and watch.child.pid in watch.watched
    watch.child.send_signal(signal.SIGKILL)
    watch.child.wait()


def test_the_rules_know_the_windowed_twin_and_a_windows_venvs_base_interpreter(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    venv, base = tmp_path / "venv" / "python.exe", tmp_path / "base" / "python.exe"
    monkeypatch.setattr(sys, "executable", str(venv))
    monkeypatch.setattr(sys, "_base_executable", str(base), raising=False)
    programs = set(Rules.here(tmp_path / "c.yaml", platform="win32").programs)
    assert programs == {venv, base, venv.with_name("pythonw.exe"), base.with_name("pythonw.exe")}
    assert set(Rules.here(tmp_path / "c.yaml", platform="linux").programs) == {venv, base}
