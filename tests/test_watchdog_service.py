"""Installing the watchdog as a service, and the admin exit's door (issue 17).

The Windows service commands are tested as the argv handed to ``sc.exe`` (a fake ``run``
records them); tests/test_watchdog_win32.py runs them for real under Wine.
"""

from __future__ import annotations

import subprocess
import time
from collections.abc import Sequence
from pathlib import Path

import pytest

from kiosk.admin import make_hash, parse_hash
from kiosk.platform.autostart import MARKER
from kiosk.platform.service import (
    SDDL,
    SERVICE,
    UNIT,
    Service,
    sc_state,
    unit_text,
    watchdog_argv,
)
from kiosk.platform.service import main as service_main
from kiosk.watchdog_door import NO, Door, UnixServer, listen, tell_watchdog


class Recorder:
    """A fake ``run``: records each argv, answers with the code given for its first words."""

    def __init__(self, codes: dict[tuple[str, ...], int] | None = None,
                 stdout: bytes = b"") -> None:
        self.argvs: list[list[str]] = []
        self.codes = codes or {}
        self.stdout = stdout

    def __call__(self, argv: Sequence[str]) -> subprocess.CompletedProcess:
        self.argvs.append(list(argv))
        code = next((c for words, c in self.codes.items()
                     if tuple(argv[:len(words)]) == words), 0)
        return subprocess.CompletedProcess(list(argv), code, self.stdout, b"")


CONFIG = Path("/opt/kiosk/config.yaml")


def test_the_service_runs_the_console_program_with_watchdog_and_the_config() -> None:
    assert watchdog_argv(CONFIG, service=False, platform="linux", frozen=False,
                         executable="/usr/bin/python3") == [
        str(Path("/usr/bin/python3")), str(Path(__file__).resolve().parents[1] / "main.py"),
        "watchdog", "--config", str(CONFIG)]
    assert watchdog_argv(CONFIG, service=True, platform="win32", frozen=True,
                         executable="C:\\kiosk\\kiosk-console.exe") == [
        str(Path("C:\\kiosk\\kiosk-console.exe")), "watchdog", "--service", "--config",
        str(CONFIG)]


def test_windows_install_creates_a_localsystem_auto_service_restarting_on_failure_with_a_dacl(
        ) -> None:
    run = Recorder({("sc.exe", "query"): 1060})
    Service(CONFIG, "win32", run=run, out=lambda line: None).install_windows()
    create = run.argvs[1]
    assert create[:3] == ["sc.exe", "create", SERVICE]
    options = dict(zip(create[3::2], create[4::2], strict=True))
    assert options["start="] == "auto" and options["obj="] == "LocalSystem"
    assert "watchdog --service --config" in options["binPath="]
    verbs = [argv[1] for argv in run.argvs]
    assert verbs == ["query", "create", "description", "failure", "failureflag", "sdset",
                     "start"]
    failure = run.argvs[3]
    assert failure[failure.index("actions=") + 1].split("/")[::2] == ["restart"] * 3
    assert run.argvs[5] == ["sc.exe", "sdset", SERVICE, SDDL]


def test_the_dacl_lets_users_query_but_never_start_stop_or_pause_the_service() -> None:
    aces = SDDL.removeprefix("D:").strip("()").split(")(")
    rights = {ace.split(";")[5]: ace.split(";")[2] for ace in aces}
    assert set(rights) == {"SY", "BA", "IU", "SU", "AU"}
    for user in ("IU", "SU", "AU"):
        granted = {rights[user][i:i + 2] for i in range(0, len(rights[user]), 2)}
        assert granted.isdisjoint({"RP", "WP", "DT", "SD", "WD", "WO", "DC"}), user
        assert "LC" in granted  # they can still see whether it runs (main.py check)
    assert "WP" in rights["SY"] and "WP" in rights["BA"]


def test_windows_install_over_an_existing_service_updates_it_and_start_running_is_fine() -> None:
    run = Recorder({("sc.exe", "start"): 1056})
    Service(CONFIG, "win32", run=run, out=lambda line: None).install_windows()
    assert [argv[1] for argv in run.argvs][:2] == ["query", "config"]


def test_windows_uninstall_stops_then_deletes_and_says_so_when_there_is_nothing() -> None:
    said: list[str] = []
    run = Recorder({("sc.exe", "stop"): 1062})  # not running: fine
    Service(CONFIG, "win32", run=run, out=said.append).uninstall_windows()
    assert [argv[1] for argv in run.argvs] == ["query", "stop", "delete"]
    run = Recorder({("sc.exe", "query"): 1060})
    Service(CONFIG, "win32", run=run, out=said.append).uninstall_windows()
    assert [argv[1] for argv in run.argvs] == ["query"] and "not installed" in said[-1]


def test_a_dry_run_prints_the_commands_and_runs_nothing_that_changes() -> None:
    said: list[str] = []
    run = Recorder({("sc.exe", "query"): 1060})
    Service(CONFIG, "win32", run=run, dry_run=True, out=said.append).install_windows()
    assert [argv[1] for argv in run.argvs] == ["query"]
    assert said[0].startswith("would run: sc.exe create KioskWatchdog binPath=")
    assert any("sdset" in line for line in said)


@pytest.mark.parametrize(("text", "state"), [
    ("SERVICE_NAME: KioskWatchdog\r\n        TYPE               : 10  WIN32_OWN_PROCESS\r\n"
     "        STATE              : 4  RUNNING\r\n", "RUNNING"),
    ("        STATE              : 1  STOPPED \n", "STOPPED"),
    ("garbage", None)])
def test_sc_query_state_is_read(text: str, state: str | None) -> None:
    assert sc_state(text) == state


def test_windows_status_names_a_service_of_another_program_or_config() -> None:
    job = Service(CONFIG, "win32")
    line = subprocess.list2cmdline(job.argv())
    qc = f"SERVICE_NAME: KioskWatchdog\r\n        BINARY_PATH_NAME   : {line}\r\n".encode()
    ours = Recorder({("sc.exe", "qc"): 0}, stdout=b"  STATE   : 4  RUNNING\r\n" + qc)
    assert Service(CONFIG, "win32", run=ours).status()[0] is True
    other = Recorder(stdout=b"  STATE   : 4  RUNNING\r\n  BINARY_PATH_NAME   : C:\\old\\"
                            b"kiosk-console.exe watchdog --service --config C:\\old\\c.yaml")
    ok, detail = Service(CONFIG, "win32", run=other).status()
    assert not ok and "C:\\old\\c.yaml" in detail


def test_windows_status_says_running_or_not() -> None:
    running = Recorder(stdout=b"        STATE              : 4  RUNNING\r\n")
    assert Service(CONFIG, "win32", run=running).status() == (
        True, f"service {SERVICE} is RUNNING")
    missing = Recorder({("sc.exe", "query"): 1060})
    assert Service(CONFIG, "win32", run=missing).status()[0] is False


def test_the_systemd_unit_runs_as_root_always_restarted_and_never_kills_the_kiosk() -> None:
    text = unit_text(["/usr/bin/python3", "/opt/kiosk/main.py", "watchdog", "--config",
                      "/opt/kiosk/config 100%.yaml"])
    lines = text.splitlines()
    assert lines[0] == f"# {MARKER}"
    assert "Restart=always" in lines and "KillMode=process" in lines
    assert "WantedBy=multi-user.target" in lines
    assert not any(line.startswith(("User=", "DynamicUser=")) for line in lines)  # root
    assert ('ExecStart="/usr/bin/python3" "/opt/kiosk/main.py" "watchdog" "--config" '
            '"/opt/kiosk/config 100%%.yaml"') in lines


def test_linux_install_writes_the_unit_enables_and_starts_it_and_uninstall_removes_it(
        tmp_path: Path) -> None:
    config = tmp_path / "config.yaml"
    config.write_text("client: {id: '1'}\n")
    run = Recorder()
    code = service_main(["install"], config=config, dry_run=False, method="systemd",
                        platform="linux", run=run, unit_dir=tmp_path / "units")
    unit = tmp_path / "units" / UNIT
    assert code == 0 and unit.read_text(encoding="utf-8").startswith(f"# {MARKER}")
    assert run.argvs == [["systemctl", "daemon-reload"], ["systemctl", "enable", "--now", UNIT]]
    run.argvs.clear()
    assert service_main(["install"], config=config, dry_run=False, method="systemd",
                        platform="linux", run=run, unit_dir=tmp_path / "units") == 0
    assert run.argvs == [["systemctl", "enable", "--now", UNIT]]  # unchanged: no reload
    status = Service(config, "linux", run=Recorder(), unit_dir=tmp_path / "units").status()
    assert status == (True, f"{UNIT} runs as root")
    stopped = Recorder({("systemctl", "is-active"): 3})
    assert Service(config, "linux", run=stopped, unit_dir=tmp_path / "units").status()[0] is False
    run.argvs.clear()
    assert service_main(["uninstall"], config=config, dry_run=False, method="systemd",
                        platform="linux", run=run, unit_dir=tmp_path / "units") == 0
    assert not unit.exists()
    assert run.argvs == [["systemctl", "disable", "--now", UNIT], ["systemctl", "daemon-reload"]]


def test_linux_install_needs_the_systemd_method_and_leaves_a_foreign_unit_alone(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = tmp_path / "config.yaml"
    config.write_text("client: {id: '1'}\n")
    assert service_main(["install"], config=config, dry_run=False, method=None,
                        platform="linux", run=Recorder(), unit_dir=tmp_path) == 2
    assert "--method systemd" in capsys.readouterr().err
    (tmp_path / UNIT).write_text("[Service]\nExecStart=/bin/true\n")
    assert service_main(["install"], config=config, dry_run=False, method="systemd",
                        platform="linux", run=Recorder(), unit_dir=tmp_path) == 1
    assert "not made by main.py watchdog install" in capsys.readouterr().err


def test_linux_dry_run_writes_nothing(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = tmp_path / "config.yaml"
    config.write_text("client: {id: '1'}\n")
    run = Recorder()
    assert service_main(["install"], config=config, dry_run=True, method="systemd",
                        platform="linux", run=run, unit_dir=tmp_path / "units") == 0
    assert run.argvs == [] and not (tmp_path / "units").exists()
    out = capsys.readouterr().out
    assert "would write" in out and "would run: systemctl enable --now" in out


# --------------------------------------------------------------------------- the admin door

PASSWORD = "net-admin 1234"


@pytest.fixture
def door(tmp_path: Path):
    folder = tmp_path / "door"
    opened = Door(parse_hash(make_hash(PASSWORD, 1000)))
    opened.server = UnixServer(listen(folder / "door"), opened.answer)
    yield opened, folder / "door"
    opened.close()


@pytest.mark.linux
def test_the_admin_password_at_the_door_counts_as_an_admin_exit(door) -> None:
    opened, path = door
    assert opened.last_exit() is None
    before = time.monotonic()
    assert tell_watchdog(PASSWORD, path) == "ok"
    exit_at = opened.last_exit()
    assert exit_at is not None and exit_at >= before


@pytest.mark.linux
def test_a_wrong_password_or_junk_at_the_door_does_not_and_guessing_is_locked_out(door) -> None:
    opened, path = door
    assert tell_watchdog("guess", path) == "no"
    assert opened.answer(b"\xff\xfe\n") == NO  # not UTF-8: no try at the password
    assert opened.answer(b"") == NO  # a connection that says nothing: no try either
    for _ in range(4):
        tell_watchdog("guess", path)
    assert tell_watchdog(PASSWORD, path) == "wait"  # five wrong in a row: a minute's wait
    assert opened.last_exit() is None


@pytest.mark.linux
def test_the_ui_sends_no_password_where_no_watchdog_listens(tmp_path: Path) -> None:
    assert tell_watchdog(PASSWORD, tmp_path / "none" / "door").startswith("no watchdog")
    (tmp_path / "sock").mkdir()
    assert tell_watchdog(PASSWORD, tmp_path / "sock" / "door").startswith("no watchdog")


@pytest.mark.linux
def test_the_door_refuses_a_folder_others_can_write_in(tmp_path: Path) -> None:
    folder = tmp_path / "open"
    folder.mkdir(mode=0o777)
    folder.chmod(0o777)
    with pytest.raises(OSError, match="not the watchdog's own folder"):
        listen(folder / "door")
