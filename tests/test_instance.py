"""One kiosk per PC: a second start finds the lock held; a dead holder's lock is free."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import pytest

from kiosk.platform import InstanceLock
from kiosk.platform.instance import (
    ERROR_ACCESS_DENIED,
    ERROR_ALREADY_EXISTS,
    HOLDER_WAIT_S,
    mutex_name,
)


def test_second_holder_is_refused_and_told_who_holds_it(tmp_path):
    path = tmp_path / "logs" / "kiosk.lock"
    first, second = InstanceLock(path), InstanceLock(path)
    assert first.acquire()
    assert not second.acquire()
    assert second.holder() == os.getpid()
    assert path.read_text() == str(os.getpid())


# flock on a file that exists from the start. Windows' mutex comes before the file does, and
# holder() answers a missing file at once: a start refused there says "pid unknown".
@pytest.mark.linux
def test_start_refused_before_the_holder_wrote_its_pid_still_names_it(tmp_path):
    """The holder takes the lock, then writes its pid: a second start refused in between
    finds the file empty and reads it again instead of saying "pid unknown"."""
    path = tmp_path / "kiosk.lock"
    first = InstanceLock(path)
    assert first._flock()  # locked, pid not written yet: the moment two starts collide in
    naps: list[float] = []

    def sleep(seconds: float) -> None:
        naps.append(seconds)
        if len(naps) == 2:
            first._write_pid()  # the holder gets there while the refused start waits

    second = InstanceLock(path, sleep=sleep)
    assert not second.acquire()
    assert path.read_text() == ""
    assert second.holder() == os.getpid()
    assert len(naps) == 2


def test_holder_of_a_lock_file_that_stays_empty_is_unknown_after_a_second(tmp_path):
    path = tmp_path / "kiosk.lock"
    path.write_text("")
    now = [100.0]

    def sleep(seconds: float) -> None:
        now[0] += seconds

    lock = InstanceLock(path, clock=lambda: now[0], sleep=sleep)
    assert lock.holder() is None
    assert 100.0 + HOLDER_WAIT_S <= now[0] < 100.0 + HOLDER_WAIT_S + 0.1


@pytest.mark.parametrize("content", [None, "not a pid", "4242"])
def test_holder_answers_at_once_unless_the_file_is_empty(tmp_path, content):
    path = tmp_path / "kiosk.lock"
    if content is not None:
        path.write_text(content)

    def sleep(seconds: float) -> None:
        raise AssertionError("waited for a pid that will not change")

    holder = InstanceLock(path, sleep=sleep).holder()
    assert holder == (4242 if content == "4242" else None)


HOLDER = textwrap.dedent("""
    import sys, time
    from pathlib import Path
    from kiosk.platform import InstanceLock
    lock = InstanceLock(Path(sys.argv[1]))  # held while referenced, like the guardian's
    assert lock.acquire()
    print("held", flush=True)
    time.sleep(60)
""")


def test_lock_of_a_killed_holder_is_free_at_once(tmp_path):
    path = tmp_path / "kiosk.lock"
    holder = subprocess.Popen([sys.executable, "-c", HOLDER, str(path)], stdout=subprocess.PIPE,
                              cwd=os.path.dirname(os.path.dirname(__file__)))
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == b"held"
        other = InstanceLock(path)
        assert not other.acquire()
        assert other.holder() == holder.pid
    finally:
        holder.kill()
        holder.wait()
    assert other.acquire_within(5)  # what an adopting guardian does
    assert other.holder() == os.getpid()


def test_lock_is_not_handed_down_to_child_processes(tmp_path):
    path = tmp_path / "kiosk.lock"
    lock = InstanceLock(path)
    assert lock.acquire()
    assert lock._held is not None
    if sys.platform == "win32":  # the mutex handle
        assert not os.get_handle_inheritable(lock._held)
    else:  # the locked file
        assert not os.get_inheritable(lock._held.fileno())


def test_unwritable_lock_folder_does_not_stop_the_kiosk(tmp_path, caplog):
    blocker = tmp_path / "file"
    blocker.write_text("")
    assert InstanceLock(blocker / "kiosk.lock").acquire()  # its folder is a file
    # POSIX locks the file itself; Windows' named mutex needs no file, only the pid is lost.
    said = "cannot write the pid" if sys.platform == "win32" else "cannot open the lock file"
    assert said in caplog.text


class FakeKernel32:
    """CreateMutexW and friends for several processes' handles in one table."""

    def __init__(self, fail_with: int | None = None) -> None:
        self.names: dict[str, int] = {}  # mutex name → open handle count
        self.handles: dict[int, str] = {}
        self.last_error = 0
        self.fail_with = fail_with

    def CreateMutexW(self, attributes, initial_owner, name):  # noqa: N802 (Win32 name)
        assert attributes is None and initial_owner is False
        if self.fail_with is not None:
            self.last_error = self.fail_with
            return 0
        self.last_error = ERROR_ALREADY_EXISTS if self.names.get(name) else 0
        self.names[name] = self.names.get(name, 0) + 1
        handle = len(self.handles) + 100
        self.handles[handle] = name
        return handle

    def CloseHandle(self, handle):  # noqa: N802
        name = self.handles.pop(handle)
        self.names[name] -= 1

    def get_last_error(self):
        return self.last_error


def test_windows_uses_one_named_mutex_per_lock_file(tmp_path):
    kernel32 = FakeKernel32()
    path = tmp_path / "kiosk.lock"
    first = InstanceLock(path, "win32", kernel32=kernel32)
    second = InstanceLock(path, "win32", kernel32=kernel32)
    assert first.acquire()
    assert not second.acquire()
    assert second.holder() == os.getpid()  # the pid file sits at the lock path
    assert kernel32.names == {mutex_name(path): 1}  # the refused start closed its handle
    assert InstanceLock(tmp_path / "other.lock", "win32", kernel32=kernel32).acquire()


def test_windows_mutex_of_a_dead_guardian_is_gone_with_its_handle(tmp_path):
    kernel32 = FakeKernel32()
    path = tmp_path / "kiosk.lock"
    dead = InstanceLock(path, "win32", kernel32=kernel32)
    assert dead.acquire()
    kernel32.CloseHandle(dead._held)  # Windows closes every handle of a process that dies
    assert InstanceLock(path, "win32", kernel32=kernel32).acquire()


def test_windows_mutex_name_is_machine_wide_and_ignores_case(tmp_path):
    name = mutex_name(tmp_path / "Kiosk.lock")
    assert name.startswith("Global\\") and len(name) < 260
    assert name == mutex_name(tmp_path / "KIOSK.LOCK")
    assert name != mutex_name(tmp_path / "other.lock")


@pytest.mark.parametrize(("error", "taken"), [(ERROR_ACCESS_DENIED, False), (1450, True)])
def test_windows_mutex_errors(tmp_path, error, taken):
    """Access denied: another account's kiosk holds it. Anything else: run unlocked, logged."""
    lock = InstanceLock(tmp_path / "kiosk.lock", "win32", kernel32=FakeKernel32(error))
    assert lock.acquire() is taken
