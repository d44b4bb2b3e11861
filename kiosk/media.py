"""The server's background and standby video, downloaded, checked and swapped in atomically.

A file only replaces the cached copy once it is complete and decodes; until then,
when the server has none (the specification says the video is not there yet) or
when a download is broken, the bundled defaults in ``media/`` are shown.
"""

from __future__ import annotations

import json
import logging
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import requests

from kiosk.api import FaultLog, timeouts
from kiosk.tls import Tls

log = logging.getLogger(__name__)

MEDIA_DIR = Path(__file__).resolve().parent.parent / "media"
BUNDLED_BACKGROUND = MEDIA_DIR / "background.png"
BUNDLED_VIDEO = MEDIA_DIR / "standby.mp4"
CHUNK = 256 * 1024


def png_ok(path: Path) -> bool:
    """The PNG decodes with the same decoder the scan page uses."""
    import pygame

    try:
        image = pygame.image.load(str(path))
    except (pygame.error, OSError, ValueError):
        return False
    return image.get_width() > 0 and image.get_height() > 0


def video_ok(path: Path) -> bool:
    """The video opens and decodes a frame.

    ``grab`` on one thread: it runs while the standby video plays, and a 1080p
    conversion to BGR or one decoder per core would raise the UI's peak memory.
    """
    import cv2

    capture = cv2.VideoCapture(str(path), cv2.CAP_FFMPEG, [cv2.CAP_PROP_N_THREADS, 1])
    try:
        return capture.isOpened() and bool(capture.grab())
    finally:
        capture.release()


@dataclass(frozen=True)
class Item:
    """One file of the contract: where it is on the server and how it is checked."""

    name: str  # "background" or "video"
    url_path: str
    cache_name: str
    bundled: Path
    check: Callable[[Path], bool]
    max_bytes: int


BACKGROUND = Item("background", "/files/background.png", "background.png", BUNDLED_BACKGROUND,
                  png_ok, 32 * 1024 * 1024)
VIDEO = Item("video", "/files/video.mp4", "video.mp4", BUNDLED_VIDEO, video_ok, 512 * 1024 * 1024)
ITEMS = (BACKGROUND, VIDEO)


@dataclass(frozen=True)
class Fetch:
    """What one look at the server's copy of a file came to."""

    swapped: bool = False  # a new file is in the cache
    missing: bool = False  # the server has none (404)
    problem: str | None = None  # why nothing was swapped in, when something went wrong
    size: int = 0  # bytes of the file swapped in


class MediaCache:
    """Keeps the last good copy of each server file in ``cache_dir``."""

    def __init__(self, cache_dir: Path, files_base_url: str, timeout_s: float,
                 session: requests.Session | None = None, tls: Tls | None = None,
                 within_s: float | None = None) -> None:
        self.cache_dir = cache_dir
        self.base_url = files_base_url.rstrip("/")
        self.timeout_s = timeout_s
        self.within_s = within_s  # a whole download's limit (None: only each read's)
        self.tls = tls or Tls(timeout_s=timeout_s)
        self.session = session or self.tls.session(self.base_url)
        self.faults = FaultLog()  # a refused certificate: explained, once per cause

    def current(self, item: Item) -> Path:
        """The cached copy if there is one, else the bundled default."""
        cached = self.cache_dir / item.cache_name
        return cached if cached.is_file() and cached.stat().st_size > 0 else item.bundled

    def refresh(self, item: Item) -> bool:
        """Fetch ``item`` if the server has a newer one; True when a new file was swapped in."""
        return self.fetch(item).swapped

    def fetch(self, item: Item) -> Fetch:
        """Fetch ``item`` if the server has a newer one, saying what came of it (logged)."""
        try:
            self.cache_dir.mkdir(parents=True, exist_ok=True)
            return self._download(item)
        except requests.exceptions.SSLError as exc:
            fault = self.tls.fault(self.base_url, exc)
            self.faults.fault(item.url_path, fault)
            return Fetch(problem=f"the server's certificate is refused ({fault.cause})")
        except (requests.RequestException, OSError) as exc:
            log.warning("%s: download failed (%s); keeping %s", item.url_path,
                        type(exc).__name__, self.current(item).name)
            return Fetch(problem=f"download failed ({type(exc).__name__})")

    def _meta_path(self, item: Item) -> Path:
        return self.cache_dir / f"{item.cache_name}.meta.json"

    def _validators(self, item: Item) -> dict[str, str]:
        """Conditional-request headers, so an unchanged file is not fetched again."""
        if self.current(item) == item.bundled:
            return {}
        try:
            meta = json.loads(self._meta_path(item).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}
        headers = {}
        if isinstance(meta.get("etag"), str):
            headers["If-None-Match"] = meta["etag"]
        if isinstance(meta.get("last_modified"), str):
            headers["If-Modified-Since"] = meta["last_modified"]
        return headers

    def _download(self, item: Item) -> Fetch:
        url = self.base_url + item.url_path
        with self.session.get(url, headers=self._validators(item),
                              timeout=timeouts(self.timeout_s),
                              stream=True) as response:
            if response.status_code == 304:
                return Fetch()
            if response.status_code == 404:
                log.info("%s: the server has none; showing %s", item.url_path,
                         self.current(item).name)
                return Fetch(missing=True)
            if response.status_code != 200:
                log.warning("%s: HTTP %d; keeping %s", item.url_path, response.status_code,
                            self.current(item).name)
                return Fetch(problem=f"HTTP {response.status_code}")
            part = self.cache_dir / f"{item.cache_name}.part"
            try:
                problem, size = self._save(response, part, item)
                if problem is None and not item.check(part):
                    problem = "the downloaded file does not decode"
                    log.error("%s: downloaded file does not decode; keeping %s", item.url_path,
                              self.current(item).name)
                if problem is not None:
                    return Fetch(problem=problem)
                os.replace(part, self.cache_dir / item.cache_name)
            finally:  # also when the connection breaks mid-download
                part.unlink(missing_ok=True)
            meta = {"etag": response.headers.get("ETag"),
                    "last_modified": response.headers.get("Last-Modified")}
            try:
                self._meta_path(item).write_text(json.dumps(meta), encoding="utf-8")
            except OSError as exc:  # the new file is in; without validators it is fetched again
                log.warning("%s: cannot save its validators (%s)", item.url_path, exc)
            log.info("%s: new file swapped in", item.url_path)
            return Fetch(swapped=True, size=size)

    def _save(self, response: requests.Response, part: Path, item: Item
              ) -> tuple[str | None, int]:
        """Write the answer into ``part``: what is wrong with it (logged), and its size."""
        expected = response.headers.get("Content-Length")
        deadline = None if self.within_s is None else time.monotonic() + self.within_s
        size = 0
        with open(part, "wb") as out:
            for chunk in response.iter_content(CHUNK):
                size += len(chunk)
                if size > item.max_bytes:
                    log.error("%s: larger than %d bytes; ignored", item.url_path, item.max_bytes)
                    return f"larger than {item.max_bytes} bytes", size
                if deadline is not None and time.monotonic() > deadline:
                    log.error("%s: took over %g s; ignored", item.url_path, self.within_s)
                    return f"took over {self.within_s:g} s", size
                out.write(chunk)
            out.flush()
            os.fsync(out.fileno())
        encoded = response.headers.get("Content-Encoding", "identity") != "identity"
        if expected is not None and expected.isdigit() and not encoded and int(expected) != size:
            log.error("%s: got %d of %s bytes; ignored", item.url_path, size, expected)
            return f"got {size} of {expected} bytes", size
        return (None if size > 0 else "the answer is empty"), size
