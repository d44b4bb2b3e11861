"""The reboot action on each platform, with the OS replaced by fakes (never a real reboot)."""

from __future__ import annotations

import json

import pytest

from kiosk.logs import Trace
from kiosk.platform import Rebooter, reboot_argv


@pytest.mark.parametrize(("mode", "platform", "argv"), [
    ("simulate", "win32", []),
    ("simulate", "linux", []),
    ("system", "win32", ["shutdown", "/r", "/t", "0", "/f"]),
    ("system", "linux", ["systemctl", "reboot"]),
    ("command", "win32", ["C:/tools/reboot.exe", "--now"]),
    ("command", "linux", ["C:/tools/reboot.exe", "--now"]),
])
def test_each_mode_reboots_with_the_right_command(mode, platform, argv):
    assert reboot_argv(mode, ["C:/tools/reboot.exe", "--now"], platform) == argv


class Spawned:
    def __init__(self, fail: bool = False) -> None:
        self.calls: list[tuple[list[str], dict]] = []
        self.fail = fail

    def __call__(self, argv, **options):
        if self.fail:
            raise FileNotFoundError(argv[0])
        self.calls.append((argv, options))


def test_windows_reboot_runs_shutdown_in_its_own_process_group(tmp_path):
    spawn = Spawned()
    trace = tmp_path / "trace.jsonl"
    rebooter = Rebooter("system", [], Trace(trace), platform="win32", spawn=spawn)
    assert rebooter.reboot("rule5:onlineStatus=3")
    (argv, options), = spawn.calls
    assert argv == ["shutdown", "/r", "/t", "0", "/f"]
    assert "start_new_session" not in options  # a POSIX-only option would raise on Windows
    assert options["creationflags"] == 0x200  # CREATE_NEW_PROCESS_GROUP
    line = json.loads(trace.read_text(encoding="utf-8"))
    assert line["event"] == "reboot" and line["reason"] == "rule5:onlineStatus=3"


def test_linux_reboot_outlives_the_kiosk(tmp_path):
    spawn = Spawned()
    Rebooter("system", [], Trace(None), platform="linux", spawn=spawn).reboot("rule7")
    (argv, options), = spawn.calls
    assert argv == ["systemctl", "reboot"] and options["start_new_session"] is True


def test_simulated_reboot_is_traced_but_runs_nothing(tmp_path):
    spawn = Spawned()
    trace = tmp_path / "trace.jsonl"
    rebooter = Rebooter("simulate", [], Trace(trace), spawn=spawn)
    assert rebooter.simulated and rebooter.reboot("rule6:after_confirm")
    assert spawn.calls == []
    assert "rule6:after_confirm" in trace.read_text(encoding="utf-8")


def test_a_missing_reboot_program_is_logged_not_raised(caplog):
    rebooter = Rebooter("command", ["/no/such/reboot"], Trace(None), spawn=Spawned(fail=True))
    assert rebooter.reboot("rule3:ui_closed_in_C") is False
    assert "failed to start" in caplog.text
