"""``main.py check`` run by the Windows CPython as an operator runs it on a café PC (under
Wine in make test-windows; tests/e2e/test_check.py is the same on Linux): against the
check's own embedded simulator, with the real registry, drives, schtasks, sc, SDL's windows
driver and user32. No scheduled task is registered and no watchdog service installed (a
test never changes the machine), so those two lines fail and say how to set them up."""

from __future__ import annotations

import json
import locale
import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from kiosk.check.report import marks_for
from kiosk.media import BUNDLED_BACKGROUND, BUNDLED_VIDEO
from kiosk.platform.autostart import TASK_NAME
from kiosk.platform.process import MAIN_PY
from kiosk.platform.service import SERVICE
from tests.collector import free_port

pytestmark = pytest.mark.win32
CHECK_S = 120  # a cold Windows CPython under Wine loading pygame and OpenCV


def venue_ready(tmp_path: Path, **overrides: object) -> Path:
    """A config set up as a venue PC should be, with media already fetched by a kiosk."""
    files, cache = tmp_path / "server-files", tmp_path / "cache"
    for folder in (files, cache):
        folder.mkdir()
        shutil.copy(BUNDLED_BACKGROUND, folder / "background.png")
        shutil.copy(BUNDLED_VIDEO, folder / "video.mp4")
    config = {
        "server": {"base_url": "embedded", "timeout_s": 5},
        "client": {"id": "370011"},
        # Looked up, never run: cmd.exe is in System32 on every Windows and in Wine.
        "reboot": {"mode": "command", "command": ["cmd", "/c", "exit", "0"]},
        "display": {"fullscreen": True},
        "media": {"cache_dir": str(cache)},
        "log": {"dir": str(tmp_path / "logs")},
        # A port of its own: a kiosk's simulator answering on the default port (another
        # test's, on this machine) would be taken for this PC's running kiosk.
        "simulator": {"files_dir": str(files), "port": free_port("tcp")},
        "maintenance": {"flag_file": str(tmp_path / "maintenance.flag")}, **overrides,
    }
    path = tmp_path / "venue.yaml"
    path.write_text(yaml.safe_dump(config, allow_unicode=True), encoding="utf-8")
    return path


def check(config: Path, *args: str) -> tuple[int, str]:
    """``main.py check``; its output read in the console's code page, as it writes it."""
    env = {name: value for name, value in os.environ.items()
           if name.upper() != "SDL_VIDEODRIVER"}  # other tests set it to dummy in this process
    done = subprocess.run([sys.executable, str(MAIN_PY), "check", "--config", str(config),
                           *args], capture_output=True, text=True, timeout=CHECK_S,
                          stdin=subprocess.DEVNULL, cwd=MAIN_PY.parent, env=env)
    assert "Traceback" not in done.stderr, done.stderr
    return done.returncode, done.stdout


def test_a_windows_pc_set_up_right_passes_every_check_but_the_services_it_was_not_given(
        tmp_path):
    """No test registers the logon task or installs the watchdog service: those two lines
    fail, each saying how to set it up; every other line passes."""
    config = venue_ready(tmp_path)
    code, out = check(config, "--json")
    report = json.loads(out)
    failing = {c["name"]: c for c in report["checks"] if not c["ok"]}
    assert code == 1 and list(failing) == ["autostart", "watchdog"], out
    assert failing["autostart"]["detail"] == f"there is no scheduled task {TASK_NAME}"
    assert failing["autostart"]["fix"].endswith(f"--config {config} (as administrator)")
    assert failing["watchdog"]["detail"] == f"there is no service {SERVICE}"
    assert f"watchdog install --config {config} (as administrator)" in failing["watchdog"]["fix"]
    details = {c["name"]: c["detail"] for c in report["checks"]}
    assert "an embedded simulator of the check's own" in details["status_client"]
    assert details["reboot"].startswith("command: cmd /c exit 0 (")
    assert details["reboot"].lower().endswith("\\system32\\cmd.exe; not run)")
    assert details["maintenance mode"] == "off"  # the real registry has no diskless flags
    drive = tmp_path.drive.upper()
    system = ", the system drive" if drive == os.environ["SYSTEMDRIVE"].upper() else ""
    assert details["log folder"] == (
        f"{tmp_path / 'logs'} is writable, on {drive} (fixed disk{system})")
    assert details["full screen"].startswith("the display answers (SDL windows, screen ")
    assert details["keyboard lock"].startswith("the keyboard hook's functions load (user32 ")
    assert not list((tmp_path / "logs").glob("*.log"))  # the check keeps no log of its own

    code, out = check(config)
    good, bad, _ = marks_for(locale.getpreferredencoding(False))
    lines = out.splitlines()
    assert [line.split(":", 1)[0] for line in lines[:-1]] == [
        f"{bad if c['name'] in failing else good} {c['name']}" for c in report["checks"]]
    assert lines[-1] == f"2 of {len(report['checks'])} checks failed"


def test_maintenance_mode_on_a_windows_pc_is_a_failing_line_naming_the_flag(tmp_path):
    config = venue_ready(tmp_path)
    (tmp_path / "maintenance.flag").touch()
    code, out = check(config, "--json")
    found = {c["name"]: c for c in json.loads(out)["checks"]}["maintenance mode"]
    assert code == 1 and not found["ok"]
    assert found["detail"].startswith(f"on (flag file {tmp_path / 'maintenance.flag'})")


def details(config: Path) -> dict[str, dict]:
    _, out = check(config, "--json")
    return {c["name"]: c for c in json.loads(out)["checks"]}


def test_the_reboot_line_names_windows_own_shutdown_and_does_not_run_it(tmp_path):
    found = details(venue_ready(tmp_path, reboot={"mode": "system"}))["reboot"]
    assert found["ok"] and found["detail"].startswith("system: shutdown /r /t 0 /f (")
    assert found["detail"].lower().endswith("\\system32\\shutdown.exe; not run)")


def test_a_pc_found_by_its_hostname_in_the_mapping_file_without_getmac(tmp_path):
    """The real hostname (and, where getmac is, the MACs: none under Wine) looked up as the
    kiosk looks them up."""
    (tmp_path / "clients.csv").write_text(
        f"hostname,mac,client_id\n{socket.gethostname()},,370042\n", encoding="utf-8")
    config = venue_ready(tmp_path, client={"id": "auto", "map_file": "clients.csv"})
    found = details(config)["client id"]
    assert found["ok"], found
    assert found["detail"] == f"370042 (from clients.csv by hostname {socket.gethostname()})"
