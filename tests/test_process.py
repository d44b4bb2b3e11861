"""Ending a hung process: SIGKILL on POSIX (a stopped process cannot refuse it), and on
Windows os.kill, which is TerminateProcess whatever the signal."""

from __future__ import annotations

import signal
import subprocess
import sys

import pytest

from kiosk.platform import kill, process


# SIGKILL is 9 on every POSIX system; Windows' signal module has no such name.
@pytest.mark.parametrize(("platform", "sent"), [("win32", signal.SIGTERM), ("linux", 9)])
def test_each_platform_ends_a_hung_process_its_own_way(monkeypatch, platform, sent):
    calls: list[tuple[int, int]] = []
    monkeypatch.setattr(process.os, "kill", lambda pid, sig: calls.append((pid, sig)))
    kill(4321, platform)
    assert calls == [(4321, sent)]


@pytest.mark.linux  # SIGSTOP
def test_a_stopped_process_is_ended_for_real():
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        child.send_signal(signal.SIGSTOP)
        kill(child.pid)
        assert child.wait(timeout=5) == -signal.SIGKILL
    finally:
        if child.poll() is None:
            child.kill()
