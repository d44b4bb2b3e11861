"""The standby video: letterboxed, looping, decoded off the UI thread."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from pathlib import Path

import cv2
import numpy as np
import pytest

from kiosk.video import DEFAULT_FPS, VideoPlayer, letterbox

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
    got: list[np.ndarray] = []
    deadline = time.monotonic() + within_s
    while len(got) < count and time.monotonic() < deadline:
        frame = player.frame()
        if frame is None:
            time.sleep(0.002)
        else:
            got.append(frame)
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
    started = time.monotonic()
    player.stop()
    assert not player._thread.is_alive()
    assert time.monotonic() - started < 1
