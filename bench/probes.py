"""Small reference programs the bench times beside the kiosk: ``python -m bench.probes WHAT ...``.

- ``decode CLIP grab|read [paced]``: CPU per frame of OpenCV decoding the clip on one
  thread, ``grab()`` (decode only) or ``read()`` (decode and OpenCV's YUV to BGR
  conversion); ``paced``: one frame per 1/fps as a player does (caches go cold between
  frames, so each costs more than in a tight loop).
- ``idle SECONDS tick|wait``: a bare pygame window (the widget's size) that wakes
  10 times a second with ``clock.tick`` or ``event.wait(100)`` and redraws once a
  second; prints its CPU time.
- ``floor CLIP``: what any pygame + OpenCV player needs at least: a window of the
  clip's size and OpenCV decoding the clip into one buffer (its peak RSS is the
  reference for the UI's).
- ``widget_floor SECONDS [given_back]``: the libraries' floor for the widget: pygame,
  numpy, OpenCV and requests imported, a 320×180 window drawn, then idle for SECONDS
  (the bench reads its RSS from outside meanwhile); ``given_back``: after giving the
  memory back as the UI does on entering C (kiosk/platform/memory.py).
Each prints one JSON line.
"""

from __future__ import annotations

import json
import sys
import time

PACED_FRAMES = 150  # 5 s at 30 fps


def decode(clip: str, how: str, paced: bool = False) -> dict[str, float]:
    import cv2
    import numpy as np

    capture = cv2.VideoCapture(clip, cv2.CAP_FFMPEG, [cv2.CAP_PROP_N_THREADS, 1])
    if not capture.isOpened():
        raise SystemExit(f"cannot open {clip}")
    size = (int(capture.get(cv2.CAP_PROP_FRAME_HEIGHT)), int(capture.get(cv2.CAP_PROP_FRAME_WIDTH)))
    period = 1.0 / (capture.get(cv2.CAP_PROP_FPS) or 30.0)
    image = np.empty((*size, 3), np.uint8)
    frames = 0
    cv2.setNumThreads(1)
    started, begun = time.process_time(), time.monotonic()
    while capture.grab() if how == "grab" else capture.read(image)[0]:
        frames += 1
        if paced:
            if frames == PACED_FRAMES:
                break
            time.sleep(max(0.0, begun + frames * period - time.monotonic()))
    cpu = time.process_time() - started
    return {"frames": frames, "cpu_ms_per_frame": 1000 * cpu / max(1, frames)}


def idle(seconds: float, how: str) -> dict[str, float]:
    import os

    os.environ.setdefault("PYGAME_HIDE_SUPPORT_PROMPT", "1")
    import pygame

    pygame.display.init()
    window = pygame.Window("idle", (320, 180))
    clock = pygame.time.Clock()
    second = -1
    end = time.monotonic() + seconds
    started = time.process_time()
    while (now := time.monotonic()) < end:
        if how == "tick":
            pygame.event.get()
            clock.tick(10)
        else:
            pygame.event.wait(100)
        if int(now) != second:
            second = int(now)
            window.get_surface().fill((20, 28, 44))
            window.flip()
    cpu = time.process_time() - started
    return {"cpu_s": cpu, "core_percent": 100 * cpu / seconds}


def floor(clip: str) -> dict[str, float]:
    import os

    os.environ.setdefault("PYGAME_HIDE_SUPPORT_PROMPT", "1")
    import cv2
    import numpy as np
    import pygame

    capture = cv2.VideoCapture(clip, cv2.CAP_FFMPEG, [cv2.CAP_PROP_N_THREADS, 1])
    size = (int(capture.get(cv2.CAP_PROP_FRAME_WIDTH)), int(capture.get(cv2.CAP_PROP_FRAME_HEIGHT)))
    pygame.display.init()
    window = pygame.Window("floor", size)
    window.get_surface().fill((0, 0, 0))
    image = np.empty((size[1], size[0], 3), np.uint8)
    frames = 0
    while frames < 90 and capture.read(image)[0]:
        frames += 1
    window.flip()
    return {"frames": frames}


def widget_floor(seconds: float, given_back: bool) -> dict[str, float]:
    import os

    os.environ.setdefault("PYGAME_HIDE_SUPPORT_PROMPT", "1")
    import cv2  # noqa: F401 (imported is what is measured)
    import numpy  # noqa: F401
    import pygame
    import requests  # noqa: F401

    pygame.display.init()
    window = pygame.Window("widget floor", (320, 180))
    window.get_surface().fill((20, 28, 44))
    window.flip()
    if given_back:
        from kiosk.platform.memory import give_back
        from kiosk.video import decoder_code

        give_back(decoder_code())
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        pygame.event.get()
        time.sleep(0.5)
    return {"seconds": seconds}


def main(argv: list[str]) -> None:
    what, *args = argv
    if what == "decode":
        result = decode(args[0], args[1], paced=args[2:] == ["paced"])
    elif what == "floor":
        result = floor(args[0])
    elif what == "idle":
        result = idle(float(args[0]), args[1])
    elif what == "widget_floor":
        result = widget_floor(float(args[0]), args[1:] == ["given_back"])
    else:
        raise SystemExit(f"unknown probe {what}")
    print(json.dumps(result))


if __name__ == "__main__":
    main(sys.argv[1:])
