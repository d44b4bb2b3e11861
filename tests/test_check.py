"""``main.py check`` (kiosk/check/): each check against the real simulator and its faults,
the real file system and a real rsyslog; Windows branches with fakes; the lines and JSON.

The end-to-end runs of the command itself (a kiosk running beside it) are in
tests/e2e/test_check.py.
"""

from __future__ import annotations

import json
import re
import shutil
import tempfile
import threading
from pathlib import Path

import pytest
import yaml

from kiosk import config
from kiosk.check import checks, command
from kiosk.check.checks import CHECKS, Context, Display
from kiosk.check.report import MARKS, PLAIN, Found, Result, as_json, exit_code, lines, marks_for
from kiosk.identity import Identity, Machine, Unregistered
from kiosk.media import BUNDLED_BACKGROUND, BUNDLED_VIDEO
from kiosk.simulator import Simulator
from tests.collector import Collector, free_port

CALLS = ("status_client", "clientStatus", "offline", "serviceNum", "background.png",
         "video.mp4")


# --- the lines and the JSON, pure -------------------------------------------------------


def test_each_check_is_one_line_with_what_to_do_when_it_fails():
    results = [Result("reboot", True, "system: shutdown /r /t 0 /f (not run)"),
               Result("autostart", False, "there is no scheduled task ScanKiosk",
                      "kiosk-console.exe install")]
    assert lines(results) == ["✓ reboot: system: shutdown /r /t 0 /f (not run)",
                              "✗ autostart: there is no scheduled task ScanKiosk — "
                              "kiosk-console.exe install",
                              "1 of 2 checks failed"]
    assert lines(results[:1], PLAIN) == ["[ok] reboot: system: shutdown /r /t 0 /f (not run)",
                                         "all 1 checks passed"]
    assert exit_code(results) == 1 and exit_code(results[:1]) == 0 and exit_code([]) == 1


@pytest.mark.parametrize(("encoding", "marks"), [
    ("utf-8", MARKS), ("gb18030", MARKS), ("gbk", PLAIN), ("cp1252", PLAIN), (None, PLAIN),
    ("no-such-codec", PLAIN)])
def test_a_console_that_cannot_show_the_marks_gets_plain_ones(encoding, marks):
    assert marks_for(encoding) == marks


def test_json_is_ascii_and_says_everything_the_lines_say():
    results = [Result("reboot", True, "simulate (a demo: only 系统重启中 shows)"),
               Result("autostart", False, "none", "install")]
    text = as_json(results)
    assert text.isascii()
    data = json.loads(text)
    assert data["ok"] is False and data["summary"] == "1 of 2 checks failed"
    assert data["checks"][0] == {"name": "reboot", "ok": True, "fix": "",
                                 "detail": "simulate (a demo: only 系统重启中 shows)"}


def test_a_check_that_fails_or_never_answers_becomes_its_own_line(tmp_path):
    stuck = threading.Event()

    def broken(ctx):
        raise KeyError("oops")

    def hangs(ctx):
        stuck.wait(30)

    ctx = context(tmp_path, cfg_for(tmp_path, "http://127.0.0.1:9"))
    try:
        results = command.run([("fine", lambda c: Found(True, "yes")), ("broken", broken),
                               ("hangs", hangs), ("not here", lambda c: None)], ctx, 0.5)
    finally:
        stuck.set()
    assert [(r.name, r.ok) for r in results] == [("fine", True), ("broken", False),
                                                  ("hangs", False)]
    assert "KeyError" in results[1].detail and results[2].detail == "no answer within 0.5 s"


# --- against the simulator and its faults ------------------------------------------------


def cfg_for(folder: Path, url: str, **sections: dict) -> config.Config:
    data = {"server": {"base_url": url, "timeout_s": 1}, "client": {"id": "370011"},
            "reboot": {"mode": "system"}, "log": {"dir": str(folder / "logs")},
            "media": {"cache_dir": str(folder / "cache")},
            "maintenance": {"flag_file": str(folder / "maintenance.flag")}}
    for name, values in sections.items():
        data.setdefault(name, {}).update(values)
    path = folder / "config.yaml"
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    return config.load(path)


def context(folder: Path, cfg: config.Config, **fields) -> Context:
    scratch = Path(tempfile.mkdtemp(dir=folder))  # as the command's: empty each time
    found = fields.pop("found", Identity(cfg.client_id, "config.yaml"))
    return Context(cfg, found, fields.pop("url", cfg.base_url), folder=scratch, **fields)


def by_name(ctx: Context, names: tuple[str, ...] = CALLS) -> dict[str, Result]:
    results = command.run([c for c in CHECKS if c[0] in names], ctx, 20)
    return {r.name: r for r in results}


@pytest.fixture
def venue(tmp_path: Path):
    """The simulator as the venue backend, serving the bundled media as the server's."""
    files = tmp_path / "server-files"
    files.mkdir()
    shutil.copy(BUNDLED_BACKGROUND, files / "background.png")
    shutil.copy(BUNDLED_VIDEO, files / "video.mp4")
    simulator = Simulator(files_dir=files)
    simulator.start()
    yield simulator
    simulator.stop()


def test_a_backend_that_answers_well_passes_every_call_and_nothing_changes_on_it(
        tmp_path, venue):
    ctx = context(tmp_path, cfg_for(tmp_path, venue.base_url))
    results = by_name(ctx)
    assert all(r.ok for r in results.values()), results
    assert "answers for client 370011: no session" in results["status_client"].detail
    assert "not sent by the check" in results["offline"].detail
    assert results["serviceNum"].detail == "service number 13738196887"
    assert results["video.mp4"].detail.endswith("bytes, it decodes")
    requests = venue.venue.requests_by_path
    assert requests["/rest/offline"] == requests["/rest/clientStatus"] == 0
    assert requests["/rest/status_client"] == 1


FAULTS = [
    *[("status", {"fault": name}, ("status_client", "clientStatus", "offline"))
      for name in ("http", "html", "drop", "reset", "truncated", "huge", "garbage",
                   "bad_utf8", "wrong_types")],
    ("status", {"fault": "stall", "seconds": 3}, ("status_client", "clientStatus", "offline")),
    ("status", {"fault": "trickle", "seconds": 3},
     ("status_client", "clientStatus", "offline")),
    # Understood answers that say this PC is not set up: the server is reached all the same.
    ("status", {"fault": "foreign"}, ("status_client",)),
    ("status", {"fault": "data0"}, ("status_client",)),
    *[("service", {"fault": name}, ("serviceNum",))
      for name in ("http", "reset", "garbage", "wrong_types", "data0")],
    *[("background", {"fault": name}, ("background.png",))
      for name in ("http", "html", "drop", "truncated", "garbage")],
    ("background", {"fault": "stall", "seconds": 3}, ("background.png",)),
    *[("video", {"fault": name}, ("video.mp4",)) for name in ("http", "reset", "garbage")],
    ("video", {"fault": "huge", "bytes": 2_000_000}, ("video.mp4",)),
]


@pytest.mark.parametrize(("endpoint", "fault", "failing"), FAULTS,
                         ids=[f"{e}-{f['fault']}" for e, f, _ in FAULTS])
def test_each_fault_of_the_backend_gives_its_failing_line(tmp_path, venue, endpoint, fault,
                                                         failing):
    venue.faults.configure({"endpoint": endpoint, **fault})
    results = by_name(context(tmp_path, cfg_for(tmp_path, venue.base_url)))
    assert {name for name, r in results.items() if not r.ok} == set(failing), results
    assert all(results[name].fix for name in failing)
    assert exit_code(list(results.values())) == 1


def test_a_backend_that_is_down_fails_every_call_it_would_answer(tmp_path):
    results = by_name(context(tmp_path, cfg_for(tmp_path, f"http://127.0.0.1:{free_port('tcp')}")))
    assert not any(r.ok for r in results.values()), results
    assert "connection" in results["status_client"].detail


# --- this PC -----------------------------------------------------------------------------


def test_an_unregistered_pc_is_told_the_line_to_add(tmp_path, venue):
    cfg = cfg_for(tmp_path, venue.base_url)
    machine = Unregistered(Machine("PC-77", ("52:54:00:aa:bb:77",)), tmp_path / "clients.csv")
    results = by_name(context(tmp_path, cfg, found=machine), ("client id", "status_client"))
    assert results["client id"].fix == "add the line PC-77,52:54:00:aa:bb:77,<id> to clients.csv"
    assert not results["status_client"].ok and venue.venue.requests_by_path == {}
    broken = by_name(context(tmp_path, cfg, found=config.ConfigError(
        "client map file x line 3 has an empty client_id.")), ("client id",))
    assert broken["client id"].detail == "client map file x line 3 has an empty client_id"


def test_media_shown_is_the_servers_once_downloaded_and_decodes(tmp_path, venue):
    cfg = cfg_for(tmp_path, venue.base_url)
    shown = ("background shown", "standby video")

    def look() -> dict[str, Result]:
        return by_name(context(tmp_path, cfg), shown)

    first = look()
    assert not any(r.ok for r in first.values())
    assert "not downloaded yet" in first["standby video"].detail
    cfg.cache_dir.mkdir()
    shutil.copy(BUNDLED_BACKGROUND, cfg.cache_dir / "background.png")
    shutil.copy(BUNDLED_VIDEO, cfg.cache_dir / "video.mp4")
    assert all(r.ok and "the server's current one" in r.detail for r in look().values())
    (cfg.cache_dir / "video.mp4").write_bytes(b"not a video" * 100)
    assert look()["standby video"].detail.endswith("video.mp4 does not decode")
    shutil.copy(BUNDLED_VIDEO, cfg.cache_dir / "video.mp4")
    (venue.files_dir / "video.mp4").write_bytes(BUNDLED_VIDEO.read_bytes() + b"\0" * 64)
    assert "older than the server's" in look()["standby video"].detail


@pytest.mark.parametrize(("sections", "platform", "found", "ok"), [
    ({"reboot": {"mode": "simulate"}}, "linux", {}, False),
    ({"reboot": {"mode": "command", "command": ["/opt/reboot-now"]}}, "linux", {}, False),
    ({"reboot": {"mode": "command", "command": ["/opt/reboot-now"]}}, "linux",
     {"/opt/reboot-now": "/opt/reboot-now"}, True),
    ({"reboot": {"mode": "system"}}, "win32", {"shutdown": r"C:\Windows\System32\shutdown.exe"},
     True),
    ({"reboot": {"mode": "system"}}, "win32", {}, False),
    ({"reboot": {"mode": "system"}}, "linux", {"shutdown": "/sbin/shutdown"}, True),
])
def test_the_reboot_command_is_looked_for_and_never_run(tmp_path, sections, platform, found,
                                                       ok):
    cfg = cfg_for(tmp_path, "http://127.0.0.1:9", **sections)
    ctx = context(tmp_path, cfg, platform=platform, which=found.get)
    result = checks.reboot(ctx)
    assert result.ok is ok, result
    assert "not run" in result.detail if ok else result.fix


def test_a_demo_against_the_embedded_simulator_may_simulate_and_run_in_a_window(tmp_path):
    cfg = cfg_for(tmp_path, "embedded", reboot={"mode": "simulate"},
                  display={"fullscreen": False})
    ctx = context(tmp_path, cfg, url="http://127.0.0.1:9")
    ctx._memo["display"] = Display("x11", (1920, 1080))
    assert checks.reboot(ctx).ok and checks.full_screen(ctx).ok
    venue_cfg = cfg_for(tmp_path, "http://127.0.0.1:9", display={"fullscreen": False})
    venue_ctx = context(tmp_path, venue_cfg)
    venue_ctx._memo["display"] = Display("x11", (1920, 1080))
    assert "display.fullscreen is false" in checks.full_screen(venue_ctx).detail


def test_maintenance_mode_on_fails_and_says_why(tmp_path):
    cfg = cfg_for(tmp_path, "http://127.0.0.1:9")
    assert checks.maintenance(context(tmp_path, cfg)).detail == "off"
    cfg.guard.maintenance_flag_file.touch()
    result = checks.maintenance(context(tmp_path, cfg))
    assert not result.ok and str(cfg.guard.maintenance_flag_file) in result.detail


def test_folders_must_be_writable_and_their_disk_is_named(tmp_path):
    cfg = cfg_for(tmp_path, "http://127.0.0.1:9", log={"trace": str(tmp_path / "t" / "x.jsonl")})
    results = by_name(context(tmp_path, cfg), ("log folder", "cache folder", "trace folder"))
    disk = tmp_path.drive or "/"  # C: on Windows
    assert all(r.ok and f" on {disk}" in r.detail for r in results.values()), results
    assert list(cfg.log_dir.iterdir()) == []  # it leaves nothing behind
    blocked = tmp_path / "blocked"
    blocked.write_text("a file where the folder should be")
    cfg = cfg_for(tmp_path, "http://127.0.0.1:9", media={"cache_dir": str(blocked / "cache")})
    result = by_name(context(tmp_path, cfg), ("cache folder",))["cache folder"]
    assert not result.ok and result.fix == "set media.cache_dir to a folder this account can write"
    assert "trace folder" not in by_name(context(tmp_path, cfg), ("trace folder",))


@pytest.mark.linux  # a real rsyslogd
@pytest.mark.parametrize("protocol", ["udp", "tcp"])
def test_the_collector_gets_a_test_message_or_the_line_says_why_not(tmp_path, protocol):
    with Collector(tmp_path / "rsyslog", protocol) as collector:
        cfg = cfg_for(tmp_path, "http://127.0.0.1:9", log={"remote": collector.url})
        result = checks.remote_log(context(tmp_path, cfg))
        assert result.ok, result
        got = collector.wait_for(lambda m: m.msgid == "check", 10)
        assert got.params["clientId"] == "370011"
    cfg = cfg_for(tmp_path, "http://127.0.0.1:9", log={"remote": collector.url})
    down = checks.remote_log(context(tmp_path, cfg))  # the same port, nothing listening
    assert not down.ok and "refused" in down.detail


def test_the_remote_log_off_passes(tmp_path):
    assert checks.remote_log(context(tmp_path, cfg_for(tmp_path, "http://127.0.0.1:9"))) == (
        Found(True, "off (log.remote is not set)"))


class Win32:
    """user32 and kernel32 as ctypes would load them, with only the names declare() sets."""

    def __init__(self) -> None:
        self.SetWindowsHookExW = self.UnhookWindowsHookEx = self.CallNextHookEx = self
        self.GetMessageW = self.PeekMessageW = self.PostThreadMessageW = self
        self.GetAsyncKeyState = self.GetModuleHandleW = self.GetCurrentThreadId = self
        self.GetTickCount = self


def test_keyboard_lock_on_windows_loads_the_hooks_functions_without_installing_one(tmp_path):
    cfg = cfg_for(tmp_path, "http://127.0.0.1:9")

    def fails():
        raise OSError("user32.dll not found")

    ok = context(tmp_path, cfg, platform="win32", load_win32=lambda: (Win32(), Win32()))
    ok._memo["display"] = Display("windows", (1920, 1080))
    assert checks.keyboard_lock(ok).ok
    broken = context(tmp_path, cfg, platform="win32", load_win32=fails)
    broken._memo["display"] = Display("windows", (1920, 1080))
    result = checks.keyboard_lock(broken)
    assert not result.ok and "user32.dll not found" in result.detail


@pytest.mark.parametrize("display", [Display(problem="x11 not available"),
                                     Display("offscreen", (1024, 768))])
def test_without_a_real_display_neither_full_screen_nor_the_keyboard_lock_pass(tmp_path,
                                                                              display):
    ctx = context(tmp_path, cfg_for(tmp_path, "http://127.0.0.1:9"))
    ctx._memo["display"] = display
    assert not checks.full_screen(ctx).ok and not checks.keyboard_lock(ctx).ok


# --- the command, in this process ---------------------------------------------------------


def test_a_bad_config_is_one_failing_line_with_the_sentence(tmp_path, capsys):
    path = tmp_path / "config.yaml"
    path.write_text("client: {id: '1'}\ntimers: {scan_poll_s: -1}\n", encoding="utf-8")
    assert command.main(["--config", str(path)], default_config=path) == 1
    out = capsys.readouterr().out.splitlines()
    assert out == ["✗ config: config key timers.scan_poll_s must be greater than 0, not -1 — "
                   "fix it, then check again", "1 of 1 checks failed"]


def test_an_unknown_key_fails_the_config_line(tmp_path, venue, capsys):
    cfg_for(tmp_path, venue.base_url)
    path = tmp_path / "config.yaml"
    path.write_text(path.read_text(encoding="utf-8") + "timer:\n  scan_idle_s: 5\n",
                    encoding="utf-8")
    command.main(["--config", str(path), "--json"], default_config=path)
    first = json.loads(capsys.readouterr().out)["checks"][0]
    assert first["name"] == "config" and first["ok"] is False
    assert "config key timer is not one this program knows" in first["detail"]


# --- TLS: how each base URL is trusted -----------------------------------------------------

TLS = ("TLS base_url", "TLS files_base_url")


def test_a_plain_http_backend_has_no_tls_to_trust_and_files_from_it_add_no_line(tmp_path, venue):
    results = by_name(context(tmp_path, cfg_for(tmp_path, venue.base_url)), TLS)
    assert list(results) == ["TLS base_url"]
    assert results["TLS base_url"].ok
    assert results["TLS base_url"].detail == f"{venue.base_url}: plain http, no TLS"


def test_a_self_signed_backend_fails_with_the_line_to_add_and_passes_once_it_is_added(
        tmp_path, venue):
    from tests.certs import https_simulator, make

    files = https_simulator(make(tmp_path / "certs", "files"))
    try:
        cfg = cfg_for(tmp_path, venue.base_url, server={"files_base_url": files.base_url})
        refused = by_name(context(tmp_path, cfg), TLS)["TLS files_base_url"]
        assert not refused.ok and "TLS REFUSED" in refused.detail
        line = re.search(r'cert_sha256: "[0-9A-F:]{95}"', refused.detail)
        assert line and "fingerprint" in refused.fix
        trusted = cfg_for(tmp_path, venue.base_url, server={
            "files_base_url": files.base_url, "cert_sha256": line.group(0).split('"')[1]})
        result = by_name(context(tmp_path, trusted), TLS)["TLS files_base_url"]
        assert result.ok and "pinned by server.cert_sha256" in result.detail
        assert "certificate CN=127.0.0.1" in result.detail
    finally:
        files.stop()


def test_a_tls_backend_that_is_down_says_to_check_the_key(tmp_path):
    port = free_port("tcp")
    cfg = cfg_for(tmp_path, f"https://127.0.0.1:{port}")
    result = by_name(context(tmp_path, cfg), TLS)["TLS base_url"]
    assert not result.ok and "not reachable" in result.detail
    assert result.fix == "check server.base_url and that this PC reaches it"


def test_the_watchdog_line_says_whether_the_service_is_installed_and_running(tmp_path):
    import subprocess

    cfg = cfg_for(tmp_path, "http://127.0.0.1:9")

    def sc(state: bytes, code: int = 0):
        return lambda argv: subprocess.CompletedProcess(argv, code, state, b"")

    running = checks.watchdog(context(tmp_path, cfg, platform="win32",
                                      run=sc(b"  STATE              : 4  RUNNING\r\n")))
    assert running.ok and running.detail == "service KioskWatchdog is RUNNING"
    stopped = checks.watchdog(context(tmp_path, cfg, platform="win32",
                                      run=sc(b"  STATE              : 1  STOPPED\r\n")))
    assert not stopped.ok and "watchdog install" in stopped.fix and "administrator" in stopped.fix
    missing = checks.watchdog(context(tmp_path, cfg, platform="win32", run=sc(b"", 1060)))
    assert not missing.ok and missing.detail == "there is no service KioskWatchdog"
