"""The guardian keeps the PC locked: rule 3 reboots in a session, elsewhere the UI comes back."""

from __future__ import annotations

import io
import sys
import textwrap
import time
from pathlib import Path

import pytest

from kiosk import config
from kiosk.guardian import Guardian, Watch, watch
from kiosk.logs import Trace
from kiosk.platform import Rebooter, ui_environment


class FakeRebooter(Rebooter):
    """Records reboots instead of starting anything."""

    def __init__(self, mode: str = "command") -> None:
        super().__init__(mode, ["reboot-now"], Trace(None), spawn=self._record)
        self.reboots: list[tuple[str, float]] = []

    def reboot(self, reason: str) -> bool:
        self.reboots.append((reason, time.monotonic()))
        return True

    def _record(self, argv, **options) -> None:  # pragma: no cover - reboot() is replaced
        raise AssertionError("no real reboot in tests")


@pytest.fixture
def cfg(tmp_path: Path) -> config.Config:
    path = tmp_path / "config.yaml"
    path.write_text("server: {base_url: 'http://127.0.0.1:9'}\nclient: {id: '7'}\n",
                    encoding="utf-8")
    return config.load(path)


def test_watch_remembers_the_last_page_until_the_pipe_closes():
    pipe = io.BytesIO(b"page A\nalive\npage B\ngarbage line\npage C\nalive\n")
    pages: list[str] = []
    seen = watch(pipe, pages.append)
    assert seen == Watch(page="C", quit=False)
    assert pages == ["A", "B", "C"]


def test_watch_sees_a_deliberate_quit():
    assert watch(io.BytesIO(b"page A\nquit\n")).quit


@pytest.mark.parametrize("page", ["C", "D"])
def test_ui_closed_in_a_session_reboots_and_comes_back_locked(cfg, page):
    rebooter = FakeRebooter()
    guardian = Guardian(cfg, "http://127.0.0.1:9", rebooter)
    assert guardian.decide(Watch(page=page))
    assert [r for r, _ in rebooter.reboots] == [f"rule3:ui_closed_in_{page}"]
    assert guardian.ui_argv()[-2:] == ["--rebooting", f"rule3:ui_closed_in_{page}"]


@pytest.mark.parametrize("page", ["boot", "A", "B", "E"])
def test_ui_closed_outside_a_session_is_started_again_without_reboot(cfg, page):
    rebooter = FakeRebooter()
    guardian = Guardian(cfg, "http://127.0.0.1:9", rebooter)
    assert guardian.decide(Watch(page=page))
    assert rebooter.reboots == []
    assert "--rebooting" not in guardian.ui_argv()


def test_ui_closed_while_the_machine_reboots_is_not_rebooted_twice(cfg):
    rebooter = FakeRebooter(mode="system")
    guardian = Guardian(cfg, "http://127.0.0.1:9", rebooter)
    guardian.decide(Watch(page="C"))
    guardian.decide(Watch(page="R"))
    assert len(rebooter.reboots) == 1
    assert "--rebooting" in guardian.ui_argv()  # still locked on 系统重启中


def test_ui_closed_after_its_own_reboot_command_comes_back_locked(cfg):
    rebooter = FakeRebooter(mode="command")
    guardian = Guardian(cfg, "http://127.0.0.1:9", rebooter)
    guardian.decide(Watch(page="R"))  # rule 5, 6 or 7 rebooted from inside the UI
    assert rebooter.reboots == []
    assert "--rebooting" in guardian.ui_argv()


def test_simulated_reboot_page_closing_restarts_the_ui_normally(cfg):
    guardian = Guardian(cfg, "http://127.0.0.1:9", FakeRebooter(mode="simulate"))
    guardian.rebooting = "rule5:onlineStatus=3"
    guardian.decide(Watch(page="R"))
    assert "--rebooting" not in guardian.ui_argv()


def test_quit_from_the_ui_stops_the_guardian(cfg):
    guardian = Guardian(cfg, "http://127.0.0.1:9", FakeRebooter())
    assert not guardian.decide(Watch(page="C", quit=True))


FAKE_UI = textwrap.dedent("""
    import os, sys, pathlib
    runs = pathlib.Path(sys.argv[1])
    n = len(runs.read_text().splitlines()) if runs.exists() else 0
    with runs.open("a") as f:
        f.write(" ".join(sys.argv[2:]) + "\\n")
    out = sys.stdout.buffer
    if n == 0:
        out.write(b"page B\\npage C\\n"); out.flush()
        os._exit(9)          # killed in a session
    out.write(b"page R\\nquit\\n"); out.flush()
""")


def test_guardian_reboots_at_once_when_a_real_ui_process_dies_in_c(cfg, tmp_path, monkeypatch):
    script = tmp_path / "fake_ui.py"
    script.write_text(FAKE_UI, encoding="utf-8")
    runs = tmp_path / "runs.txt"
    rebooter = FakeRebooter()
    guardian = Guardian(cfg, "http://127.0.0.1:9", rebooter)
    monkeypatch.setattr(guardian, "ui_argv", lambda: [sys.executable, str(script), str(runs),
                                                      *(["--rebooting", guardian.rebooting]
                                                        if guardian.rebooting else [])])
    assert guardian.run() == 0
    assert [r for r, _ in rebooter.reboots] == ["rule3:ui_closed_in_C"]
    lines = runs.read_text().splitlines()
    assert lines == ["", "--rebooting rule3:ui_closed_in_C"]


def test_ui_on_linux_gets_allocator_settings_that_return_freed_video_memory():
    env = ui_environment({"PATH": "/usr/bin"}, platform="linux")
    assert env["PATH"] == "/usr/bin"
    assert int(env["MALLOC_MMAP_THRESHOLD_"]) <= 6 * 1024 * 1024  # below one 1080p frame
    assert env["MALLOC_ARENA_MAX"] == "2"


def test_operators_own_allocator_settings_and_other_platforms_are_left_alone():
    assert ui_environment({"MALLOC_ARENA_MAX": "8"}, platform="linux")["MALLOC_ARENA_MAX"] == "8"
    assert ui_environment({"PATH": "C:\\\\Windows"}, platform="win32") == {"PATH": "C:\\\\Windows"}
