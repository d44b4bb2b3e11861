"""The standby video, decoded by OpenCV on a worker thread into a few ready frames.

Frames come out stamped with the clip's own timestamps, scaled to the letterboxed size
(or left at the clip's, for SDL's renderer to scale: kiosk/present.py); the UI thread
shows each one when it is due, converting it straight into the window's pixels (no
intermediate surface) or into the renderer's texture. OpenCV is imported on
the worker thread: the lock screen never waits for it. The frames live in a small
ring of buffers allocated once, so a 1080p clip does not allocate and zero 6 MB per
frame.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import queue
import sys
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

DEFAULT_FPS = 25.0
QUEUE_FRAMES = 1  # one ready frame: at 1080p each costs 6 MB, and one hides the rewind
# Buffers in use at once: the one being decoded, the queued one, the one the UI holds
# (pending until due, then converted into the window before the next is taken).
RING_FRAMES = QUEUE_FRAMES + 2
SOFTWARE, HARDWARE = "software", "hardware"
HANDOVER_CHECK_S = 0.2  # a decoder waiting to hand a frame over looks this often for a stop


def letterbox(video: tuple[int, int], screen: tuple[int, int]) -> tuple[int, int, int, int]:
    """(x, y, w, h) of the video inside the screen, aspect kept, centred."""
    vw, vh = video
    sw, sh = screen
    scale = min(sw / vw, sh / vh)
    w, h = max(1, round(vw * scale)), max(1, round(vh * scale))
    return (sw - w) // 2, (sh - h) // 2, w, h


@dataclass(frozen=True)
class Frame:
    """One decoded frame: BGR pixels of the letterboxed size and when it is due in the clip."""

    pixels: Any  # numpy array (h, w, 3), a buffer of the player's ring
    pts: float  # seconds since the first frame, growing across loops


class Pacer:
    """Decides when each frame is shown, from the clip's timestamps and the time passed in.

    The first frame sets the clock; a frame is shown from half a period before its
    due time. A standby loop has no sound to keep in step with, so a late frame is
    still shown rather than skipped: once a frame is more than a period late
    (decoder starved, machine busy), the clock restarts from it and the frame
    slots that passed without a frame are counted as dropped.
    """

    def __init__(self, fps: float) -> None:
        self.period = 1.0 / fps
        self.origin: float | None = None
        self.shown = 0
        self.dropped = 0
        self.next_due: float | None = None  # when the frame after the last shown one is due

    def ready(self, pts: float, now: float) -> bool:
        """Whether the frame stamped ``pts`` goes on screen at ``now``."""
        if self.origin is None:
            self.origin = now - pts
        late = now - (self.origin + pts)
        if late < -self.period / 2:
            return False
        if late > self.period:
            self.dropped += int(late / self.period)
            self.origin = now - pts
        self.shown += 1
        self.next_due = self.origin + pts + self.period
        return True


def open_capture(cv2: Any, path: Path, hw_decode: bool) -> tuple[Any, str]:
    """Open ``path`` for decoding on one thread; with ``hw_decode``, try the GPU first.

    Returns the capture and the decoding path that runs ("hardware" only when
    OpenCV confirms it); an unopenable file gives a closed capture.
    """
    params = [cv2.CAP_PROP_N_THREADS, 1]  # one core for the kiosk; fewer frames held, too
    if hw_decode:
        capture = cv2.VideoCapture(str(path), cv2.CAP_FFMPEG, params + [
            cv2.CAP_PROP_HW_ACCELERATION, cv2.VIDEO_ACCELERATION_ANY])
        if capture.isOpened() and capture.get(cv2.CAP_PROP_HW_ACCELERATION) > 0:
            return capture, HARDWARE
        capture.release()
        log.warning("hardware decoding is not available for %s; decoding in software", path)
    return cv2.VideoCapture(str(path), cv2.CAP_FFMPEG, params), SOFTWARE


class VideoPlayer:
    """Plays one file in a loop; ``take(now)`` returns the frame due now, if any."""

    def __init__(self, path: Path, screen: tuple[int, int], *, hw_decode: bool = False,
                 scale: bool = True, cv2_module: Any = None) -> None:
        """``scale``: frames come scaled to their letterbox on ``screen``; else at the
        clip's own size (``rect`` still says where they go)."""
        self.path = path
        self.screen = screen
        self.hw_decode = hw_decode
        self.scale = scale
        self.decoder = SOFTWARE if not hw_decode else "starting"
        self.fps = DEFAULT_FPS
        self.rect: tuple[int, int, int, int] | None = None  # set once the file is open
        self.pacer = Pacer(DEFAULT_FPS)
        self.failed = threading.Event()
        self._cv2 = cv2_module
        self._frames: queue.Queue[Frame] = queue.Queue(maxsize=QUEUE_FRAMES)
        self._pending: Frame | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True, name="video")
        self._thread.start()

    def frame(self) -> Frame | None:
        """The next decoded frame whatever its time, or None if none is ready."""
        try:
            return self._frames.get_nowait()
        except queue.Empty:
            return None

    def take(self, now: float) -> Frame | None:
        """The frame to show at ``now``: None while the next one is not due (or not decoded)."""
        frame = self._pending or self.frame()
        self._pending = None
        if frame is not None and not self.pacer.ready(frame.pts, now):
            self._pending = frame
            return None
        return frame

    def wake_at(self, now: float) -> float | None:
        """When the UI loop should look for the next frame: when it is due, or, when
        it was due already but is not decoded yet, a quarter period from ``now``."""
        due = self.pacer.next_due
        return None if due is None else max(due, now + self.pacer.period / 4)

    def stats(self) -> dict[str, object]:
        """What the bench and the log need: frames shown and dropped, the decoding path."""
        return {"decoder": self.decoder, "fps": round(self.fps, 3), "shown": self.pacer.shown,
                "dropped": self.pacer.dropped}

    def stop(self) -> None:
        """Decoding ends now: a decoder waiting to hand over a frame is let go at once (the
        page that follows, the widget above all, must not wait for it)."""
        self._stop.set()
        with contextlib.suppress(queue.Empty):
            while True:
                self._frames.get_nowait()
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

    def _open(self, cv2: Any) -> Any:
        capture, self.decoder = open_capture(cv2, self.path, self.hw_decode)
        return capture

    def _decode(self) -> None:
        import cv2 as real_cv2  # on this thread: the lock screen is up before OpenCV loads
        import numpy as np

        cv2 = self._cv2 or real_cv2
        # OpenCV's own worker threads only add wake-ups on the one core the kiosk gets.
        real_cv2.setNumThreads(1)
        capture = self._open(cv2)
        if not capture.isOpened():
            log.error("cannot open the standby video %s", self.path)
            self.failed.set()
            return
        fps = capture.get(cv2.CAP_PROP_FPS)
        self.fps = fps if 1 <= fps <= 120 else DEFAULT_FPS
        self.pacer = Pacer(self.fps)
        period = 1.0 / self.fps
        ring: list[Any] = []
        native: Any = None  # the decoder's own buffer, when frames need scaling
        loop_start, last_pts = 0.0, -period  # pts on the player's clock, across loops
        count = in_loop = 0
        while not self._stop.is_set():
            target = ring[count % RING_FRAMES] if ring else None
            ok, image = capture.read(native if native is not None else target)
            if not ok and in_loop == 0 and self.decoder == HARDWARE:
                log.warning("hardware decoding of %s failed; decoding in software", self.path)
                capture.release()
                self.hw_decode = False
                capture = self._open(cv2)
                continue
            if not ok:
                if in_loop == 0:
                    log.error("the standby video %s has no frame", self.path)
                    self.failed.set()
                    return
                capture.release()  # loop: reopening is the reliable rewind for every codec
                capture = self._open(cv2)
                loop_start, in_loop = last_pts + period, 0
                continue
            pts = loop_start + capture.get(cv2.CAP_PROP_POS_MSEC) / 1000.0
            if pts <= last_pts:  # a stream without usable timestamps: count frames instead
                pts = last_pts + period
            last_pts, in_loop = pts, in_loop + 1
            if self.rect is None:
                clip = (image.shape[1], image.shape[0])
                self.rect = letterbox(clip, self.screen)
                w, h = self.rect[2:] if self.scale else clip
                ring = [np.empty((h, w, 3), np.uint8) for _ in range(RING_FRAMES)]
                if clip != (w, h):
                    native = image
                target = ring[count % RING_FRAMES]
            assert target is not None and self.rect is not None
            if image.shape != target.shape:
                cv2.resize(image, (target.shape[1], target.shape[0]), dst=target,
                           interpolation=cv2.INTER_LINEAR)
            elif image is not target:
                target[...] = image  # the first frame, decoded before the ring existed
            count += 1
            self._put(Frame(target, pts))
        capture.release()

    def _put(self, frame: Frame) -> None:
        while not self._stop.is_set():
            try:
                self._frames.put(frame, timeout=HANDOVER_CHECK_S)
                return
            except queue.Full:
                continue


def decoder_code() -> list[Path]:
    """The folders of the decoder's libraries this process has loaded: OpenCV and numpy,
    each with the shared libraries its wheel brings (``<distribution>.libs``). None of
    them runs in C, so their code can go back to the OS there (kiosk/platform/memory.py)."""
    loaded = [name for name in ("cv2", "numpy") if getattr(sys.modules.get(name), "__file__", None)]
    return [folder for name in loaded for folder in _package_code(name)]


@functools.cache
def _package_code(name: str) -> tuple[Path, ...]:
    """A loaded package's folder and its wheel's libraries' folders. Kept: reading every
    installed package's metadata takes 30–80 ms, and C is entered again and again."""
    from importlib.metadata import packages_distributions

    package = Path(sys.modules[name].__file__).resolve().parent  # type: ignore[arg-type]
    libs = (package.parent / f"{distribution.replace('-', '_')}.libs"
            for distribution in packages_distributions().get(name, []))
    return (package, *(folder for folder in libs if folder.is_dir()))


BGRX_MASKS = (0xFF0000, 0x00FF00, 0x0000FF)  # 32-bit pixels stored B, G, R, X in memory


def convert_into(surface: Any, pixels: Any, pos: tuple[int, int]) -> None:
    """Write BGR ``pixels`` into ``surface`` at ``pos`` in one pass.

    Window surfaces are 32-bit BGRX on the platforms we run on: OpenCV converts
    straight into their memory. Any other pixel format takes pygame's blit.
    """
    import cv2
    import numpy as np
    import pygame

    h, w = pixels.shape[:2]
    if surface.get_bytesize() == 4 and tuple(surface.get_masks()[:3]) == BGRX_MASKS:
        _convert_bgrx(surface, pixels, pos, cv2, np)
    else:
        surface.blit(pygame.image.frombuffer(pixels.data, (w, h), "BGR"), pos)


def _convert_bgrx(surface: Any, pixels: Any, pos: tuple[int, int], cv2: Any, np: Any) -> None:
    """The pixel view locks the surface; it goes (and unlocks it) when this returns."""
    h, w = pixels.shape[:2]
    x, y = pos
    rows = np.frombuffer(surface.get_buffer(), np.uint8).reshape(surface.get_height(),
                                                                 surface.get_pitch())
    cv2.cvtColor(pixels, cv2.COLOR_BGR2BGRA, dst=rows[y:y + h, 4 * x:4 * (x + w)].reshape(h, w, 4))
