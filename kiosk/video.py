"""The standby video, decoded by OpenCV on a worker thread into a few ready frames.

Frames come out already scaled to the letterboxed size, so the UI thread only
wraps and blits them. OpenCV is imported on the worker thread: the lock screen
never waits for it.
"""

from __future__ import annotations

import logging
import queue
import threading
from pathlib import Path

log = logging.getLogger(__name__)

DEFAULT_FPS = 25.0
READY_FRAMES = 3


def letterbox(video: tuple[int, int], screen: tuple[int, int]) -> tuple[int, int, int, int]:
    """(x, y, w, h) of the video inside the screen, aspect kept, centred."""
    vw, vh = video
    sw, sh = screen
    scale = min(sw / vw, sh / vh)
    w, h = max(1, round(vw * scale)), max(1, round(vh * scale))
    return (sw - w) // 2, (sh - h) // 2, w, h


class VideoPlayer:
    """Plays one file in a loop; ``frame()`` returns the next decoded frame, if any."""

    def __init__(self, path: Path, screen: tuple[int, int]) -> None:
        self.path = path
        self.screen = screen
        self.fps = DEFAULT_FPS
        self.rect: tuple[int, int, int, int] | None = None  # set once the file is open
        self.failed = threading.Event()
        self._frames: queue.Queue = queue.Queue(maxsize=READY_FRAMES)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True, name="video")
        self._thread.start()

    def frame(self):
        """The next frame (a BGR array of the letterboxed size), or None if none is ready."""
        try:
            return self._frames.get_nowait()
        except queue.Empty:
            return None

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=2)

    def _run(self) -> None:
        try:
            self._decode()
        except Exception:
            log.exception("standby video %s failed", self.path)
        finally:
            # Decoding ends only when stopped: any other end, however it came, is a failure
            # the standby page must hear of (it falls back to the bundled video).
            if not self._stop.is_set():
                self.failed.set()

    def _decode(self) -> None:
        import cv2

        capture = cv2.VideoCapture(str(self.path))
        if not capture.isOpened():
            log.error("cannot open the standby video %s", self.path)
            self.failed.set()
            return
        fps = capture.get(cv2.CAP_PROP_FPS)
        self.fps = fps if 1 <= fps <= 120 else DEFAULT_FPS
        size = (int(capture.get(cv2.CAP_PROP_FRAME_WIDTH)),
                int(capture.get(cv2.CAP_PROP_FRAME_HEIGHT)))
        rect = letterbox(size, self.screen) if min(size) > 0 else None
        shown = 0
        while not self._stop.is_set():
            ok, frame = capture.read()
            if not ok:
                if shown == 0:
                    log.error("the standby video %s has no frame", self.path)
                    self.failed.set()
                    return
                capture.release()  # loop: reopening is the reliable rewind for every codec
                capture = cv2.VideoCapture(str(self.path))
                shown = 0
                continue
            if rect is None:
                rect = letterbox((frame.shape[1], frame.shape[0]), self.screen)
            w, h = rect[2], rect[3]
            if (frame.shape[1], frame.shape[0]) != (w, h):
                frame = cv2.resize(frame, (w, h), interpolation=cv2.INTER_LINEAR)
            self.rect = rect
            shown += 1
            while not self._stop.is_set():
                try:
                    self._frames.put(frame, timeout=0.2)
                    break
                except queue.Full:
                    continue
        capture.release()
