"""``python main.py install|uninstall``: autostart at logon, idempotent, undone exactly.

Windows is tested with a fake ``schtasks`` (the runner is injected); Linux writes real
files, but only into a temporary HOME.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from kiosk.platform import autostart
from kiosk.platform.autostart import MARKER, TASK_NAME, Autostart
from kiosk.platform.process import MAIN_PY

WIN_ARGV = [r"C:\Program Files\kiosk\kiosk.exe", "--config",
            r"C:\Program Files\kiosk\config.yaml"]
WIN_LINE = r'"C:\Program Files\kiosk\kiosk.exe" --config "C:\Program Files\kiosk\config.yaml"'
# What schtasks /Create /SC ONLOGON /RL HIGHEST registers, with Task Scheduler's defaults.
TASK_XML = """<?xml version="1.0" encoding="UTF-16"?>
<Task version="1.2" xmlns="http://schemas.microsoft.com/windows/2004/02/mit/task">
  <Triggers><LogonTrigger><Enabled>true</Enabled></LogonTrigger></Triggers>
  <Principals><Principal id="Author"><UserId>S-1-5-21-1004</UserId>
    <LogonType>InteractiveToken</LogonType><RunLevel>{level}</RunLevel></Principal></Principals>
  <Settings>
    <MultipleInstancesPolicy>IgnoreNew</MultipleInstancesPolicy>
    <DisallowStartIfOnBatteries>true</DisallowStartIfOnBatteries>
    <StopIfGoingOnBatteries>true</StopIfGoingOnBatteries>
    <ExecutionTimeLimit>PT72H</ExecutionTimeLimit>
  </Settings>
  <Actions Context="Author"><Exec>
      <Command>{command}</Command>
      <Arguments>{arguments}</Arguments>
  </Exec></Actions>
</Task>
"""
NO_TASK = b"ERROR: The system cannot find the file specified."


class FakeTools:
    """systemctl stand-in: records every argv, answers from a table by argv prefix."""

    def __init__(self, answers: dict[tuple[str, ...], tuple[int, bytes]] | None = None) -> None:
        self.calls: list[list[str]] = []
        self.answers = answers or {}

    def __call__(self, argv):
        self.calls.append(list(argv))
        for prefix, (code, out) in self.answers.items():
            if tuple(argv[:len(prefix)]) == prefix:
                return subprocess.CompletedProcess(list(argv), code, out, out if code else b"")
        return subprocess.CompletedProcess(list(argv), 0, b"", b"")

    def changing(self) -> list[list[str]]:
        """The calls that change the system (queries left out)."""
        return [c for c in self.calls if "/Query" not in c and "is-enabled" not in c]


class FakeSchtasks(FakeTools):
    """schtasks with a task store: /Create from flags or from an XML file, /Query, /Delete."""

    def __init__(self, task: str | None = None, deny: bytes | None = None,
                 encoding: str = "utf-16") -> None:
        super().__init__()
        self.task, self.deny, self.encoding = task, deny, encoding
        self.imported: list[str] = []  # the XML files /Create /XML was given

    def __call__(self, argv):
        self.calls.append(list(argv))
        args = dict(zip(argv[2::2], argv[3::2], strict=False))  # /TN name /TR line …
        done = subprocess.CompletedProcess(list(argv), 0, b"SUCCESS", b"")
        if argv[1] == "/Query":
            if self.task is None:
                return subprocess.CompletedProcess(list(argv), 1, b"", NO_TASK)
            return subprocess.CompletedProcess(list(argv), 0, self.task.encode(self.encoding), b"")
        if argv[1] == "/Delete":
            self.task = None
        elif argv[1] == "/Create" and self.deny:
            return subprocess.CompletedProcess(list(argv), 1, b"", self.deny)
        elif argv[1] == "/Create" and "/XML" in argv:
            self.task = Path(argv[argv.index("/XML") + 1]).read_text(encoding="utf-16")
            self.imported.append(self.task)
        elif argv[1] == "/Create":
            command, arguments = split_task_run(args["/TR"])
            level = "HighestAvailable" if args.get("/RL") == "HIGHEST" else "LeastPrivilege"
            self.task = TASK_XML.format(level=level, command=command, arguments=arguments)
        return done


def split_task_run(line: str) -> tuple[str, str]:
    """How Task Scheduler splits /TR into the program and its arguments."""
    if line.startswith('"'):
        end = line.index('"', 1) + 1
        return line[:end], line[end:].strip()
    program, _, arguments = line.partition(" ")
    return program, arguments


def windows(tools: FakeTools, tmp_path: Path, *, dry_run: bool = False,
            argv: list[str] = WIN_ARGV) -> tuple[Autostart, list[str]]:
    said: list[str] = []
    job = Autostart(tmp_path / "config.yaml", "win32", tmp_path, {}, run=tools,
                    dry_run=dry_run, out=said.append, argv=argv)
    return job, said


CREATE = ["schtasks", "/Create", "/TN", TASK_NAME, "/TR", WIN_LINE, "/SC", "ONLOGON",
          "/RL", "HIGHEST", "/F"]
LIFTED = "lifted the task's 72-hour limit and its battery conditions"


# --- Windows ------------------------------------------------------------------------------


@pytest.mark.parametrize("encoding", ["utf-16", "utf-8"])
def test_windows_install_creates_a_logon_task_with_highest_privileges_that_never_times_out(
        tmp_path, encoding):
    tools = FakeSchtasks(encoding=encoding)
    job, said = windows(tools, tmp_path)
    job.install_windows(user=None)

    create, again = tools.changing()
    assert create == CREATE
    assert again[:5] == ["schtasks", "/Create", "/TN", TASK_NAME, "/XML"] and again[-1] == "/F"
    imported, = tools.imported
    assert "<ExecutionTimeLimit>PT0S</ExecutionTimeLimit>" in imported
    assert "<DisallowStartIfOnBatteries>false</DisallowStartIfOnBatteries>" in imported
    assert "<StopIfGoingOnBatteries>false</StopIfGoingOnBatteries>" in imported
    # Everything else is the task schtasks made: same trigger, principal and command.
    assert imported == TASK_XML.format(
        level="HighestAvailable", command=split_task_run(WIN_LINE)[0],
        arguments=split_task_run(WIN_LINE)[1]).replace(
        "PT72H", "PT0S").replace("OnBatteries>true<", "OnBatteries>false<")
    assert said == [f"created scheduled task {TASK_NAME}: {WIN_LINE} at logon, "
                    f"highest privileges", LIFTED]


def test_kiosk_settings_are_added_when_the_task_has_none_of_them():
    xml = "<Task><Triggers><ExecutionTimeLimit>PT1H</ExecutionTimeLimit></Triggers>" \
          "<Settings>\n  </Settings></Task>"
    fixed = autostart.with_kiosk_settings(xml)
    assert fixed.startswith("<Task><Triggers><ExecutionTimeLimit>PT1H</ExecutionTimeLimit>")
    settings = fixed[fixed.index("<Settings>"):]
    for name, value in autostart.KIOSK_SETTINGS.items():
        assert f"<{name}>{value}</{name}>" in settings
    with pytest.raises(autostart.AutostartError, match="without <Settings>"):
        autostart.with_kiosk_settings("<Task></Task>")


def test_windows_task_command_line_quotes_paths_with_spaces_as_schtasks_expects():
    # What CreateProcess hands schtasks: /TR is one argument, inner quotes as \".
    line = subprocess.list2cmdline(autostart.create_task_argv(WIN_LINE, None))
    assert line == ('schtasks /Create /TN ScanKiosk /TR "\\"C:\\Program Files\\kiosk\\kiosk.exe\\"'
                    ' --config \\"C:\\Program Files\\kiosk\\config.yaml\\"" /SC ONLOGON '
                    '/RL HIGHEST /F')


def test_windows_install_for_another_account_runs_in_that_users_session(tmp_path):
    tools = FakeSchtasks()
    windows(tools, tmp_path)[0].install_windows(user="CAFE\\player")
    assert tools.changing()[0] == [*CREATE, "/RU", "CAFE\\player", "/IT"]


def test_windows_install_twice_changes_nothing_the_second_time(tmp_path):
    tools = FakeSchtasks()
    windows(tools, tmp_path)[0].install_windows(user=None)
    tools.calls.clear()

    job, said = windows(tools, tmp_path)
    job.install_windows(user=None)
    assert tools.changing() == []
    assert said == [f"already installed: scheduled task {TASK_NAME} runs {WIN_LINE} at logon "
                    f"with highest privileges; nothing changed"]


def made_by_hand(level: str = "HighestAvailable", config: str = "config.yaml",
                 limit: str = "PT0S") -> str:
    """A task as someone may have changed it, otherwise what install makes."""
    command, arguments = split_task_run(WIN_LINE.replace("config.yaml", config))
    return autostart.with_kiosk_settings(
        TASK_XML.format(level=level, command=command, arguments=arguments)).replace(
        "<ExecutionTimeLimit>PT0S<", f"<ExecutionTimeLimit>{limit}<")


@pytest.mark.parametrize("task", [made_by_hand(level="LeastPrivilege"),
                                  made_by_hand(config="other.yaml"),
                                  made_by_hand(limit="PT72H")],
                         ids=["normal-rights", "other-config", "72h-limit"])
def test_windows_install_replaces_a_task_that_runs_differently(tmp_path, task):
    assert autostart.task_matches(made_by_hand(), WIN_LINE)  # the variants differ in one thing
    tools = FakeSchtasks(task)
    job, said = windows(tools, tmp_path)
    job.install_windows(user=None)
    assert tools.changing()[0] == CREATE
    assert said == [f"replaced scheduled task {TASK_NAME}: {WIN_LINE} at logon, "
                    f"highest privileges", LIFTED]
    assert autostart.task_matches(tools.task or "", WIN_LINE)


def test_windows_dry_run_says_what_it_would_do_and_does_nothing(tmp_path):
    tools = FakeSchtasks()
    job, said = windows(tools, tmp_path, dry_run=True)
    job.install_windows(user=None)
    assert tools.changing() == [] and tools.task is None
    assert said == [f"would create scheduled task {TASK_NAME}: {WIN_LINE} at logon, "
                    f"highest privileges",
                    "would lift the task's 72-hour limit and its battery conditions"]


def test_windows_install_without_admin_rights_fails_with_schtasks_own_words(tmp_path, capsys):
    tools = FakeSchtasks(deny=b"ERROR: Access is denied.")
    code = autostart.main(["install", "--config", str(write_config(tmp_path))],
                          default_config=tmp_path / "x", platform="win32", run=tools,
                          home=tmp_path)
    assert code == 1
    assert "schtasks /Create /TN failed: ERROR: Access is denied." in capsys.readouterr().err
    assert tools.task is None


def test_windows_refuses_a_command_line_too_long_for_schtasks(tmp_path):
    tools = FakeSchtasks()
    job, _ = windows(tools, tmp_path, argv=["C:\\" + "k" * 250 + "\\kiosk.exe", "--config", "c"])
    with pytest.raises(autostart.AutostartError, match="shorter path such as C:\\\\kiosk"):
        job.install_windows(user=None)
    assert tools.changing() == []


def test_windows_uninstall_deletes_our_task_and_only_once(tmp_path):
    tools = FakeSchtasks(made_by_hand())
    job, said = windows(tools, tmp_path)
    job.uninstall_windows()
    assert tools.changing() == [["schtasks", "/Delete", "/TN", TASK_NAME, "/F"]]
    assert said == [f"removed scheduled task {TASK_NAME}"]

    tools.calls.clear()
    job, said = windows(tools, tmp_path)
    job.uninstall_windows()
    assert tools.changing() == []
    assert said == [f"not installed: there is no scheduled task {TASK_NAME}; nothing changed"]


def test_windows_autostart_runs_the_windowed_twin_so_no_console_opens(tmp_path):
    for name in ("kiosk.exe", "kiosk-console.exe", "python.exe", "pythonw.exe"):
        (tmp_path / name).write_bytes(b"")
    config = tmp_path / "config.yaml"
    frozen = autostart.launch_argv(config, platform="win32", frozen=True,
                                   executable=str(tmp_path / "kiosk-console.exe"))
    assert frozen == [str(tmp_path / "kiosk.exe"), "--config", str(config)]
    source = autostart.launch_argv(config, platform="win32", frozen=False,
                                   executable=str(tmp_path / "python.exe"))
    assert source == [str(tmp_path / "pythonw.exe"), str(MAIN_PY), "--config", str(config)]


@pytest.mark.linux  # POSIX paths
def test_frozen_linux_build_registers_its_own_executable(tmp_path):
    config = tmp_path / "config.yaml"
    assert autostart.launch_argv(config, platform="linux", frozen=True,
                                 executable="/opt/kiosk/kiosk") == [
        "/opt/kiosk/kiosk", "--config", str(config)]
    assert autostart.launch_argv(config, platform="linux", frozen=False,
                                 executable="/usr/bin/python3") == [
        "/usr/bin/python3", str(MAIN_PY), "--config", str(config)]


# --- Linux --------------------------------------------------------------------------------


def write_config(folder: Path) -> Path:
    path = folder / "config.yaml"
    path.write_text('client:\n  id: "370011"\n', encoding="utf-8")
    return path


def run_main(tmp_path: Path, *args: str, tools: FakeTools | None = None) -> int:
    return autostart.main([*args, "--config", str(write_config(tmp_path))],
                          default_config=tmp_path / "unused.yaml", platform="linux",
                          run=tools or FakeTools(), home=tmp_path / "home")


@pytest.mark.linux  # this OS's own launch line
def test_linux_install_writes_an_xdg_autostart_entry_that_starts_this_kiosk(tmp_path, capsys,
                                                                             monkeypatch):
    monkeypatch.delenv("XDG_CONFIG_HOME", raising=False)
    assert run_main(tmp_path, "install") == 0
    entry = tmp_path / "home" / ".config" / "autostart" / "kiosk.desktop"
    lines = entry.read_text(encoding="utf-8").splitlines()
    assert lines[0] == "[Desktop Entry]"
    assert "Type=Application" in lines and "Terminal=false" in lines and MARKER in lines
    assert (f"Exec={autostart.desktop_exec(autostart.launch_argv(tmp_path / 'config.yaml'))}"
            in lines)
    assert f"{tmp_path / 'config.yaml'}" in entry.read_text(encoding="utf-8")
    assert capsys.readouterr().out == f"created {entry}\n"

    assert run_main(tmp_path, "install") == 0
    assert capsys.readouterr().out == f"already installed: {entry} is up to date; nothing changed\n"

    assert run_main(tmp_path, "uninstall") == 0
    assert capsys.readouterr().out == f"removed {entry}\n"
    assert not (tmp_path / "home" / ".config" / "autostart").exists()
    assert run_main(tmp_path, "uninstall") == 0
    assert "not installed" in capsys.readouterr().out


def test_linux_dry_run_writes_nothing(tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("XDG_CONFIG_HOME", raising=False)
    tools = FakeTools()
    assert run_main(tmp_path, "install", "--dry-run", "--method", "systemd", tools=tools) == 0
    assert not (tmp_path / "home").exists()
    assert tools.changing() == []
    unit = tmp_path / "home" / ".config" / "systemd" / "user" / "kiosk.service"
    assert capsys.readouterr().out.splitlines() == [
        f"would create {unit}", "would reload the systemd user units",
        "would enable kiosk.service (starts with the graphical session)"]


def test_linux_entry_goes_where_xdg_config_home_points(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    assert run_main(tmp_path, "install") == 0
    assert (tmp_path / "xdg" / "autostart" / "kiosk.desktop").is_file()


def test_linux_leaves_an_entry_it_did_not_make_alone(tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("XDG_CONFIG_HOME", raising=False)
    entry = tmp_path / "home" / ".config" / "autostart" / "kiosk.desktop"
    entry.parent.mkdir(parents=True)
    entry.write_text("[Desktop Entry]\nExec=someone-elses-kiosk\n", encoding="utf-8")
    assert run_main(tmp_path, "install") == 1
    assert "was not made by main.py install" in capsys.readouterr().err
    assert run_main(tmp_path, "uninstall") == 0
    assert entry.read_text(encoding="utf-8") == "[Desktop Entry]\nExec=someone-elses-kiosk\n"


@pytest.mark.parametrize(("argv", "exec_line"), [
    (["/usr/bin/python3", "/opt/kiosk/main.py"], "/usr/bin/python3 /opt/kiosk/main.py"),
    (["/opt/my kiosk/kiosk", "--config", "/opt/my kiosk/100%.yaml"],
     '"/opt/my kiosk/kiosk" --config "/opt/my kiosk/100%%.yaml"'),
    (["/opt/k$/kiosk"], '"/opt/k\\\\$/kiosk"'),
])
def test_desktop_exec_quotes_as_the_desktop_entry_spec_asks(argv, exec_line):
    assert autostart.desktop_exec(argv) == exec_line


@pytest.mark.linux  # this OS's own launch line
def test_linux_systemd_unit_is_written_enabled_and_undone(tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("XDG_CONFIG_HOME", raising=False)
    tools = FakeTools({("systemctl", "--user", "is-enabled"): (1, b"disabled")})
    assert run_main(tmp_path, "install", "--method", "systemd", tools=tools) == 0
    unit = tmp_path / "home" / ".config" / "systemd" / "user" / "kiosk.service"
    text = unit.read_text(encoding="utf-8")
    exec_start = " ".join(f'"{a}"' for a in autostart.launch_argv(tmp_path / "config.yaml"))
    assert f"ExecStart={exec_start}\n" in text
    assert "WantedBy=graphical-session.target\n" in text and "Restart=on-failure\n" in text
    assert tools.changing() == [["systemctl", "--user", "daemon-reload"],
                                ["systemctl", "--user", "enable", "kiosk.service"]]
    capsys.readouterr()

    enabled = FakeTools()  # is-enabled answers 0 now
    assert run_main(tmp_path, "install", "--method", "systemd", tools=enabled) == 0
    assert enabled.changing() == []
    assert "nothing changed" in capsys.readouterr().out

    assert run_main(tmp_path, "uninstall", tools=enabled) == 0
    assert enabled.changing() == [["systemctl", "--user", "disable", "kiosk.service"],
                                  ["systemctl", "--user", "daemon-reload"]]
    assert not unit.exists()


def test_systemd_exec_keeps_percent_and_dollar_literal():
    assert autostart.systemd_exec(["/opt/a b/kiosk", "100%", "$HOME"]) == (
        '"/opt/a b/kiosk" "100%%" "$$HOME"')


def test_install_needs_an_existing_config(tmp_path, capsys):
    code = autostart.main(["install", "--config", str(tmp_path / "missing.yaml")],
                          default_config=tmp_path / "x", platform="linux", run=FakeTools(),
                          home=tmp_path)
    assert code == 2 and "missing.yaml does not exist" in capsys.readouterr().err


def test_switching_linux_methods_leaves_one_autostart_so_the_kiosk_starts_once(tmp_path, capsys,
                                                                              monkeypatch):
    monkeypatch.delenv("XDG_CONFIG_HOME", raising=False)
    config_dir = tmp_path / "home" / ".config"
    entry, unit = config_dir / "autostart" / "kiosk.desktop", config_dir / "systemd" / "user" / \
        "kiosk.service"
    assert run_main(tmp_path, "install") == 0 and entry.exists()

    tools = FakeTools({("systemctl", "--user", "is-enabled"): (1, b"disabled")})
    assert run_main(tmp_path, "install", "--method", "systemd", tools=tools) == 0
    assert unit.exists() and not entry.exists()
    assert capsys.readouterr().out.splitlines()[-1] == f"removed {entry}"

    tools = FakeTools()
    assert run_main(tmp_path, "install", tools=tools) == 0
    assert entry.exists() and not unit.exists()
    assert tools.changing() == [["systemctl", "--user", "disable", "kiosk.service"],
                                ["systemctl", "--user", "daemon-reload"]]


def test_an_up_to_date_unit_that_was_disabled_is_enabled_again(tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("XDG_CONFIG_HOME", raising=False)
    assert run_main(tmp_path, "install", "--method", "systemd") == 0
    capsys.readouterr()
    tools = FakeTools({("systemctl", "--user", "is-enabled"): (1, b"disabled")})
    assert run_main(tmp_path, "install", "--method", "systemd", tools=tools) == 0
    assert tools.changing() == [["systemctl", "--user", "enable", "kiosk.service"]]
    assert capsys.readouterr().out == (
        "enabled kiosk.service (starts with the graphical session)\n")


def test_systemd_does_not_restart_a_kiosk_stopped_by_a_config_error():
    unit = autostart.systemd_unit(["/opt/kiosk/kiosk"])
    assert "Restart=on-failure\n" in unit and "RestartPreventExitStatus=2\n" in unit


def test_windows_install_never_registers_a_command_it_read_back_garbled(tmp_path):
    accented = [r"C:\Café\kiosk.exe", "--config", r"C:\Café\config.yaml"]
    tools = FakeSchtasks(encoding="cp850")  # a console code page that is not the ANSI one
    job, _ = windows(tools, tmp_path, argv=accented)
    with pytest.raises(autostart.AutostartError, match="did not read back as"):
        job.install_windows(user=None)
    assert tools.imported == []  # the created task stays as schtasks made it


# --- looking only (main.py check) ---------------------------------------------------------


def test_windows_status_says_whether_the_task_runs_this_kiosk_and_changes_nothing(tmp_path):
    tools = FakeSchtasks()
    job, _ = windows(tools, tmp_path)
    assert job.status() == (False, f"there is no scheduled task {TASK_NAME}")
    job.install_windows(user=None)
    tools.calls.clear()
    assert job.status() == (True, f"scheduled task {TASK_NAME} runs {WIN_LINE} at logon with "
                                  f"highest privileges")
    tools.task = made_by_hand(limit="PT72H")
    ok, why = job.status()
    assert not ok and "does not run" in why
    assert tools.changing() == []


def linux_job(tmp_path: Path, tools: FakeTools) -> Autostart:
    return Autostart(write_config(tmp_path), "linux", tmp_path / "home", {}, run=tools)


def test_linux_status_finds_the_entry_or_the_enabled_unit_for_this_config(tmp_path):
    tools = FakeTools({("systemctl", "--user", "is-enabled"): (1, b"disabled")})
    job = linux_job(tmp_path, tools)
    assert job.status()[0] is False
    job.install_linux("xdg")
    assert job.status() == (True, f"{job.desktop_path} starts it at logon")
    other = Autostart(tmp_path / "other.yaml", "linux", tmp_path / "home", {}, run=tools)
    assert other.status() == (False, f"{job.desktop_path} starts another program or config")

    job.unit_path.parent.mkdir(parents=True)
    job.unit_path.write_text(autostart.systemd_unit(job.argv), encoding="utf-8")
    job.desktop_path.unlink()
    assert job.status() == (False, f"{job.unit_path} is there but not enabled")
    tools.answers.clear()  # is-enabled answers 0 now
    assert job.status()[0] is True
    assert tools.changing() == []
