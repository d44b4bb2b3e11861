"""Windows: the watchdog's hold on the kiosk's processes, and starting the kiosk in the
logged-on user's session from a LocalSystem service.

Facts relied on (Microsoft's documentation):
- A process handle refers to one process object, never to a pid that is reused; it is
  signaled when the process ends. ``WaitForMultipleObjects`` waits on up to 64 handles
  with no CPU use. A handle opened with ``SYNCHRONIZE | PROCESS_QUERY_LIMITED_INFORMATION``
  (and ``PROCESS_TERMINATE``, used only after a failed reboot) is verified through
  itself: ``QueryFullProcessImageNameW`` gives the program's path,
  ``NtQueryInformationProcess(ProcessCommandLineInformation)`` (Windows 8.1 and later) its
  command line, read by ``CommandLineToArgvW`` as the C runtime splits it; still unsignaled
  after that, what was read is the process the handle holds.
- A LocalSystem service runs in session 0, which shows nothing: the kiosk is started in
  the active console session with that session's user token (``WTSGetActiveConsoleSessionId``,
  ``WTSQueryUserToken``, which only LocalSystem may call), that user's environment
  (``CreateEnvironmentBlock``) and the interactive desktop ``winsta0\\default``, through
  ``CreateProcessAsUserW``. The child's handle is the watchdog's own.
"""

from __future__ import annotations

import ctypes
import logging
import os
import subprocess
import sys
import threading
from collections.abc import Callable
from ctypes import wintypes
from pathlib import Path
from typing import Any

from kiosk.platform.process import CREATE_NEW_PROCESS_GROUP, self_argv
from kiosk.platform.watch import SCAN_S, Hold, Rules, all_gone, is_kiosk, windows_key

log = logging.getLogger(__name__)

SYNCHRONIZE = 0x00100000
PROCESS_TERMINATE = 0x0001
PROCESS_QUERY_LIMITED_INFORMATION = 0x1000
TH32CS_SNAPPROCESS = 0x2
INVALID_HANDLE_VALUE = ctypes.c_void_p(-1).value
WAIT_OBJECT_0, WAIT_TIMEOUT, WAIT_FAILED = 0x0, 0x102, 0xFFFFFFFF
INFINITE = 0xFFFFFFFF
MAXIMUM_WAIT_OBJECTS = 64  # the wake event and 63 kiosk processes
STILL_ACTIVE = 259
PROCESS_COMMAND_LINE_INFORMATION = 60
CREATE_UNICODE_ENVIRONMENT = 0x400
INTERACTIVE_DESKTOP = "winsta0\\default"
NO_SESSION = 0xFFFFFFFF  # WTSGetActiveConsoleSessionId: no one at the console


class PROCESSENTRY32W(ctypes.Structure):
    _fields_ = [("dwSize", wintypes.DWORD), ("cntUsage", wintypes.DWORD),
                ("th32ProcessID", wintypes.DWORD), ("th32DefaultHeapID", ctypes.c_size_t),
                ("th32ModuleID", wintypes.DWORD), ("cntThreads", wintypes.DWORD),
                ("th32ParentProcessID", wintypes.DWORD), ("pcPriClassBase", wintypes.LONG),
                ("dwFlags", wintypes.DWORD), ("szExeFile", wintypes.WCHAR * 260)]


class UNICODE_STRING(ctypes.Structure):  # noqa: N801 (the Win32 name)
    _fields_ = [("Length", wintypes.USHORT), ("MaximumLength", wintypes.USHORT),
                ("Buffer", ctypes.c_void_p)]


class STARTUPINFOW(ctypes.Structure):
    _fields_ = [("cb", wintypes.DWORD), ("lpReserved", wintypes.LPWSTR),
                ("lpDesktop", wintypes.LPWSTR), ("lpTitle", wintypes.LPWSTR),
                ("dwX", wintypes.DWORD), ("dwY", wintypes.DWORD), ("dwXSize", wintypes.DWORD),
                ("dwYSize", wintypes.DWORD), ("dwXCountChars", wintypes.DWORD),
                ("dwYCountChars", wintypes.DWORD), ("dwFillAttribute", wintypes.DWORD),
                ("dwFlags", wintypes.DWORD), ("wShowWindow", wintypes.WORD),
                ("cbReserved2", wintypes.WORD), ("lpReserved2", ctypes.c_void_p),
                ("hStdInput", wintypes.HANDLE), ("hStdOutput", wintypes.HANDLE),
                ("hStdError", wintypes.HANDLE)]


class PROCESS_INFORMATION(ctypes.Structure):  # noqa: N801
    _fields_ = [("hProcess", wintypes.HANDLE), ("hThread", wintypes.HANDLE),
                ("dwProcessId", wintypes.DWORD), ("dwThreadId", wintypes.DWORD)]


def _declare(dll: Any, name: str, restype: Any, *argtypes: Any) -> None:
    function = getattr(dll, name)
    function.restype, function.argtypes = restype, argtypes


class Win32:
    """The calls used here, with their signatures (64-bit handles)."""

    def __init__(self) -> None:
        h, d, b = wintypes.HANDLE, wintypes.DWORD, wintypes.BOOL
        self.kernel32 = k = ctypes.WinDLL("kernel32", use_last_error=True)
        _declare(k, "CreateToolhelp32Snapshot", h, d, d)
        _declare(k, "Process32FirstW", b, h, ctypes.POINTER(PROCESSENTRY32W))
        _declare(k, "Process32NextW", b, h, ctypes.POINTER(PROCESSENTRY32W))
        _declare(k, "OpenProcess", h, d, b, d)
        _declare(k, "CloseHandle", b, h)
        _declare(k, "QueryFullProcessImageNameW", b, h, d, wintypes.LPWSTR,
                 ctypes.POINTER(d))
        _declare(k, "WaitForSingleObject", d, h, d)
        _declare(k, "WaitForMultipleObjects", d, d, ctypes.POINTER(h), b, d)
        _declare(k, "CreateEventW", h, ctypes.c_void_p, b, b, wintypes.LPCWSTR)
        _declare(k, "SetEvent", b, h)
        _declare(k, "GetExitCodeProcess", b, h, ctypes.POINTER(d))
        _declare(k, "TerminateProcess", b, h, wintypes.UINT)
        _declare(k, "WTSGetActiveConsoleSessionId", d)
        _declare(k, "ProcessIdToSessionId", b, d, ctypes.POINTER(d))
        _declare(k, "LocalFree", ctypes.c_void_p, ctypes.c_void_p)
        self.ntdll = n = ctypes.WinDLL("ntdll")
        _declare(n, "NtQueryInformationProcess", wintypes.LONG, h, ctypes.c_int,
                 ctypes.c_void_p, wintypes.ULONG, ctypes.POINTER(wintypes.ULONG))
        self.shell32 = s = ctypes.WinDLL("shell32", use_last_error=True)
        _declare(s, "CommandLineToArgvW", ctypes.POINTER(wintypes.LPWSTR), wintypes.LPCWSTR,
                 ctypes.POINTER(ctypes.c_int))
        self.wtsapi32 = w = ctypes.WinDLL("wtsapi32", use_last_error=True)
        _declare(w, "WTSQueryUserToken", b, wintypes.ULONG, ctypes.POINTER(h))
        self.userenv = u = ctypes.WinDLL("userenv", use_last_error=True)
        _declare(u, "CreateEnvironmentBlock", b, ctypes.POINTER(ctypes.c_void_p), h, b)
        _declare(u, "DestroyEnvironmentBlock", b, ctypes.c_void_p)
        self.advapi32 = a = ctypes.WinDLL("advapi32", use_last_error=True)
        _declare(a, "CreateProcessAsUserW", b, h, wintypes.LPCWSTR, wintypes.LPWSTR,
                 ctypes.c_void_p, ctypes.c_void_p, b, d, ctypes.c_void_p, wintypes.LPCWSTR,
                 ctypes.POINTER(STARTUPINFOW), ctypes.POINTER(PROCESS_INFORMATION))

    # processes

    def pids(self) -> list[int]:
        snapshot = self.kernel32.CreateToolhelp32Snapshot(TH32CS_SNAPPROCESS, 0)
        if not snapshot or snapshot == INVALID_HANDLE_VALUE:
            return []
        found = []
        try:
            entry = PROCESSENTRY32W()
            entry.dwSize = ctypes.sizeof(entry)
            more = self.kernel32.Process32FirstW(snapshot, ctypes.byref(entry))
            while more:
                found.append(int(entry.th32ProcessID))
                more = self.kernel32.Process32NextW(snapshot, ctypes.byref(entry))
        finally:
            self.kernel32.CloseHandle(snapshot)
        return found

    def open(self, pid: int) -> int | None:
        handle = self.kernel32.OpenProcess(
            SYNCHRONIZE | PROCESS_QUERY_LIMITED_INFORMATION | PROCESS_TERMINATE, False, pid)
        return handle or None

    def close(self, handle: int) -> None:
        self.kernel32.CloseHandle(handle)

    def image(self, handle: int) -> str | None:
        size = wintypes.DWORD(32768)
        buffer = ctypes.create_unicode_buffer(size.value)
        if not self.kernel32.QueryFullProcessImageNameW(handle, 0, buffer, ctypes.byref(size)):
            return None
        return buffer.value

    def command_line(self, handle: int) -> str | None:
        size = wintypes.ULONG(0)
        self.ntdll.NtQueryInformationProcess(handle, PROCESS_COMMAND_LINE_INFORMATION, None, 0,
                                             ctypes.byref(size))
        if not size.value:
            return None
        buffer = ctypes.create_string_buffer(size.value)
        status = self.ntdll.NtQueryInformationProcess(
            handle, PROCESS_COMMAND_LINE_INFORMATION, buffer, size, ctypes.byref(size))
        if status < 0:
            return None
        text = UNICODE_STRING.from_buffer(buffer)
        return ctypes.wstring_at(text.Buffer, text.Length // 2) if text.Buffer else None

    def split(self, line: str) -> list[str]:
        count = ctypes.c_int(0)
        argv = self.shell32.CommandLineToArgvW(line, ctypes.byref(count))
        if not argv:
            return []
        try:
            return [argv[i] for i in range(count.value)]
        finally:
            self.kernel32.LocalFree(argv)

    def alive(self, handle: int) -> bool:
        return self.kernel32.WaitForSingleObject(handle, 0) == WAIT_TIMEOUT

    def terminate(self, handle: int) -> None:
        self.kernel32.TerminateProcess(handle, 1)

    def exit_code(self, handle: int) -> int | None:
        code = wintypes.DWORD()
        if not self.kernel32.GetExitCodeProcess(handle, ctypes.byref(code)):
            return None
        return None if code.value == STILL_ACTIVE else int(code.value)

    def session_of(self, pid: int) -> int | None:
        session = wintypes.DWORD()
        ok = self.kernel32.ProcessIdToSessionId(pid, ctypes.byref(session))
        return int(session.value) if ok else None

    # waiting

    def event(self) -> int:
        return self.kernel32.CreateEventW(None, False, False, None)

    def set(self, event: int) -> None:
        self.kernel32.SetEvent(event)

    def wait_any(self, handles: list[int], timeout_ms: int) -> int:
        """The index of a signaled handle, or -1 on a timeout or failure."""
        array = (wintypes.HANDLE * len(handles))(*handles)
        result = self.kernel32.WaitForMultipleObjects(len(handles), array, False, timeout_ms)
        if result in (WAIT_TIMEOUT, WAIT_FAILED) or result >= len(handles):
            return -1
        return int(result - WAIT_OBJECT_0)

    # starting in the user's session

    def console_session(self) -> int | None:
        session = self.kernel32.WTSGetActiveConsoleSessionId()
        return None if session == NO_SESSION else int(session)

    def start_as_user(self, session: int, argv: list[str], cwd: str) -> tuple[int, int]:
        """Start ``argv`` as the user of ``session`` on its desktop: (process handle, pid)."""
        token = wintypes.HANDLE()
        if not self.wtsapi32.WTSQueryUserToken(session, ctypes.byref(token)):
            raise ctypes.WinError(ctypes.get_last_error())
        environment = ctypes.c_void_p()
        try:
            if not self.userenv.CreateEnvironmentBlock(ctypes.byref(environment), token, False):
                raise ctypes.WinError(ctypes.get_last_error())
            startup = STARTUPINFOW()
            startup.cb = ctypes.sizeof(startup)
            startup.lpDesktop = INTERACTIVE_DESKTOP
            info = PROCESS_INFORMATION()
            line = ctypes.create_unicode_buffer(subprocess.list2cmdline(argv))
            if not self.advapi32.CreateProcessAsUserW(
                    token, None, line, None, None, False,
                    CREATE_UNICODE_ENVIRONMENT | CREATE_NEW_PROCESS_GROUP, environment, cwd,
                    ctypes.byref(startup), ctypes.byref(info)):
                raise ctypes.WinError(ctypes.get_last_error())
            self.kernel32.CloseHandle(info.hThread)
            return int(info.hProcess), int(info.dwProcessId)
        finally:
            if environment:
                self.userenv.DestroyEnvironmentBlock(environment)
            self.kernel32.CloseHandle(token)


class WindowsProcesses(Hold):
    """Holds a handle on each kiosk process; ``wait_gone`` returns when none is left."""

    def __init__(self, rules: Rules, api: Any = None,
                 argv: Callable[..., list[str]] = self_argv) -> None:
        super().__init__()
        self.rules = rules
        self.api = api or Win32()
        self._argv = argv
        self.child: tuple[int, int] | None = None  # (handle, pid) of the kiosk we started
        self._wake = self.api.event()

    def _verified(self, handle: int) -> bool:
        image = self.api.image(handle)
        if image is None:
            return False
        line = self.api.command_line(handle)
        if line is None:  # before Windows 8.1 (and Wine 8): the program's path alone
            return self.rules.main_py is None and any(
                windows_key(image, "") == windows_key(str(program), "")
                for program in self.rules.programs)
        argv = self.api.split(line)
        return is_kiosk(Path(image), argv, self.rules.config.parent, self.rules, windows_key)

    def scan(self) -> None:
        for pid in self.api.pids():
            if pid in self.watched or pid in (0, 4, os.getpid()):
                continue
            if len(self.watched) >= MAXIMUM_WAIT_OBJECTS - 1:
                log.error("watchdog: more kiosk processes than one wait can hold; %d left out",
                          pid)
                return
            handle = self.api.open(pid)
            if handle is None:
                continue
            if self._verified(handle) and self.api.alive(handle):
                self.watched[pid] = handle
                log.info("watchdog: watching kiosk process %d (session %s)", pid,
                         self.api.session_of(pid))
            else:
                self.api.close(handle)

    def wake(self) -> None:
        self.api.set(self._wake)

    def wait_gone(self, stop: threading.Event) -> bool:
        self.scan()
        while not stop.is_set():
            pids = list(self.watched)
            handles = [self._wake, *(self.watched[pid] for pid in pids)]
            timeout = INFINITE if pids else int(SCAN_S * 1000)
            self.api.wait_any(handles, timeout)
            ended = [pid for pid in pids if not self.api.alive(self.watched[pid])]
            for pid in ended:
                handle = self.watched.pop(pid)
                if self.child is None or handle != self.child[0]:
                    self.api.close(handle)  # ours is kept for its exit code
            if all_gone(self, ended):
                return True
        return False

    def kill_watched(self) -> None:
        for handle in self.watched.values():
            self.api.terminate(handle)

    def last_exit(self) -> int | None:
        return None if self.child is None else self.api.exit_code(self.child[0])

    def start(self, rebooting: str | None, outcome: str | None) -> None:
        session = self.api.console_session()
        if session is None:
            log.error("watchdog: nobody is logged on at the console; the kiosk starts at the "
                      "next logon")
            return
        args = ["--config", str(self.rules.config)]
        if rebooting:
            args += ["--rebooting", rebooting, "--reboot-outcome", outcome or "started"]
        argv = windowed(self._argv(*args))
        try:
            handle, pid = self.api.start_as_user(session, argv, str(self.rules.config.parent))
        except OSError as exc:
            log.error("watchdog: cannot start the kiosk %s in session %d: %s", argv, session,
                      exc)
            return
        if self.child is not None:
            self.api.close(self.child[0])
        self.child = (handle, pid)
        self.watched[pid] = handle
        log.warning("watchdog: started the kiosk in session %d, pid %d%s", session, pid,
                    f" locked on the reboot ({rebooting})" if rebooting else "")


def windowed(argv: list[str]) -> list[str]:
    """The kiosk runs under the windowed twin (no console window behind it), as the logon
    task starts it: kiosk.exe beside kiosk-console.exe, pythonw.exe beside python.exe."""
    program = Path(argv[0])
    twin = program.with_name("kiosk.exe" if getattr(sys, "frozen", False) else "pythonw.exe")
    return [str(twin) if twin.exists() else argv[0], *argv[1:]]
