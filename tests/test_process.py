"""Starting this program again and ending a hung process: SIGKILL on POSIX (a stopped
process cannot refuse it), and on Windows os.kill, which is TerminateProcess whatever the
signal. Run for real on both (make test-windows: the Windows CPython under Wine)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from kiosk.platform import detached, kill, process, self_argv, ui_environment
from kiosk.platform.process import MAIN_PY

SIGKILL = getattr(signal, "SIGKILL", 9)  # POSIX only
DETACHED_PROCESS = 0x00000008


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


CONSOLE_REPORT = (  # run by python.exe: whether it got a console window one can see
    "import ctypes\n"
    "from ctypes import wintypes\n"
    "kernel32, user32 = ctypes.WinDLL('kernel32'), ctypes.WinDLL('user32')\n"
    "kernel32.GetConsoleWindow.restype = wintypes.HWND\n"
    "user32.IsWindowVisible.argtypes = (wintypes.HWND,)\n"
    "window = kernel32.GetConsoleWindow()\n"
    "print(bool(window and user32.IsWindowVisible(window)))\n")
WINDOWLESS_PARENT = f"""
import subprocess, sys
from pathlib import Path
from kiosk.platform import detached
console_program = Path(sys.executable).with_name("python.exe")
child = subprocess.run([str(console_program), "-c", {CONSOLE_REPORT!r}], capture_output=True,
                       stdin=subprocess.DEVNULL, timeout=60, **detached())
Path(sys.argv[1]).write_bytes(child.stdout + child.stderr)
"""


@pytest.mark.win32
def test_a_console_program_the_windowless_kiosk_starts_opens_no_window_over_the_page(
        tmp_path):
    """The kiosk runs windowless (pythonw.exe, kiosk.exe). A console program it starts
    detached (shutdown.exe at a reboot, a venue's reboot tool) gets a console window of its
    own, shown over the locked page, unless started with CREATE_NO_WINDOW (Microsoft's
    "Creation of a Console" and "Process Creation Flags"; Wine does the same)."""
    answer = tmp_path / "answer"
    # DETACHED_PROCESS: no console to pass on, as when the logon task starts the kiosk
    # (without it, Wine lets the grandchild share this process's lack of one).
    subprocess.run([str(Path(sys.executable).with_name("pythonw.exe")), "-c",
                    WINDOWLESS_PARENT, str(answer)], cwd=MAIN_PY.parent, timeout=120,
                   check=True, creationflags=DETACHED_PROCESS)
    assert answer.read_text(encoding="ascii").strip() == "False"


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
