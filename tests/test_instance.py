"""One kiosk per PC: a second start finds the lock held; a dead holder's lock is free."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from typing import Any

import pytest

from kiosk.guardian import ALREADY_RUNNING
from kiosk.platform import InstanceLock, instance, kill
from kiosk.platform.instance import ERROR_ACCESS_DENIED, HOLDER_WAIT_S, mutex_name
from kiosk.platform.process import MAIN_PY


def test_second_holder_is_refused_and_told_who_holds_it(tmp_path):
    path = tmp_path / "logs" / "kiosk.lock"
    first, second = InstanceLock(path), InstanceLock(path)
    assert first.acquire()
    assert not second.acquire()
    assert second.holder() == os.getpid()
    assert path.read_text() == str(os.getpid())


def test_start_refused_before_the_holder_wrote_its_pid_still_names_it(tmp_path):
    """The holder takes the lock, then writes its pid: a second start refused in between
    finds the file empty (Windows: not there yet) and reads it again instead of saying
    "pid unknown"."""
    path = tmp_path / "kiosk.lock"
    first = InstanceLock(path)
    assert first._take()  # locked, pid not written yet: the moment two starts collide in
    naps: list[float] = []

    def sleep(seconds: float) -> None:
        naps.append(seconds)
        if len(naps) == 2:
            first._write_pid()  # the holder gets there while the refused start waits

    second = InstanceLock(path, sleep=sleep)
    assert not second.acquire()
    # Linux: flock's file is there, empty. Windows: the mutex made no file.
    assert (path.read_text() if path.exists() else None) == (
        None if sys.platform == "win32" else "")
    assert second.holder() == os.getpid()
    assert len(naps) == 2


@pytest.mark.parametrize("content", ["", None])
def test_holder_of_a_lock_file_that_stays_empty_or_missing_is_unknown_after_a_second(
        tmp_path, content):
    """Missing is how a Windows holder's file looks before its pid is written."""
    path = tmp_path / "kiosk.lock"
    if content is not None:
        path.write_text(content)
    now = [100.0]

    def sleep(seconds: float) -> None:
        now[0] += seconds

    lock = InstanceLock(path, clock=lambda: now[0], sleep=sleep)
    assert lock.holder() is None
    assert 100.0 + HOLDER_WAIT_S <= now[0] < 100.0 + HOLDER_WAIT_S + 0.1


@pytest.mark.parametrize("content", ["not a pid", "4242"])
def test_holder_answers_at_once_when_the_file_holds_something(tmp_path, content):
    path = tmp_path / "kiosk.lock"
    path.write_text(content)

    def sleep(seconds: float) -> None:
        raise AssertionError("waited for a pid that will not change")

    holder = InstanceLock(path, sleep=sleep).holder()
    assert holder == (4242 if content == "4242" else None)


RACER = textwrap.dedent("""
    import sys, time
    from pathlib import Path
    from kiosk.platform import InstanceLock
    lock = InstanceLock(Path(sys.argv[1]))  # held while referenced, like the guardian's
    while not Path(sys.argv[2]).exists():  # the starting line: all go at once
        time.sleep(0.002)
    if lock.acquire():
        print("held", flush=True)
        time.sleep(60)
    print("refused", lock.holder(), flush=True)
""")


def test_of_starts_racing_one_holds_the_others_name_it_and_killing_it_frees_the_lock(
        tmp_path):
    """Real processes: ``flock`` on Linux, the named mutex under Windows (Wine: the real
    kernel32), ended by ``kill`` (TerminateProcess there) with no chance to let go."""
    path, go = tmp_path / "kiosk.lock", tmp_path / "go"
    racers = [subprocess.Popen([sys.executable, "-c", RACER, str(path), str(go)],
                               stdout=subprocess.PIPE, cwd=os.path.dirname(os.path.dirname(
                                   __file__))) for _ in range(3)]
    try:
        go.touch()
        said = {racer.pid: racer.stdout.readline().split() for racer in racers
                if racer.stdout is not None}
        holders = [pid for pid, words in said.items() if words == [b"held"]]
        assert len(holders) == 1, said
        holder = holders[0]
        assert sorted(words for pid, words in said.items() if pid != holder) == [
            [b"refused", str(holder).encode()]] * 2
        other = InstanceLock(path)
        assert not other.acquire()
        assert other.holder() == holder
        kill(holder)
        assert other.acquire_within(5)  # what an adopting guardian does
        assert other.holder() == os.getpid()
    finally:
        for racer in racers:
            racer.kill()
            racer.wait()


@pytest.mark.linux
def test_lock_is_not_handed_down_to_child_processes(tmp_path):
    path = tmp_path / "kiosk.lock"
    lock = InstanceLock(path)
    assert lock.acquire()
    assert lock._held is not None and not os.get_inheritable(lock._held.fileno())


def test_unwritable_lock_folder_does_not_stop_the_kiosk(tmp_path, caplog):
    """Linux: flock needs the file, so the kiosk runs unlocked (a read-only disk must not
    keep it from locking the PC). Windows: the mutex needs no file; only the pid is not
    written, and a second kiosk is still kept out."""
    blocker = tmp_path / "file"
    blocker.write_text("")
    assert InstanceLock(blocker / "kiosk.lock").acquire()  # its folder is a file
    if sys.platform == "win32":
        assert "cannot write the pid" in caplog.text
        assert not InstanceLock(blocker / "kiosk.lock").acquire()
    else:
        assert "cannot open the lock file" in caplog.text


# --- Windows: the named mutex, through the real kernel32 (under Wine in make test-windows) ---

HANDLE_FLAG_INHERIT = 0x1
SYNCHRONIZE = 0x00100000
ERROR_FILE_NOT_FOUND = 2


def kernel32() -> Any:
    """kernel32 as instance.py declares it, plus the calls only these tests make."""
    import ctypes
    from ctypes import wintypes

    k = instance._kernel32()
    k.OpenMutexW.restype = wintypes.HANDLE
    k.OpenMutexW.argtypes = (wintypes.DWORD, wintypes.BOOL, wintypes.LPCWSTR)
    k.GetHandleInformation.argtypes = (wintypes.HANDLE, ctypes.POINTER(wintypes.DWORD))
    return k


def mutex_exists(k: Any, name: str) -> bool:
    """Whether a mutex of that name exists anywhere on the machine (OpenMutexW)."""
    handle = k.OpenMutexW(SYNCHRONIZE, False, name)
    if not handle:
        assert k.get_last_error() == ERROR_FILE_NOT_FOUND
        return False
    k.CloseHandle(handle)
    return True


@pytest.mark.win32
def test_windows_uses_one_machine_wide_mutex_per_lock_file_and_a_refused_start_keeps_none(
        tmp_path):
    k = kernel32()
    path = tmp_path / "kiosk.lock"
    first, second = InstanceLock(path), InstanceLock(path)
    assert first.acquire()
    assert mutex_exists(k, mutex_name(path))
    assert not second.acquire()
    assert second.holder() == os.getpid()  # the pid file sits at the lock path
    assert InstanceLock(tmp_path / "other.lock").acquire()
    k.CloseHandle(first._held)  # what Windows does for a guardian that dies
    # No handle of the refused start keeps the mutex alive: the next start gets it.
    assert not mutex_exists(k, mutex_name(path))
    assert InstanceLock(path).acquire()


@pytest.mark.win32
def test_windows_mutex_handle_is_not_handed_down_to_child_processes(tmp_path):
    import ctypes
    from ctypes import wintypes

    lock = InstanceLock(tmp_path / "kiosk.lock")
    assert lock.acquire()
    flags = wintypes.DWORD(0xFFFF)
    assert kernel32().GetHandleInformation(lock._held, ctypes.byref(flags))
    assert not flags.value & HANDLE_FLAG_INHERIT


@pytest.mark.win32
def test_windows_mutex_of_a_kiosk_under_another_account_counts_as_held(tmp_path, caplog):
    """A guardian of another account (or elevated by the logon task) made the mutex with a
    security descriptor that gives this account no access: CreateMutexW then returns no
    handle and ERROR_ACCESS_DENIED (Microsoft's CreateMutexW page: other processes open
    the existing mutex only "with sufficient access rights"). An empty DACL plays that
    account here; Wine checks it as Windows does."""
    import ctypes
    from ctypes import wintypes

    class SecurityAttributes(ctypes.Structure):
        _fields_ = [("nLength", wintypes.DWORD), ("lpSecurityDescriptor", wintypes.LPVOID),
                    ("bInheritHandle", wintypes.BOOL)]

    advapi32 = ctypes.WinDLL("advapi32", use_last_error=True)
    convert = advapi32.ConvertStringSecurityDescriptorToSecurityDescriptorW
    convert.argtypes = (wintypes.LPCWSTR, wintypes.DWORD, ctypes.POINTER(wintypes.LPVOID),
                        ctypes.POINTER(wintypes.ULONG))
    descriptor = wintypes.LPVOID()
    assert convert("D:", 1, ctypes.byref(descriptor), None)  # SDDL_REVISION_1, no access
    k = kernel32()
    k.LocalFree.argtypes = (wintypes.LPVOID,)
    path = tmp_path / "kiosk.lock"
    attributes = SecurityAttributes(ctypes.sizeof(SecurityAttributes), descriptor, False)
    theirs = k.CreateMutexW(ctypes.byref(attributes), False, mutex_name(path))
    try:
        assert theirs
        lock = InstanceLock(path)
        assert not lock.acquire()
        assert k.get_last_error() == ERROR_ACCESS_DENIED
        assert "CreateMutexW failed" not in caplog.text  # held is no error
    finally:
        k.CloseHandle(theirs)
        k.LocalFree(descriptor)


def test_windows_mutex_name_is_machine_wide_and_ignores_case(tmp_path):
    name = mutex_name(tmp_path / "Kiosk.lock")
    assert name.startswith("Global\\") and len(name) < 260
    assert name == mutex_name(tmp_path / "KIOSK.LOCK")
    assert name != mutex_name(tmp_path / "other.lock")


class FailingKernel32:
    """CreateMutexW failing for a reason other than the mutex being held. Faked: running
    out of kernel objects (ERROR_NO_SYSTEM_RESOURCES) cannot be provoked safely, under
    Wine or on Windows."""

    def CreateMutexW(self, attributes, initial_owner, name):  # noqa: N802 (Win32 name)
        return 0

    def get_last_error(self):
        return 1450


def test_windows_mutex_that_cannot_be_made_lets_the_kiosk_run_unlocked_and_says_so(
        tmp_path, caplog):
    lock = InstanceLock(tmp_path / "kiosk.lock", "win32", kernel32=FailingKernel32())
    assert lock.acquire()
    assert "CreateMutexW failed (error 1450); running without the lock" in caplog.text


def test_a_second_kiosk_started_by_main_py_is_refused_naming_the_first(tmp_path):
    """The whole start of a guardian up to the lock, in a real process (Windows: the named
    mutex seen across processes), while this process holds the lock as a kiosk would."""
    logs = tmp_path / "logs"
    config = tmp_path / "config.yaml"
    config.write_text(f'client:\n  id: "370011"\nlog:\n  dir: {json.dumps(str(logs))}\n',
                      encoding="utf-8")
    held = InstanceLock(logs / "kiosk.lock")
    assert held.acquire()
    done = subprocess.run([sys.executable, str(MAIN_PY), "--config", str(config)],
                          capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL)
    assert done.returncode == ALREADY_RUNNING, done.stderr
    assert done.stderr.strip().endswith(f"the kiosk is already running (pid {os.getpid()}).")
