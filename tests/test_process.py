"""Starting this program again and ending a hung process: SIGKILL on POSIX (a stopped
process cannot refuse it), and on Windows os.kill, which is TerminateProcess whatever the
signal. Run for real on both (make test-windows: the Windows CPython under Wine)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys

import pytest

from kiosk.platform import detached, kill, process, self_argv, ui_environment

SIGKILL = getattr(signal, "SIGKILL", 9)  # POSIX only


@pytest.mark.parametrize(("platform", "sent"), [("win32", signal.SIGTERM),
                                                ("linux", SIGKILL)])
def test_each_platform_ends_a_hung_process_its_own_way(monkeypatch, platform, sent):
    calls: list[tuple[int, int]] = []
    monkeypatch.setattr(process.os, "kill", lambda pid, sig: calls.append((pid, sig)))
    kill(4321, platform)
    assert calls == [(4321, sent)]


@pytest.mark.linux
def test_a_stopped_process_is_ended_for_real():
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        child.send_signal(signal.SIGSTOP)
        kill(child.pid)
        assert child.wait(timeout=5) == -signal.SIGKILL
    finally:
        if child.poll() is None:
            child.kill()


STUBBORN = """
import signal, time
for name in ("SIGTERM", "SIGINT", "SIGBREAK"):  # what a process may refuse, it refuses
    if hasattr(signal, name):
        signal.signal(getattr(signal, name), signal.SIG_IGN)
print("up", flush=True)
time.sleep(60)
"""


def test_a_detached_process_that_refuses_to_end_is_ended_for_real():
    """Started with the real detached options, then killed. Windows: CREATE_NEW_PROCESS_GROUP
    keeps the console's Ctrl+C and Ctrl+Break from it (Microsoft's "Process Creation Flags";
    not observable under Wine, where the Windows CPython runs without a console), and
    Python's os.kill is TerminateProcess with the signal number as the exit code, which no
    handler can refuse."""
    child = subprocess.Popen([sys.executable, "-c", STUBBORN], stdout=subprocess.PIPE,
                             stdin=subprocess.DEVNULL, **detached())
    try:
        assert child.stdout is not None and child.stdout.readline().strip() == b"up"
        kill(child.pid)
        code = child.wait(timeout=5)
        assert code == (signal.SIGTERM if sys.platform == "win32" else -SIGKILL)
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()


@pytest.mark.linux
def test_a_detached_process_has_a_session_of_its_own():
    """So neither a terminal's hang-up nor the guardian's process group reaches it."""
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"],
                               **detached())
    try:
        assert os.getsid(sleeper.pid) == sleeper.pid != os.getsid(0)
    finally:
        sleeper.kill()
        sleeper.wait()


def test_this_program_starts_itself_again_with_its_own_interpreter():
    done = subprocess.run(self_argv("check", "--help"), capture_output=True, text=True,
                          timeout=60, stdin=subprocess.DEVNULL)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("usage: main.py check")


def test_the_ui_gets_the_allocator_settings_on_linux_only():
    """The environment the guardian gives the UI, read back by a real child: glibc's
    settings on Linux; on Windows nothing is added (its C runtimes have no such names)."""
    ours = {name: value for name, value in os.environ.items() if not name.startswith("MALLOC_")}
    child = subprocess.run(
        [sys.executable, "-c", "import os; print(os.environ.get('MALLOC_ARENA_MAX'))"],
        env=ui_environment(ours), capture_output=True, text=True, timeout=30,
        stdin=subprocess.DEVNULL)
    assert child.returncode == 0, child.stderr
    assert child.stdout.strip() == ("None" if sys.platform == "win32" else "2")
