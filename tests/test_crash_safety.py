"""A bug in a page, a worker or the video decoder, a broken media file or a full disk:
logged with its traceback (once a minute, not once a frame), and the kiosk goes on in a
safe page: a locked page stays locked, and a session goes on in the widget."""

from __future__ import annotations

import errno
import logging
import os
from pathlib import Path

import pygame
import pytest

os.environ.setdefault("SDL_VIDEODRIVER", "dummy")

from kiosk.flow import Page  # noqa: E402
from kiosk.logs import Trace, _SafeRotatingHandler  # noqa: E402
from kiosk.media import BACKGROUND, BUNDLED_VIDEO, MediaCache  # noqa: E402
from kiosk.scenes.scan import load_background  # noqa: E402
from kiosk.video import VideoPlayer  # noqa: E402
from kiosk.workers import Caller  # noqa: E402
from tests.app_run import CLIENT, running_app, running_simulator, steps, until  # noqa: E402
from tests.waiting import wait_until  # noqa: E402

DEV_FULL = Path("/dev/full")  # every write fails with ENOSPC: a full disk, for real


@pytest.fixture
def sim():
    with running_simulator() as simulator:
        yield simulator


@pytest.fixture
def app(sim, tmp_path):
    with running_app(sim, tmp_path) as kiosk:
        yield kiosk


def errors(caplog) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.levelno >= logging.ERROR]


def boom(*args, **kwargs):
    raise RuntimeError("a bug in a page")


def test_a_page_that_fails_to_draw_every_frame_stays_locked_and_logs_once(app, caplog,
                                                                          monkeypatch):
    until(app, lambda: app.flow.page is Page.STANDBY)
    monkeypatch.setattr(app.scenes[Page.STANDBY], "draw", boom)
    monkeypatch.setattr(app.scenes[Page.STANDBY], "update", lambda now: True)
    steps(app, 0.5)
    logged = [r for r in errors(caplog) if "drawing page A" in r.getMessage()]
    assert len(logged) == 1 and logged[0].exc_info is not None  # with its traceback
    assert app.window.mode == "locked" and app.flow.page is Page.STANDBY
    assert pygame.Surface.get_at(app.window.surface, (10, 10))[:3] == (0, 0, 0)


@pytest.mark.parametrize("hook", ["handle_event", "update"])
def test_a_page_failing_on_input_or_update_goes_on_locked(app, caplog, monkeypatch, hook):
    until(app, lambda: app.flow.page is Page.STANDBY)
    monkeypatch.setattr(app.scenes[Page.STANDBY], hook, boom)
    for _ in range(20):  # keys would open B: a failing handler keeps them from it
        if hook == "handle_event":
            pygame.event.post(pygame.event.Event(pygame.KEYDOWN, key=pygame.K_a))
        app._step()
    assert len([r for r in errors(caplog) if r.exc_info]) == 1
    assert app.window.mode == "locked" and app.flow.page is Page.STANDBY


def test_a_session_starts_in_the_widget_even_when_the_page_before_fails_to_leave(
        app, sim, caplog, monkeypatch):
    until(app, lambda: app.flow.page is Page.STANDBY)
    monkeypatch.setattr(app.scenes[Page.STANDBY], "leave", boom)
    pygame.event.post(pygame.event.Event(pygame.KEYDOWN, key=pygame.K_a))  # A → B
    sim.venue.start(CLIENT)
    until(app, lambda: app.flow.page is Page.SESSION)
    assert app.window.mode == "widget" and app.scene.page is Page.SESSION
    assert any("leaving page A" in r.getMessage() for r in errors(caplog))


def test_a_session_page_failing_to_leave_still_locks_and_reboots_at_the_end(
        app, sim, caplog, monkeypatch, tmp_path):
    sim.venue.start(CLIENT)
    until(app, lambda: app.flow.page is Page.SESSION)
    monkeypatch.setattr(app.scenes[Page.SESSION], "leave", boom)
    monkeypatch.setattr(app.scenes[Page.SESSION], "draw", boom)
    sim.venue.end(CLIENT)
    until(app, lambda: app.flow.page is Page.REBOOTING)
    assert app.window.mode == "locked" and app.scene.page is Page.REBOOTING
    assert app.start_at is not None  # the (simulated) reboot ran
    assert '"event": "reboot"' in (tmp_path / "trace.jsonl").read_text()


# --- workers --------------------------------------------------------------------------


def test_a_worker_whose_answer_cannot_be_posted_goes_on(caplog):
    posted, calls = [], []

    def post(kind, answer):
        if len(calls) == 1:
            raise RuntimeError("queue gone")
        posted.append(answer)

    caller = Caller("status", lambda: calls.append(1) or len(calls), post)
    try:
        caller.ask()
        wait_until(lambda: len(calls) == 1, 10, 0.01)  # asked, answered, the post failed
        caller.ask()
        wait_until(lambda: posted == [2], 10, 0.01, "the worker did not go on to the next ask")
        assert any("posting the answer failed" in r.getMessage() and r.exc_info
                   for r in errors(caplog))
    finally:
        caller.stop()


@pytest.mark.filterwarnings("ignore::pytest.PytestUnhandledThreadExceptionWarning")
def test_a_worker_thread_that_died_is_started_again_on_the_next_ask(caplog):
    posted = []
    answers = iter([SystemExit("killed"), "fine"])

    def call():
        answer = next(answers)
        if isinstance(answer, BaseException):
            raise answer
        return answer

    caller = Caller("report", call, lambda kind, answer: posted.append(answer))
    try:
        caller.ask()
        caller._thread.join(10)
        assert not caller._thread.is_alive()
        caller.ask()
        wait_until(lambda: posted == ["fine"], 10, 0.01, "the restarted worker posted nothing")
        assert any("worker had stopped" in r.getMessage() for r in errors(caplog))
    finally:
        caller.stop()


# --- video and background ---------------------------------------------------------------


@pytest.mark.filterwarnings("ignore::pytest.PytestUnhandledThreadExceptionWarning")
def test_a_decoder_thread_that_dies_is_a_failure_the_page_hears_of(tmp_path, monkeypatch):
    monkeypatch.setattr(VideoPlayer, "_decode", lambda self: (_ for _ in ()).throw(
        SystemExit("decoder killed")))
    player = VideoPlayer(tmp_path / "any.mp4", (320, 180))
    assert player.failed.wait(2)
    player.stop()


def test_a_decoder_that_raises_logs_the_traceback(tmp_path, monkeypatch, caplog):
    monkeypatch.setattr(VideoPlayer, "_decode", boom)
    player = VideoPlayer(tmp_path / "any.mp4", (320, 180))
    assert player.failed.wait(2)
    player.stop()
    assert any(r.exc_info and "standby video" in r.getMessage() for r in errors(caplog))


def test_a_corrupt_standby_video_falls_back_to_the_bundled_one(app, tmp_path):
    broken = tmp_path / "broken.mp4"
    broken.write_bytes(b"\x00\x00\x00\x18ftypmp42" + os.urandom(4096))
    app.ctx.video = broken
    until(app, lambda: app.flow.page is Page.STANDBY)
    app.scenes[Page.STANDBY].media_changed()
    scene = app.scenes[Page.STANDBY]
    until(app, lambda: scene.player is not None and scene.player.path == BUNDLED_VIDEO)
    until(app, lambda: scene.player.stats()["shown"] > 0)  # the bundled video plays
    assert app.window.mode == "locked"


def test_a_corrupt_background_shows_the_bundled_one(tmp_path, caplog):
    broken = tmp_path / "background.png"
    broken.write_bytes(b"\x89PNG\r\n\x1a\n" + os.urandom(512))
    pygame.display.init()
    ctx = type("Ctx", (), {"background": broken})()
    shown = load_background(ctx, (64, 36))
    ctx.background = None
    bundled = load_background(ctx, (64, 36))
    assert pygame.image.tobytes(shown, "RGB") == pygame.image.tobytes(bundled, "RGB")
    assert any("cannot be shown" in r.getMessage() for r in errors(caplog))


# --- a full disk ------------------------------------------------------------------------

# Linux's /dev/full (every write fails with ENOSPC). Wine shows it as Z:\dev\full, where
# writes succeed: these tests are Linux's.
needs_dev_full = pytest.mark.skipif(not DEV_FULL.exists(), reason="no /dev/full here")


def log_beside(handler: logging.Handler, lines: int) -> list[str]:
    """Log ``lines`` lines through ``handler`` and, beside it, a handler standing for the
    console; returns what the console got (a failing file must not take it down)."""
    console: list[str] = []

    class Console(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            console.append(record.getMessage())

    logger = logging.getLogger(f"kiosk.test.{id(handler)}")
    logger.propagate = False
    beside = Console()
    logger.addHandler(handler)
    logger.addHandler(beside)
    try:
        for i in range(lines):
            logger.warning("line %d", i)
    finally:
        logger.removeHandler(handler)
        logger.removeHandler(beside)
        handler.close()
    return console


@pytest.mark.linux
@needs_dev_full
def test_logging_to_a_full_disk_neither_raises_nor_stops_the_logging(tmp_path, capsys):
    log_file = tmp_path / "ui.log"
    log_file.symlink_to(DEV_FULL)
    handler = _SafeRotatingHandler(log_file, maxBytes=1024, backupCount=2, encoding="utf-8")
    assert log_beside(handler, 2000) == [f"line {i}" for i in range(2000)]
    assert capsys.readouterr().err == ""  # not a "Logging error" traceback per line


def test_log_rotation_failing_with_enospc_is_swallowed(tmp_path, monkeypatch, capsys):
    log_file = tmp_path / "ui.log"
    handler = _SafeRotatingHandler(log_file, maxBytes=100, backupCount=2, encoding="utf-8")

    def full(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(handler, "doRollover", full)
    assert log_beside(handler, 50) == [f"line {i}" for i in range(50)]
    assert log_file.read_text("utf-8").startswith("line 0\n")  # written before the disk filled
    assert capsys.readouterr().err == ""


@pytest.mark.linux
@needs_dev_full
def test_a_trace_on_a_full_disk_is_a_warning_not_a_crash(tmp_path, caplog):
    trace_file = tmp_path / "trace.jsonl"
    trace_file.symlink_to(DEV_FULL)
    Trace(trace_file).scene("A", "startup")
    assert any("cannot write the trace" in r.getMessage() for r in caplog.records)


@pytest.mark.linux
@needs_dev_full
def test_a_media_download_onto_a_full_disk_keeps_the_old_file(sim, tmp_path, caplog):
    files = tmp_path / "files"
    files.mkdir()
    new_png = Path(__file__).resolve().parents[1] / "media" / "background.png"
    (files / "background.png").write_bytes(new_png.read_bytes())
    sim.files_dir = files
    sim.stop()
    sim.start()
    cache = tmp_path / "cache"
    cache.mkdir()
    old = b"the old, good background"
    (cache / "background.png").write_bytes(old)
    (cache / "background.png.part").symlink_to(DEV_FULL)
    media = MediaCache(cache, sim.base_url, 2)
    assert media.refresh(BACKGROUND) is False
    assert (cache / "background.png").read_bytes() == old
    assert not (cache / "background.png.part").exists()
    assert any("download failed" in r.getMessage() for r in caplog.records)



def test_the_guardian_hears_of_the_session_even_when_the_widget_cannot_be_shown(
        app, sim, caplog, monkeypatch):
    until(app, lambda: app.flow.page is Page.STANDBY)
    monkeypatch.setattr(app.window, "widget", boom)
    pygame.event.post(pygame.event.Event(pygame.KEYDOWN, key=pygame.K_a))  # A → B
    sim.venue.start(CLIENT)
    until(app, lambda: app.flow.page is Page.SESSION)
    assert app.link._page == "C"  # a UI killed now reboots the PC (rule 3)
    assert any("_run_command" in r.getMessage() and r.exc_info for r in errors(caplog))
