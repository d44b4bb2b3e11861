"""Worker threads: they run the calls the flow core asked for and post the answers back.

The UI thread never waits on the network. Each kind of call has its own thread,
so a stalled status poll does not delay a status report; results are handed to a
``post`` function (in the app: a pygame event), never applied here.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable

from kiosk.api import Api
from kiosk.contract import NetworkFault
from kiosk.flow import jittered
from kiosk.logs import Limiter, held_note
from kiosk.media import ITEMS, MediaCache

log = logging.getLogger(__name__)

Post = Callable[[str, object], None]  # (kind, answer)


class Caller:
    """Runs one kind of call at a time on its own thread."""

    def __init__(self, kind: str, call: Callable[[], object], post: Post) -> None:
        self.kind = kind
        self._call = call
        self._post = post
        self._wanted = threading.Event()
        self._stopped = threading.Event()
        self._failures = Limiter()
        self._thread = self._start_thread()

    def _start_thread(self) -> threading.Thread:
        thread = threading.Thread(target=self._run, daemon=True, name=f"call-{self.kind}")
        thread.start()
        return thread

    def ask(self) -> None:
        """Ask for one call; asking again before it starts still makes one call."""
        if not self._thread.is_alive() and not self._stopped.is_set():
            # Whatever ended it, polling must go on: in a session it is what ends the session.
            log.error("the %s worker had stopped; starting a new one", self.kind)
            self._thread = self._start_thread()
        self._wanted.set()

    def stop(self) -> None:
        self._stopped.set()
        self._wanted.set()

    def _run(self) -> None:
        while True:
            self._wanted.wait()
            if self._stopped.is_set():
                return
            self._wanted.clear()
            try:
                answer = self._call()
            except Exception as exc:  # a bug of ours must not stop the polling for good
                self._failed("call", exc)
                answer = NetworkFault("bug", repr(exc)[:200])
            try:
                self._post(self.kind, answer)
            except Exception as exc:
                self._failed("posting the answer", exc)

    def _failed(self, what: str, exc: Exception) -> None:
        """With its traceback, once a minute per kind of error: a bug hit on every poll
        must not fill the disk."""
        held = self._failures.allow((what, type(exc).__name__))
        if held is not None:
            log.error("%s %s failed%s", self.kind, what, held_note(held), exc_info=exc)


class Refresher:
    """Fetches the service number at start-up and then every minute, and the media every
    few minutes while a page that shows them is up (``show_media``): in a session the
    widget shows neither, and checking a new video would load the decoder into it."""

    def __init__(self, api: Api, media: MediaCache, post: Post, *, media_every_s: float,
                 service_every_s: float = 60.0, first_delay_s: float = 0.0,
                 jitter: float = 0.0, rng: random.Random | None = None,
                 media_shown: bool = True) -> None:
        """``first_delay_s`` and ``jitter`` spread a venue's PCs switched on together
        (config ``timers.jitter``), as the flow core spreads its polls."""
        self.api = api
        self.media = media
        self._post = post
        self.media_every_s = media_every_s
        self.service_every_s = min(service_every_s, media_every_s)
        self.first_delay_s = first_delay_s
        self.jitter = jitter
        self.rng = rng if rng is not None else random.Random()
        self._stop = threading.Event()
        self._wake = threading.Event()  # stopped, or the media are shown again
        self._media_shown = media_shown
        self._thread = threading.Thread(target=self._run, daemon=True, name="refresher")

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()

    def show_media(self, shown: bool) -> None:
        """Whether the page on screen shows the background or the video; media that fell
        due while none did are fetched the moment one does."""
        again = shown and not self._media_shown
        self._media_shown = shown
        if again:
            self._wake.set()

    def _run(self) -> None:
        if self._stop.wait(self.first_delay_s):
            return
        service_due = media_due = time.monotonic()
        while not self._stop.is_set():
            try:
                if time.monotonic() >= service_due:
                    service_due = time.monotonic() + self._period(self.service_every_s)
                    self._post("service", self.api.service_number())
                if self._media_shown and time.monotonic() >= media_due:
                    media_due = time.monotonic() + self._period(self.media_every_s)
                    for item in ITEMS:
                        if self.media.refresh(item):
                            self._post("media", item.name)
            except Exception:
                log.exception("background refresh failed")
            due = min(service_due, media_due) if self._media_shown else service_due
            self._wake.wait(max(0.0, due - time.monotonic()))
            self._wake.clear()

    def _period(self, period: float) -> float:
        return jittered(period, self.jitter, self.rng)
