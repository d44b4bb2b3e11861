"""``python main.py check`` run as an operator runs it, on the virtual screen (issue 10):
against the embedded simulator (all ✓), against the simulator's faults, with a bad
config, and beside a running kiosk in a session, which it must leave alone."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from kiosk.media import BUNDLED_BACKGROUND, BUNDLED_VIDEO
from kiosk.simulator import Simulator
from tests.collector import Collector

from .kiosk_run import MAIN_PY, ROOT, base_config, deep_merge
from .test_kiosk import WIDGET, StartKiosk, geometry_is, to_session
from .test_kiosk import kiosk as started_kiosks
from .xscreen import VirtualScreen, wait_until

pytestmark = [pytest.mark.e2e, pytest.mark.linux]  # X11 tools, signals, /proc

kiosk_fixture = started_kiosks  # pytest knows a fixture by the name it is found under
CHECK_S = 60  # a cold Python with pygame and OpenCV on a busy machine, plus the checks


@pytest.fixture
def kiosk(kiosk_fixture: StartKiosk) -> StartKiosk:
    return kiosk_fixture


def server_files(tmp_path: Path) -> Path:
    """The media the simulator serves: the bundled ones, as a venue's server would."""
    files = tmp_path / "server-files"
    files.mkdir(exist_ok=True)
    shutil.copy(BUNDLED_BACKGROUND, files / "background.png")
    shutil.copy(BUNDLED_VIDEO, files / "video.mp4")
    return files


def venue_ready(tmp_path: Path, **overrides: object) -> Path:
    """A config set up as a venue PC should be (reboot command there, no maintenance), with
    the embedded simulator serving media, written next to an autostart made by install."""
    config = deep_merge(base_config(tmp_path), {
        "reboot": {"mode": "command", "command": ["true"]},
        "simulator": {"files_dir": str(server_files(tmp_path))},
        "maintenance": {"flag_file": str(tmp_path / "maintenance.flag")}, **overrides})
    path = tmp_path / "venue.yaml"
    path.write_text(yaml.safe_dump(config, allow_unicode=True), encoding="utf-8")
    return path


def env(tmp_path: Path) -> dict[str, str]:
    return {"XDG_CONFIG_HOME": str(tmp_path / "xdg"), "PYGAME_HIDE_SUPPORT_PROMPT": "1"}


def main_py(screen: VirtualScreen, tmp_path: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(MAIN_PY), *args], env=screen.env(env(tmp_path)),
                          capture_output=True, text=True, timeout=CHECK_S, cwd=ROOT,
                          stdin=subprocess.DEVNULL)


def check(screen: VirtualScreen, tmp_path: Path, config: Path, *args: str,
          ) -> tuple[int, list[str]]:
    done = main_py(screen, tmp_path, "check", "--config", str(config), *args)
    assert "Traceback" not in done.stderr, done.stderr
    return done.returncode, done.stdout.splitlines()


def install(screen: VirtualScreen, tmp_path: Path, config: Path) -> None:
    done = main_py(screen, tmp_path, "install", "--config", str(config))
    assert done.returncode == 0, done.stderr


def all_but_the_watchdog_pass(code: int, lines: list[str]) -> None:
    """Every check passes but the watchdog's: a system service (root's systemd unit) that
    no test installs, since that would change the machine (tests/test_watchdog_service.py
    checks the line over a faked systemctl and sc.exe)."""
    failing = [line for line in lines[:-1] if not line.startswith("✓ ")]
    assert [line.split(":", 1)[0] for line in failing] == ["✗ watchdog"], "\n".join(lines)
    assert code == 1 and lines[-1] == f"1 of {len(lines) - 1} checks failed"


def test_a_pc_set_up_right_passes_every_check_against_the_embedded_simulator(
        screen: VirtualScreen, tmp_path: Path) -> None:
    with Collector(tmp_path / "rsyslog", "tcp") as collector:
        config = venue_ready(tmp_path, log={"remote": collector.url})
        install(screen, tmp_path, config)
        cache = tmp_path / "cache"
        cache.mkdir()
        shutil.copy(BUNDLED_BACKGROUND, cache / "background.png")  # fetched by a kiosk before
        shutil.copy(BUNDLED_VIDEO, cache / "video.mp4")
        code, lines = check(screen, tmp_path, config)
        all_but_the_watchdog_pass(code, lines)
        assert any("an embedded simulator of the check's own" in line for line in lines)
        got = collector.wait_for(lambda m: m.msgid == "check", 10, "no test message")
        assert got.params["clientId"] == "370011"

        code, out = check(screen, tmp_path, config, "--json")
        report = json.loads("\n".join(out))
        assert code == 1 and report["ok"] is False
        assert [c["name"] for c in report["checks"] if not c["ok"]] == ["watchdog"]
        assert [c["name"] for c in report["checks"]] == [
            line[2:].split(":", 1)[0] for line in lines[:-1]]
    assert not list((tmp_path / "logs").glob("*.log"))  # the check keeps no log of its own


@pytest.mark.parametrize(("endpoint", "fault", "failing"), [
    ("status", {"fault": "http", "code": 503}, "✗ status_client: "),
    ("service", {"fault": "garbage"}, "✗ serviceNum: "),
    ("video", {"fault": "garbage"}, "✗ video.mp4: GET /files/video.mp4: the downloaded file "
                                    "does not decode"),
])
def test_a_backend_fault_gives_its_failing_line_and_exit_code_1(
        screen: VirtualScreen, tmp_path: Path, endpoint: str, fault: dict, failing: str) -> None:
    simulator = Simulator(files_dir=server_files(tmp_path))
    url = simulator.start()
    try:
        simulator.faults.configure({"endpoint": endpoint, **fault})
        config = venue_ready(tmp_path, server={"base_url": url, "timeout_s": 1})
        code, lines = check(screen, tmp_path, config)
    finally:
        simulator.stop()
    assert code == 1
    assert [line for line in lines if line.startswith(failing)], "\n".join(lines)
    assert simulator.venue.requests_by_path["/rest/offline"] == 0
    assert simulator.venue.requests_by_path["/rest/clientStatus"] == 0


def test_a_bad_config_is_one_sentence_naming_the_key(screen: VirtualScreen,
                                                     tmp_path: Path) -> None:
    config = tmp_path / "bad.yaml"
    config.write_text("client:\n  id: '1'\nlog:\n  remote: syslog.venue.lan\n", encoding="utf-8")
    code, lines = check(screen, tmp_path, config)
    assert code == 1
    assert lines == ["✗ config: config key log.remote must look like udp://host:514 or "
                     "tcp://host:601, not 'syslog.venue.lan' — fix it, then check again",
                     "1 of 1 checks failed"]


def test_check_beside_a_kiosk_in_a_session_leaves_it_alone(
        screen: VirtualScreen, kiosk: StartKiosk, tmp_path: Path) -> None:
    config = venue_ready(tmp_path)
    k = kiosk(yaml.safe_load(config.read_text(encoding="utf-8")))
    to_session(k, screen)
    for name in ("background.png", "video.mp4"):  # the kiosk's own download at its start
        wait_until(lambda n=name: (tmp_path / "cache" / n).exists(), 30,
                   message=f"the kiosk did not download {name}")
    # The kiosk said at its start where its files are (a restored disk loses them).
    log_dir, cache = k.config["log"]["dir"], k.config["media"]["cache_dir"]
    k.wait_log("kiosk", lambda line: line.startswith(f"disks: logs {log_dir} on /")
               and f"; cache {cache} on /" in line and f"; trace {k.trace_path} on /" in line,
               5, message="no disks line from the guardian")
    install(screen, tmp_path, k.config_path)
    ui, guardian = k.ui_pid(), k.proc.pid if k.proc else 0
    lock = (Path(k.config["log"]["dir"]) / "kiosk.lock").read_text()
    since = k.mark()
    offline = k.client()["offline_calls"]

    code, lines = check(screen, tmp_path, k.config_path)
    all_but_the_watchdog_pass(code, lines)
    assert any("the running kiosk's embedded simulator" in line
               and "a session is running" in line for line in lines), "\n".join(lines)
    # Left alone: same processes and lock, the session runs on in its widget, no page change.
    assert k.ui_pids() == [ui] and k.proc is not None and k.proc.poll() is None
    assert k.proc.pid == guardian
    assert (Path(k.config["log"]["dir"]) / "kiosk.lock").read_text() == lock
    assert k.client()["status"] == 2 and k.client()["offline_calls"] == offline
    assert k.trace()[since:] == []
    geometry_is(k, WIDGET)
