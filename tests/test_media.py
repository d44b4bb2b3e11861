"""Downloaded media (DESIGN.md §3): a new file shows only once it is whole and decodes."""

from __future__ import annotations

import dataclasses
import logging
import os
import shutil
import socket
import threading
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import responses

os.environ.setdefault("SDL_VIDEODRIVER", "dummy")
import pygame  # noqa: E402

from kiosk.media import (  # noqa: E402
    BUNDLED_BACKGROUND,
    BUNDLED_VIDEO,
    ITEMS,
    MediaCache,
    png_ok,
    video_ok,
)
from kiosk.simulator import Simulator  # noqa: E402

BACKGROUND = next(item for item in ITEMS if item.name == "background")
VIDEO = next(item for item in ITEMS if item.name == "video")
FAKE_BASE = "http://files.venue.invalid:8080"


def png_bytes(tmp_path: Path, color: tuple[int, int, int], size=(40, 30)) -> bytes:
    surface = pygame.Surface(size)
    surface.fill(color)
    path = tmp_path / f"made-{color[0]}-{color[1]}-{color[2]}.png"
    pygame.image.save(surface, str(path))
    return path.read_bytes()


@pytest.fixture
def stack() -> Iterator[ExitStack]:
    with ExitStack() as exits:
        yield exits


@pytest.fixture
def server_files(tmp_path: Path) -> Path:
    files = tmp_path / "server"
    files.mkdir()
    return files


@pytest.fixture
def cache_dir(tmp_path: Path) -> Path:
    return tmp_path / "cache"


def serve(files_dir: Path, stack: ExitStack) -> str:
    sim = Simulator(files_dir=files_dir)
    url = sim.start()
    stack.callback(sim.stop)
    return url


def leftovers(cache_dir: Path) -> list[str]:
    return sorted(p.name for p in cache_dir.glob("*.part")) if cache_dir.is_dir() else []


# --- a good file replaces the bundled default -------------------------------------------


def test_new_background_from_server_replaces_bundled_one(tmp_path, server_files, cache_dir,
                                                         http, stack):
    served = png_bytes(tmp_path, (200, 40, 40))
    (server_files / "background.png").write_bytes(served)
    cache = MediaCache(cache_dir, serve(server_files, stack), timeout_s=2, session=http)
    assert cache.current(BACKGROUND) == BUNDLED_BACKGROUND

    assert cache.refresh(BACKGROUND) is True

    assert cache.current(BACKGROUND) == cache_dir / "background.png"
    assert cache.current(BACKGROUND).read_bytes() == served
    assert leftovers(cache_dir) == []


def test_new_standby_video_from_server_replaces_bundled_one(server_files, cache_dir, http,
                                                            stack):
    shutil.copyfile(BUNDLED_VIDEO, server_files / "video.mp4")
    cache = MediaCache(cache_dir, serve(server_files, stack), timeout_s=2, session=http)

    assert cache.refresh(VIDEO) is True

    assert cache.current(VIDEO) == cache_dir / "video.mp4"
    assert cache.current(VIDEO).read_bytes() == BUNDLED_VIDEO.read_bytes()


def test_unchanged_background_is_not_downloaded_again(tmp_path, server_files, cache_dir, http,
                                                      stack):
    (server_files / "background.png").write_bytes(png_bytes(tmp_path, (10, 120, 200)))
    cache = MediaCache(cache_dir, serve(server_files, stack), timeout_s=2, session=http)
    assert cache.refresh(BACKGROUND) is True
    cached = cache_dir / "background.png"
    before = cached.stat()

    assert cache.refresh(BACKGROUND) is False  # the simulator answers 304 to If-Modified-Since

    after = cached.stat()
    assert (after.st_ino, after.st_mtime_ns, after.st_size) == (
        before.st_ino, before.st_mtime_ns, before.st_size)
    assert cache.current(BACKGROUND) == cached
    assert leftovers(cache_dir) == []


def test_second_refresh_asks_only_for_a_newer_file(tmp_path, cache_dir):
    served = png_bytes(tmp_path, (30, 30, 30))
    url = FAKE_BASE + BACKGROUND.url_path
    last_modified = "Wed, 01 May 2024 08:00:00 GMT"
    with responses.RequestsMock() as mock:
        mock.get(url, body=served, status=200, content_type="image/png",
                 headers={"ETag": '"bg-v1"', "Last-Modified": last_modified})
        mock.get(url, status=304)
        cache = MediaCache(cache_dir, FAKE_BASE, timeout_s=2)
        assert cache.refresh(BACKGROUND) is True
        assert cache.refresh(BACKGROUND) is False
        first, second = (call.request.headers for call in mock.calls)
    assert "If-None-Match" not in first and "If-Modified-Since" not in first
    assert second["If-None-Match"] == '"bg-v1"'
    assert second["If-Modified-Since"] == last_modified
    assert (cache_dir / "background.png").read_bytes() == served


def test_newer_background_on_server_replaces_cached_one(tmp_path, server_files, cache_dir,
                                                        http, stack):
    served = server_files / "background.png"
    served.write_bytes(png_bytes(tmp_path, (10, 10, 10)))
    os.utime(served, (1_700_000_000, 1_700_000_000))
    cache = MediaCache(cache_dir, serve(server_files, stack), timeout_s=2, session=http)
    assert cache.refresh(BACKGROUND) is True

    newer = png_bytes(tmp_path, (250, 250, 0))
    served.write_bytes(newer)
    os.utime(served, (1_700_000_600, 1_700_000_600))

    assert cache.refresh(BACKGROUND) is True
    assert cache.current(BACKGROUND).read_bytes() == newer


# --- a bad download never replaces a good file -------------------------------------------


class _LyingHandler(BaseHTTPRequestHandler):
    """Promises more bytes than it sends, then hangs up: a download cut off mid-way."""

    body = b""

    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "image/png")
        self.send_header("Content-Length", str(len(self.body) * 4))
        self.end_headers()
        self.wfile.write(self.body)
        self.wfile.flush()
        self.close_connection = True

    def log_message(self, format: str, *args: object) -> None:
        pass


def _truncated(tmp_path: Path, files: Path, stack: ExitStack) -> tuple[str, object]:
    handler = type("Handler", (_LyingHandler,), {"body": png_bytes(tmp_path, (1, 2, 3))})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05},
                              daemon=True)
    thread.start()
    stack.callback(server.server_close)
    stack.callback(server.shutdown)
    return f"http://127.0.0.1:{server.server_address[1]}", BACKGROUND


def _corrupt(tmp_path: Path, files: Path, stack: ExitStack) -> tuple[str, object]:
    (files / "background.png").write_bytes(os.urandom(8192))
    return serve(files, stack), BACKGROUND


def _too_large(tmp_path: Path, files: Path, stack: ExitStack) -> tuple[str, object]:
    (files / "background.png").write_bytes(png_bytes(tmp_path, (9, 9, 9), size=(200, 200)))
    return serve(files, stack), dataclasses.replace(BACKGROUND, max_bytes=64)


def _http_500(tmp_path: Path, files: Path, stack: ExitStack) -> tuple[str, object]:
    mock = stack.enter_context(responses.RequestsMock())
    mock.get(FAKE_BASE + BACKGROUND.url_path, body=png_bytes(tmp_path, (5, 5, 5)), status=500)
    return FAKE_BASE, BACKGROUND


def _missing(tmp_path: Path, files: Path, stack: ExitStack) -> tuple[str, object]:
    return serve(files, stack), BACKGROUND  # the simulator answers 404


def _refused(tmp_path: Path, files: Path, stack: ExitStack) -> tuple[str, object]:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"http://127.0.0.1:{port}", BACKGROUND  # nothing listens there any more


BAD_DOWNLOADS: dict[str, Callable[[Path, Path, ExitStack], tuple[str, object]]] = {
    "truncated": _truncated,
    "corrupt png": _corrupt,
    "over max_bytes": _too_large,
    "http 500": _http_500,
    "http 404": _missing,
    "connection refused": _refused,
}


@pytest.mark.parametrize("how", BAD_DOWNLOADS)
def test_bad_download_keeps_the_good_cached_background(how, tmp_path, server_files, cache_dir,
                                                       http, stack):
    cache_dir.mkdir()
    good = png_bytes(tmp_path, (0, 200, 100))
    (cache_dir / "background.png").write_bytes(good)
    base_url, item = BAD_DOWNLOADS[how](tmp_path, server_files, stack)
    cache = MediaCache(cache_dir, base_url, timeout_s=2, session=http)

    assert cache.refresh(item) is False

    assert cache.current(BACKGROUND) == cache_dir / "background.png"
    assert (cache_dir / "background.png").read_bytes() == good
    assert leftovers(cache_dir) == []


@pytest.mark.parametrize("how", ["truncated", "corrupt png", "over max_bytes"])
def test_bad_download_without_cache_keeps_showing_bundled_background(how, tmp_path,
                                                                     server_files, cache_dir,
                                                                     http, stack):
    base_url, item = BAD_DOWNLOADS[how](tmp_path, server_files, stack)
    cache = MediaCache(cache_dir, base_url, timeout_s=2, session=http)

    assert cache.refresh(item) is False

    assert cache.current(BACKGROUND) == BUNDLED_BACKGROUND
    assert leftovers(cache_dir) == []


# --- defaults and checks -------------------------------------------------------------------


def test_without_cache_the_bundled_media_are_shown(tmp_path):
    cache = MediaCache(tmp_path / "never-created", FAKE_BASE, timeout_s=2)
    assert cache.current(BACKGROUND) == BUNDLED_BACKGROUND
    assert cache.current(VIDEO) == BUNDLED_VIDEO
    assert png_ok(BUNDLED_BACKGROUND)
    assert video_ok(BUNDLED_VIDEO)


def test_empty_cached_file_falls_back_to_bundled_one(cache_dir):
    cache_dir.mkdir()
    (cache_dir / "background.png").write_bytes(b"")
    cache = MediaCache(cache_dir, FAKE_BASE, timeout_s=2)
    assert cache.current(BACKGROUND) == BUNDLED_BACKGROUND


def test_server_without_video_keeps_the_bundled_video(server_files, cache_dir, http, stack):
    cache = MediaCache(cache_dir, serve(server_files, stack), timeout_s=2, session=http)
    assert cache.refresh(VIDEO) is False
    assert cache.current(VIDEO) == BUNDLED_VIDEO


def test_valid_video_passes_and_broken_video_fails(tmp_path):
    good = tmp_path / "good.mp4"
    shutil.copyfile(BUNDLED_VIDEO, good)
    broken = tmp_path / "broken.mp4"
    broken.write_bytes(BUNDLED_VIDEO.read_bytes()[:2048])
    garbage = tmp_path / "garbage.mp4"
    garbage.write_bytes(os.urandom(4096))

    assert video_ok(good)
    assert not video_ok(broken)
    assert not video_ok(garbage)
    assert not video_ok(tmp_path / "missing.mp4")


def test_valid_png_passes_and_random_bytes_fail(tmp_path):
    good = tmp_path / "good.png"
    good.write_bytes(png_bytes(tmp_path, (1, 1, 1)))
    bad = tmp_path / "bad.png"
    bad.write_bytes(os.urandom(2048))
    assert png_ok(good)
    assert not png_ok(bad)


def test_unwritable_cache_dir_logs_and_keeps_bundled_media(tmp_path, caplog):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    cache = MediaCache(blocker / "cache", FAKE_BASE, timeout_s=2)

    with caplog.at_level(logging.WARNING, logger="kiosk.media"):
        assert cache.refresh(BACKGROUND) is False

    assert any(BACKGROUND.url_path in record.getMessage() for record in caplog.records)
    assert cache.current(BACKGROUND) == BUNDLED_BACKGROUND
