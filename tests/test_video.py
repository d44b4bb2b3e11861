"""The standby video: letterboxed, looping, decoded off the UI thread."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace

import cv2
import numpy as np
import pygame
import pytest

from kiosk import video
from kiosk.video import DEFAULT_FPS, Pacer, VideoPlayer, convert_into, letterbox, open_capture
from tests.waiting import wait_until

CLIP_SIZE = (64, 36)  # 16:9
# BGR colours far apart, so a frame's colour says which frame of the clip it is.
COLOURS = [(0, 0, 255), (0, 255, 0), (255, 0, 0), (0, 255, 255),
           (255, 0, 255), (255, 255, 0), (255, 255, 255), (0, 0, 0)]


def make_clip(path: Path, fps: float) -> Path:
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), fps, CLIP_SIZE)
    assert writer.isOpened()
    for colour in COLOURS:
        writer.write(np.full((CLIP_SIZE[1], CLIP_SIZE[0], 3), colour, np.uint8))
    writer.release()
    return path


def colour_index(frame: np.ndarray) -> int:
    mean = frame.reshape(-1, 3).mean(axis=0)
    return int(np.argmin([np.abs(mean - np.array(c)).sum() for c in COLOURS]))


def frames(player: VideoPlayer, count: int, within_s: float = 3.0) -> list[np.ndarray]:
    """The next ``count`` decoded frames, taken as soon as they are ready (no pacing)."""
    got: list[np.ndarray] = []
    deadline = time.monotonic() + within_s
    while len(got) < count and time.monotonic() < deadline:
        frame = player.frame()
        if frame is None:
            time.sleep(0.002)
        else:
            got.append(frame.pixels.copy())  # the ring buffer is reused after a few frames
    return got


@pytest.fixture
def clip(tmp_path: Path) -> Path:
    return make_clip(tmp_path / "clip.mp4", 25)


@pytest.fixture
def play() -> Iterator:
    players: list[VideoPlayer] = []

    def start(path: Path, screen: tuple[int, int]) -> VideoPlayer:
        players.append(VideoPlayer(path, screen))
        return players[-1]

    yield start
    for player in players:
        player.stop()


def test_wide_video_on_4_3_screen_gets_bars_top_and_bottom():
    x, y, w, h = letterbox((1920, 1080), (1024, 768))
    assert (x, w) == (0, 1024)
    assert h == 576 and y == (768 - 576) // 2
    assert y + h + y in (768, 767)


def test_4_3_video_on_wide_screen_gets_bars_left_and_right():
    x, y, w, h = letterbox((640, 480), (1920, 1080))
    assert (y, h) == (0, 1080)
    assert w == 1440 and x == 240


def test_video_with_the_screens_aspect_fills_it():
    assert letterbox((1280, 720), (1920, 1080)) == (0, 0, 1920, 1080)
    assert letterbox((3840, 2160), (1366, 768))[2:] in ((1366, 768), (1365, 768))


def test_letterboxed_video_keeps_its_aspect_on_odd_screens():
    for screen in [(1366, 768), (1280, 1024), (800, 1280), (1, 1)]:
        x, y, w, h = letterbox((1920, 1080), screen)
        assert x >= 0 and y >= 0 and x + w <= screen[0] and y + h <= screen[1]
        assert w >= 1 and h >= 1
        if min(screen) > 100:
            assert abs(w / h - 16 / 9) < 0.01


def test_player_frames_come_scaled_to_the_letterboxed_size(clip, play):
    player = play(clip, (320, 240))
    got = frames(player, 2)
    assert got, "no frame within 3 s"
    assert got[0].shape == (180, 320, 3)  # 64x36 scaled by 5, bars of 30 px top and bottom
    assert player.rect == (0, 30, 320, 180)


def test_player_loops_back_to_the_first_frame_after_the_end(clip, play):
    player = play(clip, (128, 72))
    got = frames(player, len(COLOURS) * 2 + 3)
    assert len(got) == len(COLOURS) * 2 + 3, "the video stopped at the end of the clip"
    order = [colour_index(frame) for frame in got]
    assert order[:len(COLOURS)] == list(range(len(COLOURS)))
    assert order[len(COLOURS):2 * len(COLOURS)] == list(range(len(COLOURS)))


def test_player_reports_the_clips_frame_rate(tmp_path, play):
    assert DEFAULT_FPS != 12  # else this test could not tell the clip's rate from the default
    player = play(make_clip(tmp_path / "slow.mp4", 12), (64, 36))
    assert frames(player, 1)
    assert player.fps == pytest.approx(12)


def test_broken_video_fails_quickly(tmp_path, play):
    broken = tmp_path / "broken.mp4"
    broken.write_bytes(os.urandom(4096))
    player = play(broken, (320, 240))
    assert player.failed.wait(2)
    assert player.frame() is None


def test_missing_video_fails_quickly(tmp_path, play):
    player = play(tmp_path / "nothing-here.mp4", (320, 240))
    assert player.failed.wait(2)


def test_stop_ends_the_decoding_thread(clip):
    player = VideoPlayer(clip, (320, 240))
    assert frames(player, 1)
    player.stop()
    assert not player._thread.is_alive()  # within stop()'s own wait


def test_stop_lets_a_decoder_waiting_to_hand_over_go_at_once(monkeypatch):
    """The page after A (the widget above all) does not wait for the decoder's next look."""
    monkeypatch.setattr(video, "HANDOVER_CHECK_S", 60.0)
    player = VideoPlayer(Path("clip.mp4"), (64, 36), cv2_module=fake_cv2(fps=25))
    wait_until(player._frames.full, 3, 0.002)  # decoded ahead: the decoder waits in put()
    player.stop()
    assert not player._thread.is_alive()  # within stop()'s own wait (2 s), not 60 s


# --- pacing by the clip's timestamps


def test_first_frame_is_shown_at_once_and_the_next_at_its_timestamp():
    pacer = Pacer(fps=25)
    assert pacer.ready(0.0, now=100.0)
    assert pacer.next_due == pytest.approx(100.04)
    assert not pacer.ready(0.04, now=100.01)  # due at 100.04: too early
    assert pacer.ready(0.04, now=100.03)  # within half a period of its time
    assert (pacer.shown, pacer.dropped) == (2, 0)


def test_playback_keeps_the_clips_clock_not_the_loops():
    pacer = Pacer(fps=30)
    pacer.ready(0.0, now=10.0)
    # Frame 30 is due exactly one second later, however often the loop woke meanwhile.
    assert not pacer.ready(1.0, now=10.9)
    assert pacer.ready(1.0, now=10.99)


def test_a_frame_slightly_late_keeps_the_clock_so_the_next_is_on_time():
    pacer = Pacer(fps=25)
    pacer.ready(0.0, now=0.0)
    assert pacer.ready(0.04, now=0.07)  # 30 ms late: shown
    assert pacer.next_due == pytest.approx(0.08)  # the clip's clock, not the late moment
    assert pacer.dropped == 0


def test_after_a_stall_the_clock_restarts_and_the_missed_frames_count_as_dropped():
    pacer = Pacer(fps=25)
    pacer.ready(0.0, now=0.0)
    assert pacer.ready(0.04, now=0.5)  # 460 ms late: 11 frame slots passed without a frame
    assert pacer.dropped == 11
    assert pacer.next_due == pytest.approx(0.54)  # no burst to catch up: 40 ms to the next
    assert not pacer.ready(0.08, now=0.51)
    assert pacer.ready(0.08, now=0.53)
    assert pacer.shown == 3


class FakeCapture:
    """A decoder with ``count`` solid frames stamped every ``1/fps`` s (a tiny OpenCV stand-in)."""

    opened: list[tuple[str, list[int]]] = []
    let_slow_go = threading.Event()  # until set, frames after ``slow_after`` are not decoded

    def __init__(self, path: str, backend: int = 0, params: list[int] | None = None,
                 *, count: int = 1000, fps: float = 25, hw: float = 0,
                 hw_frames: bool = True, slow_after: int | None = None) -> None:
        self.params = list(params or [])
        FakeCapture.opened.append((path, self.params))
        self.count, self.fps, self.index = count, fps, 0
        wants_hw = cv2.CAP_PROP_HW_ACCELERATION in self.params
        self.hw = hw if wants_hw else 0
        self.readable = hw_frames or not wants_hw
        self.slow_after = slow_after  # frames after this one wait (a busy machine)

    def isOpened(self) -> bool:  # noqa: N802 (OpenCV's name)
        return True

    def get(self, prop: int) -> float:
        return {cv2.CAP_PROP_FPS: self.fps, cv2.CAP_PROP_HW_ACCELERATION: self.hw,
                cv2.CAP_PROP_POS_MSEC: (self.index - 1) * 1000 / self.fps}.get(prop, 0.0)

    def read(self, image: np.ndarray | None = None) -> tuple[bool, np.ndarray | None]:
        if not self.readable or self.index >= self.count:
            return False, None
        if self.slow_after is not None and self.index >= self.slow_after:
            FakeCapture.let_slow_go.wait(10)
        self.index += 1
        if image is None:
            image = np.empty((36, 64, 3), np.uint8)
        image[...] = self.index % 256
        return True, image

    def release(self) -> None:
        pass


def fake_cv2(**capture_options: object) -> SimpleNamespace:
    FakeCapture.opened = []
    FakeCapture.let_slow_go = threading.Event()
    names = {name: getattr(cv2, name) for name in dir(cv2) if name.isupper()}
    return SimpleNamespace(**names, resize=cv2.resize,
                           VideoCapture=lambda *a: FakeCapture(*a, **capture_options))


def test_player_holds_a_frame_until_it_is_due_and_wakes_the_loop_for_it():
    player = VideoPlayer(Path("clip.mp4"), (64, 36), cv2_module=fake_cv2(fps=25))
    try:
        wait_until(player._frames.full, 3, 0.002)
        assert player.take(now=7.0) is not None
        assert player.wake_at(now=7.0) == pytest.approx(7.04)
        wait_until(player._frames.full, 3, 0.002)
        assert player.take(now=7.001) is None
        later = player.take(now=7.04)
        assert later is not None and later.pts == pytest.approx(0.04)
        assert player.stats()["shown"] == 2 and player.stats()["dropped"] == 0
    finally:
        player.stop()


def test_a_decoder_behind_the_clip_is_checked_again_soon_not_in_a_busy_loop():
    player = VideoPlayer(Path("clip.mp4"), (64, 36), cv2_module=fake_cv2(fps=25, slow_after=1))
    try:
        wait_until(player._frames.full, 3, 0.002)
        assert player.take(now=7.0) is not None
        assert player.take(now=7.05) is None  # frame 1 was due at 7.04 and is not decoded
        assert player.wake_at(now=7.05) == pytest.approx(7.06)  # a quarter period on
    finally:
        FakeCapture.let_slow_go.set()
        player.stop()


def test_timestamps_keep_growing_across_loops(tmp_path):
    player = VideoPlayer(Path("clip.mp4"), (64, 36), cv2_module=fake_cv2(fps=25, count=3))
    try:
        got = []
        while len(got) < 7:
            frame = player.frame()
            if frame is None:
                time.sleep(0.002)
            else:
                got.append(frame.pts)
        assert got == pytest.approx([0.0, 0.04, 0.08, 0.12, 0.16, 0.2, 0.24])
    finally:
        player.stop()


def test_software_decoding_is_the_default_and_uses_one_thread():
    capture, path = open_capture(fake_cv2(hw=1), Path("clip.mp4"), hw_decode=False)
    assert path == "software"
    assert cv2.CAP_PROP_HW_ACCELERATION not in capture.params
    assert capture.params[:2] == [cv2.CAP_PROP_N_THREADS, 1]


def test_hardware_decoding_is_used_when_opencv_confirms_it():
    capture, path = open_capture(fake_cv2(hw=1), Path("clip.mp4"), hw_decode=True)
    assert path == "hardware"


def test_hardware_decoding_unavailable_falls_back_to_software():
    fake = fake_cv2(hw=0)
    capture, path = open_capture(fake, Path("clip.mp4"), hw_decode=True)
    assert path == "software"
    assert len(FakeCapture.opened) == 2
    assert cv2.CAP_PROP_HW_ACCELERATION not in FakeCapture.opened[-1][1]


def test_hardware_decoder_that_fails_on_the_first_frame_falls_back_to_software():
    player = VideoPlayer(Path("clip.mp4"), (64, 36), hw_decode=True,
                         cv2_module=fake_cv2(hw=1, hw_frames=False))
    try:
        wait_until(lambda: player.frame() is not None, 3, 0.002)
        assert player.decoder == "software"
        assert not player.failed.is_set()
    finally:
        player.stop()


def test_real_clip_plays_in_software_when_hardware_decoding_is_asked_for_but_missing(clip, play):
    player = VideoPlayer(clip, (64, 36), hw_decode=True)
    try:
        assert frames(player, 2)
        assert player.decoder in ("software", "hardware")  # this build of OpenCV says which
    finally:
        player.stop()


# --- into the window's pixels


@pytest.mark.parametrize("depth", [32, 24])
def test_frame_lands_in_the_surface_at_its_letterbox_position(depth):
    surface = pygame.Surface((40, 30), depth=depth)
    surface.fill((1, 2, 3))
    pixels = np.zeros((10, 20, 3), np.uint8)
    pixels[...] = (200, 100, 50)  # BGR
    pixels[0, 0] = (0, 0, 255)  # one red pixel in the corner
    convert_into(surface, pixels, (5, 7))
    assert surface.get_at((5, 7))[:3] == (255, 0, 0)
    assert surface.get_at((6, 8))[:3] == (50, 100, 200)
    assert surface.get_at((24, 16))[:3] == (50, 100, 200)
    assert surface.get_at((4, 7))[:3] == (1, 2, 3)  # outside the rectangle: untouched
    assert surface.get_at((25, 17))[:3] == (1, 2, 3)
    assert not surface.get_locked()


def test_the_decoders_libraries_are_named_by_their_folders_once_loaded():
    folders = video.decoder_code()
    assert Path(cv2.__file__).resolve().parent in folders
    assert Path(np.__file__).resolve().parent in folders
    assert all(folder.is_dir() for folder in folders)
    # A UI that never showed the video (restarted in a session) has none to give back.
    fresh = subprocess.run([sys.executable, "-c", "from kiosk.video import decoder_code; "
                            "import sys; print(decoder_code(), 'cv2' in sys.modules)"],
                           capture_output=True, text=True, check=True,
                           cwd=Path(__file__).resolve().parents[1])
    assert fresh.stdout.split() == ["[]", "False"]
