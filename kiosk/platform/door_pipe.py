"""Windows: the admin exit's door (kiosk/watchdog_door.py) as a named pipe.

Facts relied on (Microsoft's documentation, "Named Pipe Security and Access Rights",
CreateNamedPipeW, GetNamedPipeServerSessionId):
- The service creates the pipe's only instance (``nMaxInstances`` 1) with
  ``FILE_FLAG_FIRST_PIPE_INSTANCE``: if any program made the name first, creating fails
  and the door stays shut (logged) rather than sharing a name; while the service holds
  it, nobody can add an instance.
- Its DACL lets LocalSystem and administrators do anything and interactive or
  authenticated users only read and write data (``FILE_GENERIC_READ | FILE_WRITE_DATA``):
  not ``FILE_CREATE_PIPE_INSTANCE`` (which ``GENERIC_WRITE`` would include), so no user
  can serve the name. Remote clients are refused (``PIPE_REJECT_REMOTE_CLIENTS``).
- The UI sends the password only to a server in session 0, where services run and no
  user's program can: ``GetNamedPipeServerSessionId``.
"""

from __future__ import annotations

import ctypes
import logging
import threading
from collections.abc import Callable
from ctypes import wintypes
from typing import Any

log = logging.getLogger(__name__)

PIPE = "\\\\.\\pipe\\kiosk-watchdog-door"
PIPE_ACCESS_DUPLEX = 0x3
FILE_FLAG_FIRST_PIPE_INSTANCE = 0x00080000
PIPE_TYPE_BYTE, PIPE_READMODE_BYTE, PIPE_WAIT = 0x0, 0x0, 0x0
PIPE_REJECT_REMOTE_CLIENTS = 0x8
GENERIC_READ = 0x80000000
FILE_WRITE_DATA = 0x2
OPEN_EXISTING = 3
INVALID_HANDLE_VALUE = ctypes.c_void_p(-1).value
ERROR_PIPE_CONNECTED = 535
ERROR_PIPE_BUSY = 231  # the one instance serves another client: wait for it
BUSY_WAIT_MS = 5000
SDDL_REVISION_1 = 1
# FILE_GENERIC_READ (0x120089) | FILE_WRITE_DATA (0x2) for users; all for SYSTEM and admins.
PIPE_SDDL = "D:P(A;;GA;;;SY)(A;;GA;;;BA)(A;;0x12008b;;;IU)(A;;0x12008b;;;AU)"
SERVICES_SESSION = 0
MAX_LINE = 512


class SECURITY_ATTRIBUTES(ctypes.Structure):  # noqa: N801 (the Win32 name)
    _fields_ = [("nLength", wintypes.DWORD), ("lpSecurityDescriptor", ctypes.c_void_p),
                ("bInheritHandle", wintypes.BOOL)]


def _kernel32() -> Any:
    k = ctypes.WinDLL("kernel32", use_last_error=True)
    h, d, b = wintypes.HANDLE, wintypes.DWORD, wintypes.BOOL
    k.CreateNamedPipeW.restype = h
    k.CreateNamedPipeW.argtypes = (wintypes.LPCWSTR, d, d, d, d, d, d,
                                   ctypes.POINTER(SECURITY_ATTRIBUTES))
    k.ConnectNamedPipe.restype = b
    k.ConnectNamedPipe.argtypes = (h, ctypes.c_void_p)
    k.DisconnectNamedPipe.restype = b
    k.DisconnectNamedPipe.argtypes = (h,)
    k.FlushFileBuffers.restype = b
    k.FlushFileBuffers.argtypes = (h,)
    k.CreateFileW.restype = h
    k.CreateFileW.argtypes = (wintypes.LPCWSTR, d, d, ctypes.c_void_p, d, d, h)
    k.ReadFile.restype = b
    k.ReadFile.argtypes = (h, ctypes.c_void_p, d, ctypes.POINTER(d), ctypes.c_void_p)
    k.WriteFile.restype = b
    k.WriteFile.argtypes = (h, ctypes.c_void_p, d, ctypes.POINTER(d), ctypes.c_void_p)
    k.CloseHandle.restype = b
    k.CloseHandle.argtypes = (h,)
    k.GetNamedPipeServerSessionId.restype = b
    k.GetNamedPipeServerSessionId.argtypes = (h, ctypes.POINTER(wintypes.ULONG))
    k.WaitNamedPipeW.restype = b
    k.WaitNamedPipeW.argtypes = (wintypes.LPCWSTR, d)
    k.LocalFree.restype = ctypes.c_void_p
    k.LocalFree.argtypes = (ctypes.c_void_p,)
    return k


def _descriptor(sddl: str) -> ctypes.c_void_p:
    advapi32 = ctypes.WinDLL("advapi32", use_last_error=True)
    convert = advapi32.ConvertStringSecurityDescriptorToSecurityDescriptorW
    convert.restype = wintypes.BOOL
    convert.argtypes = (wintypes.LPCWSTR, wintypes.DWORD, ctypes.POINTER(ctypes.c_void_p),
                        ctypes.POINTER(wintypes.ULONG))
    descriptor = ctypes.c_void_p()
    if not convert(sddl, SDDL_REVISION_1, ctypes.byref(descriptor), None):
        raise ctypes.WinError(ctypes.get_last_error())
    return descriptor


def _read_line(k: Any, handle: int) -> bytes:
    data = b""
    buffer = ctypes.create_string_buffer(MAX_LINE)
    got = wintypes.DWORD()
    while not data.endswith(b"\n") and len(data) < MAX_LINE:
        if not k.ReadFile(handle, buffer, MAX_LINE - len(data), ctypes.byref(got), None) \
                or not got.value:
            break
        data += buffer.raw[:got.value]
    return data


def _write(k: Any, handle: int, data: bytes) -> None:
    done = wintypes.DWORD()
    k.WriteFile(handle, data, len(data), ctypes.byref(done), None)
    k.FlushFileBuffers(handle)


class PipeServer:
    """The watchdog's end: one instance, answered one client at a time on a thread."""

    def __init__(self, answer: Callable[[bytes], bytes], name: str = PIPE) -> None:
        self.k = _kernel32()
        descriptor = _descriptor(PIPE_SDDL)
        attributes = SECURITY_ATTRIBUTES(ctypes.sizeof(SECURITY_ATTRIBUTES), descriptor, False)
        self.handle = self.k.CreateNamedPipeW(
            name, PIPE_ACCESS_DUPLEX | FILE_FLAG_FIRST_PIPE_INSTANCE,
            PIPE_TYPE_BYTE | PIPE_READMODE_BYTE | PIPE_WAIT | PIPE_REJECT_REMOTE_CLIENTS, 1,
            MAX_LINE, MAX_LINE, 0, ctypes.byref(attributes))
        error = ctypes.get_last_error()
        self.k.LocalFree(descriptor)
        if not self.handle or self.handle == INVALID_HANDLE_VALUE:
            raise OSError(f"CreateNamedPipeW {name} failed (error {error}); another program "
                          f"may hold the name")
        self.answer = answer
        self.closed = threading.Event()
        threading.Thread(target=self._serve, daemon=True, name="admin-door").start()

    def _serve(self) -> None:
        while not self.closed.is_set():
            connected = self.k.ConnectNamedPipe(self.handle, None)
            if not connected and ctypes.get_last_error() != ERROR_PIPE_CONNECTED:
                if self.closed.wait(0.5):
                    return
                continue
            try:
                _write(self.k, self.handle, self.answer(_read_line(self.k, self.handle)))
            finally:
                self.k.DisconnectNamedPipe(self.handle)

    def close(self) -> None:
        self.closed.set()


def _open(k: Any, name: str) -> int | str:
    for _ in range(2):
        handle = k.CreateFileW(name, GENERIC_READ | FILE_WRITE_DATA, 0, None, OPEN_EXISTING,
                               0, None)
        if handle and handle != INVALID_HANDLE_VALUE:
            return handle
        error = ctypes.get_last_error()
        if error != ERROR_PIPE_BUSY or not k.WaitNamedPipeW(name, BUSY_WAIT_MS):
            return f"no watchdog (error {error})"
    return "no watchdog (the door stayed busy)"


def ask(line: bytes, name: str = PIPE, services_session: int = SERVICES_SESSION
        ) -> bytes | str:
    """The UI's end: send ``line`` to a server in ``services_session`` only (session 0 on
    Windows since Vista; Wine runs services in the user's session); its answer, or why not."""
    k = _kernel32()
    handle = _open(k, name)
    if isinstance(handle, str):
        return handle
    try:
        session = wintypes.ULONG(0xFFFFFFFF)
        if not k.GetNamedPipeServerSessionId(handle, ctypes.byref(session)):
            return f"cannot tell who serves the door (error {ctypes.get_last_error()})"
        if session.value != services_session:
            return f"the door is served from session {session.value}, not by a service: " \
                   f"the password is not sent"
        _write(k, handle, line)
        return _read_line(k, handle)
    finally:
        k.CloseHandle(handle)
