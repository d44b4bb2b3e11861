"""The UI's side of the watch: life signs only from a running loop; a silent guardian is
replaced, a closed one too; the guardian's word that its reboot failed reaches the UI."""

from __future__ import annotations

import io
import os
import signal
import subprocess
import sys
import threading
import time

import pytest

from kiosk import guardian_link
from kiosk.guardian import REBOOT_FAILED_LINE
from kiosk.guardian_link import GuardianLink
from tests.waiting import wait_until

# How a process ended by kiosk.platform.kill exits: by SIGKILL on POSIX; on Windows by
# TerminateProcess, with os.kill's signal number (SIGTERM) as its exit code.
KILLED = signal.SIGTERM if sys.platform == "win32" else -signal.SIGKILL


class Sink(io.RawIOBase):
    """The pipe to the guardian: remembers every line written, from any thread."""

    def __init__(self) -> None:
        self.data = bytearray()

    def writable(self) -> bool:
        return True

    def write(self, b) -> int:
        self.data += bytes(b)
        return len(b)

    def lines(self) -> list[bytes]:
        return bytes(self.data).splitlines()


@pytest.fixture
def fast_beat(monkeypatch):
    monkeypatch.setattr(guardian_link, "HEARTBEAT_S", 0.05)


def guardian_pipe() -> tuple[io.BufferedReader, int]:
    read_fd, write_fd = os.pipe()
    return os.fdopen(read_fd, "rb"), write_fd


def quiet_for(sink: Sink, seconds: float, within: float = 10.0) -> bool:
    """Whether ``sink`` got no new line for ``seconds`` at some point ``within`` from now:
    a beat still going never lets it, a late one on a busy machine only delays it."""
    deadline = time.monotonic() + within
    count, since = len(sink.lines()), time.monotonic()
    while time.monotonic() < deadline:
        time.sleep(0.02)
        if len(sink.lines()) != count:
            count, since = len(sink.lines()), time.monotonic()
        elif time.monotonic() - since >= seconds:
            return True
    return False


def test_life_sign_goes_out_while_starting_then_only_while_the_loop_runs(fast_beat,
                                                                         monkeypatch):
    monkeypatch.setattr(guardian_link, "START_GRACE_S", 1.0)
    sink = Sink()
    pipe, write_fd = guardian_pipe()
    link = GuardianLink(sink, pipe, [])
    link.start()
    try:
        # starting (window, fonts): signs without loop steps, the first at once
        wait_until(lambda: len(sink.lines()) >= 2, 10, 0.05, "no signs while starting")
        # a start stuck past the grace: silence, ten beats long and more
        assert quiet_for(sink, 0.5)
        quiet_at = len(sink.lines())

        def loop_turning() -> bool:  # the loop runs: signs again
            link.progress()
            return len(sink.lines()) >= quiet_at + 2

        wait_until(loop_turning, 10, 0.05, "no signs while the loop runs")
        # stuck again: silence
        assert quiet_for(sink, 0.5)
    finally:
        link.quit()
        os.close(write_fd)


def test_the_first_life_sign_goes_out_at_once(monkeypatch):
    monkeypatch.setattr(guardian_link, "HEARTBEAT_S", 60.0)  # no periodic beat in this test
    sink = Sink()
    pipe, write_fd = guardian_pipe()
    link = GuardianLink(sink, pipe, [])
    link.start()
    try:
        # the guardian's hang_s applies from here on
        wait_until(lambda: b"alive" in sink.lines(), 5, 0.01, "no life sign at start")
    finally:
        link.quit()
        os.close(write_fd)


def replaced(link: GuardianLink, monkeypatch) -> threading.Event:
    done = threading.Event()

    def respawn() -> None:
        link._closed.set()  # one replacement is enough for the test
        done.set()

    monkeypatch.setattr(link, "_respawn", respawn)
    return done


def test_silent_guardian_is_killed_and_replaced(monkeypatch):
    hung = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    pipe, write_fd = guardian_pipe()
    link = GuardianLink(Sink(), pipe, [], hang_s=0.3, guardian_pid=hung.pid)
    done = replaced(link, monkeypatch)
    os.write(write_fd, b"alive\n")  # one sign, then silence (the start grace is over)
    link.start()
    try:
        assert done.wait(10), "the silent guardian was not replaced"
        assert hung.wait(timeout=5) == KILLED
    finally:
        hung.kill()
        os.close(write_fd)


def test_closed_guardian_is_replaced_without_killing_anything(monkeypatch):
    bystander = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    pipe, write_fd = guardian_pipe()
    link = GuardianLink(Sink(), pipe, [], hang_s=30, guardian_pid=bystander.pid)
    done = replaced(link, monkeypatch)
    link.start()
    os.close(write_fd)
    try:
        assert done.wait(10)
        assert bystander.poll() is None
    finally:
        bystander.kill()
        bystander.wait()


def test_orphaned_ui_never_kills_init(monkeypatch):
    killed: list[int] = []
    monkeypatch.setattr(guardian_link, "kill", killed.append)
    GuardianLink(Sink(), None, [], guardian_pid=1)._kill_guardian()
    assert killed == []


def test_guardians_failed_reboot_reaches_the_ui(monkeypatch):
    pipe, write_fd = guardian_pipe()
    link = GuardianLink(Sink(), pipe, [])
    told = threading.Event()
    link.on_reboot_failed = told.set
    link.start()
    try:
        os.write(write_fd, b"alive\n" + REBOOT_FAILED_LINE)
        assert told.wait(5) and link.reboot_failed.is_set()
    finally:
        link.quit()
        os.close(write_fd)


def test_a_new_guardian_hears_the_page_and_where_the_widget_is(monkeypatch):
    sink, fresh = Sink(), Sink()
    link = GuardianLink(sink, None, [])
    link.page("C")
    link.widget("abc:10:20:1")
    assert sink.lines() == [b"page C", b"widget abc:10:20:1"]

    class Child:
        stdin, stdout, pid = fresh, None, 4242

    monkeypatch.setattr("kiosk.guardian_link.subprocess.Popen", lambda *a, **k: Child())
    link._respawn()  # the guardian died: a new one must know both at once
    assert fresh.lines() == [b"page C", b"widget abc:10:20:1"]


def test_ui_tells_the_guardian_how_its_reboot_went():
    sink = Sink()
    link = GuardianLink(sink, None, [])
    link.page("R")
    link.reboot("skipped")
    assert sink.lines() == [b"page R", b"reboot skipped"]
