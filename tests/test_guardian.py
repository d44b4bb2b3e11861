"""The guardian keeps the PC locked: rule 3 reboots in a session, elsewhere the UI comes back."""

from __future__ import annotations

import dataclasses
import io
import os
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest

from kiosk import config
from kiosk.guardian import (
    ALREADY_RUNNING,
    TURN_S,
    Guardian,
    Heartbeat,
    LifeLine,
    Watch,
    pipe_sender,
    watch,
)
from kiosk.guardian import run as guardian_run
from kiosk.logs import Trace
from kiosk.platform import InstanceLock, Maintenance, Outcome, Rebooter, ui_environment


class FakeRebooter(Rebooter):
    """Records reboots instead of starting anything; answers with ``outcome``."""

    def __init__(self, mode: str = "command", outcome: Outcome | None = None) -> None:
        super().__init__(mode, ["reboot-now"], Trace(None), spawn=self._record)
        self.reboots: list[tuple[str, float]] = []
        self.outcome = outcome or (Outcome.SIMULATED if mode == "simulate" else Outcome.STARTED)

    def reboot(self, reason: str) -> Outcome:
        self.reboots.append((reason, time.monotonic()))
        return self.outcome

    def _record(self, argv, **options) -> None:  # pragma: no cover - reboot() is replaced
        raise AssertionError("no real reboot in tests")


@pytest.fixture
def cfg(tmp_path: Path) -> config.Config:
    path = tmp_path / "config.yaml"
    path.write_text("server: {base_url: 'http://127.0.0.1:9'}\nclient: {id: '7'}\n",
                    encoding="utf-8")
    return config.load(path)


@pytest.mark.parametrize(("display", "window"), [
    ("{fullscreen: true}", "full"), ("{fullscreen: false, window_size: [1280, 720]}", "1280x720"),
])
def test_the_ui_is_told_its_window_so_it_can_cover_the_screen_first(tmp_path, display, window):
    path = tmp_path / "config.yaml"
    path.write_text(f"server: {{base_url: 'http://127.0.0.1:9'}}\nclient: {{id: '7'}}\n"
                    f"display: {display}\n", encoding="utf-8")
    argv = Guardian(config.load(path), "http://127.0.0.1:9", FakeRebooter()).ui_argv()
    assert argv[argv.index("--window") + 1] == window


def test_watch_remembers_the_last_page_until_the_pipe_closes():
    pipe = io.BytesIO(b"page A\nalive\npage B\ngarbage line\npage C\nalive\n")
    pages: list[str] = []
    seen = watch(pipe, pages.append)
    assert seen == Watch(page="C", quit=False)
    assert pages == ["A", "B", "C"]


def test_watch_sees_a_deliberate_quit():
    assert watch(io.BytesIO(b"page A\nquit\n")).quit


def test_a_restarted_ui_is_told_where_the_widget_was_for_as_long_as_the_guardian_lives(cfg):
    seen = watch(io.BytesIO(b"page C\nwidget abc:1:2:0\nwidget abc:-5:40:1\nwidget\n"))
    assert seen.widget == "abc:-5:40:1"  # the last one; a line without a place is ignored
    guardian = Guardian(cfg, "http://127.0.0.1:9", FakeRebooter())
    assert "--widget" not in guardian.ui_argv()
    guardian.decide(seen)
    argv = guardian.ui_argv()
    assert argv[argv.index("--widget") + 1] == "abc:-5:40:1"
    guardian.decide(Watch(page="C"))  # the next UI said nothing new: the place stays
    argv = guardian.ui_argv()
    assert argv[argv.index("--widget") + 1] == "abc:-5:40:1"


@pytest.mark.parametrize("page", ["C", "D"])
def test_ui_closed_in_a_session_reboots_and_comes_back_locked(cfg, page):
    rebooter = FakeRebooter()
    guardian = Guardian(cfg, "http://127.0.0.1:9", rebooter)
    assert guardian.decide(Watch(page=page))
    assert [r for r, _ in rebooter.reboots] == [f"rule3:ui_closed_in_{page}"]
    assert guardian.ui_argv()[-4:] == ["--rebooting", f"rule3:ui_closed_in_{page}",
                                       "--reboot-outcome", "started"]


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
    guardian.decide(Watch(page="R", reboot="started"))  # rule 5, 6 or 7 from inside the UI
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


def test_each_ui_that_ends_has_its_left_accessibility_hotkeys_given_back(cfg, tmp_path,
                                                                         monkeypatch):
    """A UI killed on a locked page could not give the hotkeys back: the guardian does,
    before it starts the next (kiosk/platform/accessibility.py)."""
    from kiosk.platform import accessibility

    script = tmp_path / "fake_ui.py"
    script.write_text(FAKE_UI, encoding="utf-8")
    folders: list[object] = []
    monkeypatch.setattr(accessibility, "recover_left_behind", folders.append)
    guardian = Guardian(cfg, "http://127.0.0.1:9", FakeRebooter())
    monkeypatch.setattr(guardian, "ui_argv", lambda: [sys.executable, str(script),
                                                      str(tmp_path / "runs.txt")])
    assert guardian.run() == 0
    assert folders == [cfg.log_dir, cfg.log_dir]  # the killed UI, then the one that quit


# --- hangs: no life sign for guardian.hang_s counts as closed -------------------------


class Feed:
    """The UI's end of a real pipe, written on a schedule by a thread."""

    def __init__(self) -> None:
        read_fd, self.write_fd = os.pipe()
        self.reader = os.fdopen(read_fd, "rb")

    def play(self, lines: list[tuple[float, bytes]], close: bool = True) -> None:
        """Write each line after its delay; then close the pipe (or leave it open, silent)."""

        def run() -> None:
            for delay, line in lines:
                time.sleep(delay)
                os.write(self.write_fd, line)
            if close:
                os.close(self.write_fd)

        threading.Thread(target=run, daemon=True).start()


def test_watch_calls_a_silent_ui_hung_and_keeps_its_last_page():
    feed = Feed()
    os.write(feed.write_fd, b"page B\npage C\nalive\n")  # then silent, the pipe open
    seen = watch(feed.reader, hang_s=0.3, start_grace_s=0.3)
    assert seen == Watch(page="C", hung=True)


def test_watch_is_patient_while_life_signs_keep_coming():
    feed = Feed()
    feed.play([(0, b"page A\n"), *[(0.1, b"alive\n")] * 8])  # 0.8 s of signs, 0.1 s apart
    seen = watch(feed.reader, hang_s=2, start_grace_s=2)  # far more than a busy machine's delay
    assert seen == Watch(page="A", hung=False)


def test_watch_gives_a_slow_start_the_grace_period_before_the_first_sign():
    feed = Feed()
    feed.play([(0.5, b"page A\n")])  # a cold start longer than hang_s
    assert watch(feed.reader, hang_s=0.2, start_grace_s=3).hung is False

    feed = Feed()
    feed.play([], close=False)  # never a sign: hung once the grace is over
    assert watch(feed.reader, hang_s=0.2, start_grace_s=0.4).hung is True


def test_watch_hang_clock_is_the_injected_one():
    ticks = iter([0.0, 0.0, 0.0])  # then time jumps past hang_s after the first line
    feed = Feed()
    os.write(feed.write_fd, b"page A\n")
    seen = watch(feed.reader, hang_s=10, start_grace_s=10, clock=lambda: next(ticks, 100.0))
    assert seen.hung and seen.page == "A"


def test_watch_reads_the_outcome_of_the_uis_own_reboot():
    assert watch(io.BytesIO(b"page C\npage R\nreboot skipped\n")).reboot == "skipped"


@pytest.mark.parametrize("page", ["C", "D"])
def test_ui_hung_in_a_session_reboots_like_a_closed_one(cfg, page):
    rebooter = FakeRebooter()
    guardian = Guardian(cfg, "http://127.0.0.1:9", rebooter)
    assert guardian.decide(Watch(page=page, hung=True))
    assert [r for r, _ in rebooter.reboots] == [f"rule3:ui_hung_in_{page}"]
    assert "--rebooting" in guardian.ui_argv()


def test_ui_hung_outside_a_session_is_started_again_without_reboot(cfg):
    rebooter = FakeRebooter()
    guardian = Guardian(cfg, "http://127.0.0.1:9", rebooter)
    assert guardian.decide(Watch(page="A", hung=True))
    assert rebooter.reboots == [] and "--rebooting" not in guardian.ui_argv()


SILENT_UI = textwrap.dedent("""
    import os, sys, time, pathlib
    runs = pathlib.Path(sys.argv[1])
    n = len(runs.read_text().splitlines()) if runs.exists() else 0
    with runs.open("a") as f:
        f.write(" ".join(sys.argv[2:]) + "\\n")
    out = sys.stdout.buffer
    if n == 0:
        out.write(b"page C\\n"); out.flush()
        time.sleep(60)       # stuck: never another life sign
    out.write(b"quit\\n"); out.flush()
""")


def test_guardian_kills_a_ui_that_stops_signing_life_in_c_and_reboots(cfg, tmp_path,
                                                                       monkeypatch):
    script = tmp_path / "silent_ui.py"
    script.write_text(SILENT_UI, encoding="utf-8")
    runs = tmp_path / "runs.txt"
    cfg = dataclasses.replace(cfg, guard=dataclasses.replace(cfg.guard, hang_s=0.5))
    rebooter = FakeRebooter()
    guardian = Guardian(cfg, "http://127.0.0.1:9", rebooter)
    monkeypatch.setattr(guardian, "ui_argv", lambda: [sys.executable, str(script), str(runs),
                                                      *(["--rebooting", guardian.rebooting]
                                                        if guardian.rebooting else [])])
    started = time.monotonic()
    assert guardian.run() == 0
    assert time.monotonic() - started < 30, "the stuck UI was not killed"
    assert [r for r, _ in rebooter.reboots] == ["rule3:ui_hung_in_C"]
    assert runs.read_text().splitlines() == ["", "--rebooting rule3:ui_hung_in_C"]


# --- the outcome of a reboot decides how the next UI starts ------------------------


def test_maintenance_mode_restarts_the_ui_to_start_over_instead_of_locking(cfg):
    guardian = Guardian(cfg, "http://127.0.0.1:9", FakeRebooter(outcome=Outcome.SKIPPED))
    guardian.decide(Watch(page="C"))
    assert guardian.ui_argv()[-2:] == ["--reboot-outcome", "skipped"]
    guardian.decide(Watch(page="R"))  # closed again during that short 系统重启中
    assert "--rebooting" not in guardian.ui_argv()


def test_failed_rule3_reboot_starts_the_ui_on_contact_staff_page(cfg):
    rebooter = FakeRebooter()
    guardian = Guardian(cfg, "http://127.0.0.1:9", rebooter)
    guardian.decide(Watch(page="C"))
    rebooter.on_failed("rule3:ui_closed_in_C")  # the Rebooter's thread gives up
    assert guardian.ui_argv()[-4:] == ["--rebooting", "rule3:ui_closed_in_C",
                                       "--reboot-outcome", "failed"]
    guardian.decide(Watch(page="X"))  # killed on 请联系网管: back on it, no second reboot
    assert guardian.ui_argv()[-2:] == ["--reboot-outcome", "failed"]
    assert len(rebooter.reboots) == 1


def test_failed_reboot_is_told_to_the_ui_already_running(cfg):
    rebooter = FakeRebooter()
    guardian = Guardian(cfg, "http://127.0.0.1:9", rebooter)
    child = subprocess.Popen([sys.executable, "-c", "import sys; print(sys.stdin.readline())"],
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    guardian.child = child
    rebooter.on_failed("rule3:ui_closed_in_D")
    out, _ = child.communicate(timeout=10)
    assert out.strip() == b"reboot_failed"


@pytest.mark.parametrize(("told", "locked"), [("started", True), ("skipped", False),
                                              ("simulated", False)])
def test_ui_closed_on_its_own_reboot_page_is_locked_only_if_the_reboot_is_real(
        cfg, told, locked):
    guardian = Guardian(cfg, "http://127.0.0.1:9", FakeRebooter())
    guardian.decide(Watch(page="R", reboot=told))
    assert ("--rebooting" in guardian.ui_argv()) is locked


def test_ui_closed_on_reboot_page_before_saying_how_it_went_in_maintenance_starts_over(
        cfg, tmp_path):
    flag = tmp_path / "maintenance.flag"
    flag.touch()
    rebooter = FakeRebooter()
    rebooter.maintenance = Maintenance(flag, [])
    guardian = Guardian(cfg, "http://127.0.0.1:9", rebooter)
    guardian.decide(Watch(page="R"))
    assert "--rebooting" not in guardian.ui_argv()


# --- one kiosk per PC ---------------------------------------------------------------


def test_second_start_says_the_kiosk_runs_already_and_exits(cfg, caplog, monkeypatch):
    held = InstanceLock(cfg.guard.lock_file)
    assert held.acquire()
    monkeypatch.setattr(Guardian, "run", lambda self: pytest.fail("a second kiosk started"))
    assert guardian_run(cfg) == ALREADY_RUNNING
    assert [r.getMessage() for r in caplog.records] == [
        f"the kiosk is already running (pid {os.getpid()})."]


def test_ui_on_linux_gets_allocator_settings_that_return_freed_video_memory():
    env = ui_environment({"PATH": "/usr/bin"}, platform="linux")
    assert env["PATH"] == "/usr/bin"
    assert int(env["MALLOC_MMAP_THRESHOLD_"]) <= 6 * 1024 * 1024  # below one 1080p frame
    assert env["MALLOC_ARENA_MAX"] == "2"


def test_operators_own_allocator_settings_and_other_platforms_are_left_alone():
    assert ui_environment({"MALLOC_ARENA_MAX": "8"}, platform="linux")["MALLOC_ARENA_MAX"] == "8"
    assert ui_environment({"PATH": "C:\\\\Windows"}, platform="win32") == {"PATH": "C:\\\\Windows"}


def test_the_watch_loop_turns_while_the_ui_is_silent():
    feed = Feed()
    feed.play([(0.0, b"page A\n")], close=False)
    turns: list[float] = []
    started = time.monotonic()
    watch(feed.reader, hang_s=4, start_grace_s=4, on_turn=lambda: turns.append(
        time.monotonic() - started))
    gaps = [b - a for a, b in zip([0.0, *turns], turns, strict=False)]
    # a loop waiting on the pipe alone would turn once, after hang_s; a busy machine
    # may delay a turn by a second, never by the four
    assert len(turns) >= 3 and max(gaps) <= TURN_S + 1.5


def test_heartbeat_goes_silent_when_the_guardians_loop_stops_turning():
    feed = Feed()  # here the guardian's end: the UI reads what the heartbeat writes
    out = os.fdopen(feed.write_fd, "wb")
    beating = Heartbeat(pipe_sender(out), period_s=0.05).start()
    signs = LifeLine(feed.reader, hang_s=1.5, start_grace_s=1.5)
    threading.Timer(5, out.close).start()  # a heartbeat that never stops ends here, not hung
    turning = threading.Event()

    def loop() -> None:  # the guardian's watch loop, turning for 1 s, then stuck
        end = time.monotonic() + 1.0
        while time.monotonic() < end:
            beating.turn()
            time.sleep(0.02)
        turning.set()

    threading.Thread(target=loop, daemon=True).start()
    lines = list(signs)  # ends when no sign came for hang_s
    assert turning.is_set() and signs.hung
    assert len(lines) >= 3 and set(lines) == {b"alive\n"}
    beating.stop()


def test_heartbeat_gives_its_first_sign_at_once():
    feed = Feed()
    out = os.fdopen(feed.write_fd, "wb")
    beating = Heartbeat(pipe_sender(out), period_s=60.0).start()  # no second beat here
    signs = LifeLine(feed.reader, hang_s=5, start_grace_s=5)
    started = time.monotonic()
    assert next(iter(signs)) == b"alive\n"
    assert time.monotonic() - started < 5  # not the 60 s period, not the grace
    beating.stop()
    out.close()


@pytest.mark.parametrize(("outcome", "page_args"), [
    ("started", ["--rebooting", "rule3:killed_all", "--reboot-outcome", "started"]),
    ("failed", ["--rebooting", "rule3:killed_all", "--reboot-outcome", "failed"])])
def test_a_guardian_started_by_the_watchdog_after_its_reboot_starts_the_ui_locked_on_it(
        cfg, monkeypatch, outcome, page_args):
    seen: list[list[str]] = []
    monkeypatch.setattr(Guardian, "run", lambda self: seen.append(self.ui_argv()) or 0)
    assert guardian_run(cfg, rebooting="rule3:killed_all", reboot_outcome=outcome) == 0
    assert seen[0][-4:] == page_args


def test_a_guardian_started_by_hand_starts_the_ui_on_its_first_page(cfg, monkeypatch):
    seen: list[list[str]] = []
    monkeypatch.setattr(Guardian, "run", lambda self: seen.append(self.ui_argv()) or 0)
    assert guardian_run(cfg) == 0
    assert "--rebooting" not in seen[0]
