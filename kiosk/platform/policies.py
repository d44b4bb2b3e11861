"""What only the venue can set on Windows, read as Windows' own readers see it.

``main.py check`` reports the lock-down no program can apply for itself (Task Manager,
cmd, the Ctrl+Alt+Del screen's rows, a standard account...): the policies are registry
values (read here through ``winreg``, in the 64-bit view as ``regedit`` shows them), and the
account's rights are in its process token (``advapi32``). Which values to read and what
they mean is ``kiosk/check/venue.py``'s (pure); this module only reads.
"""

from __future__ import annotations

import ctypes
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from kiosk.platform.maintenance import HIVES, KEY_WOW64_64KEY

Value = int | str | None  # a DWORD, a string, or None for a value that is not there

# GetTokenInformation's TOKEN_ELEVATION_TYPE (winnt.h).
ELEVATION_DEFAULT, ELEVATION_FULL, ELEVATION_LIMITED = 1, 2, 3
TOKEN_QUERY = 0x0008
TOKEN_ELEVATION_TYPE = 18  # the TOKEN_INFORMATION_CLASS TokenElevationType
WIN_BUILTIN_ADMINISTRATORS_SID = 26  # WELL_KNOWN_SID_TYPE
SECURITY_MAX_SID_SIZE = 68


class Registry:
    """Registry values through ``winreg``; ``hives`` maps HKLM and HKCU to the roots to read
    (the tests under Wine read a copy of the policy keys under HKCU)."""

    def __init__(self, winreg: Any, hives: Mapping[str, str] | None = None) -> None:
        self.winreg = winreg
        self.hives = dict(hives or HIVES)

    def _open(self, hive: str, key: str) -> Any:
        winreg = self.winreg
        return winreg.OpenKey(getattr(winreg, self.hives[hive]), key, 0,
                              winreg.KEY_READ | KEY_WOW64_64KEY)

    def value(self, hive: str, key: str, name: str) -> Value:
        """The value ``name`` of ``hive\\key``; None when the key or value is not there, or
        holds neither a number nor a string."""
        try:
            with self._open(hive, key) as handle:
                data, _kind = self.winreg.QueryValueEx(handle, name)
        except OSError:
            return None
        return data if isinstance(data, (int, str)) else None

    def strings(self, hive: str, key: str) -> tuple[str, ...]:
        """Every string value of ``hive\\key`` (a policy's list), in the registry's order."""
        found: list[str] = []
        try:
            with self._open(hive, key) as handle:
                index = 0
                while True:
                    try:
                        _name, data, _kind = self.winreg.EnumValue(handle, index)
                    except OSError:
                        break  # no more values
                    if isinstance(data, str):
                        found.append(data)
                    index += 1
        except OSError:
            return ()
        return tuple(found)


@dataclass(frozen=True)
class Token:
    """What this process's token says of its account: the elevation type (1 default, 2 full,
    3 limited) and whether the token counts as a member of Administrators now."""

    elevation: int
    admin_member: bool


def _declare(advapi32: Any, kernel32: Any) -> None:
    handle, dword, bool_ = ctypes.c_void_p, ctypes.c_uint32, ctypes.c_int
    signatures = [
        (kernel32.GetCurrentProcess, [], handle),
        (kernel32.CloseHandle, [handle], bool_),
        (advapi32.OpenProcessToken, [handle, dword, ctypes.POINTER(handle)], bool_),
        (advapi32.GetTokenInformation, [handle, ctypes.c_int, ctypes.c_void_p, dword,
                                        ctypes.POINTER(dword)], bool_),
        (advapi32.CreateWellKnownSid, [ctypes.c_int, ctypes.c_void_p, ctypes.c_void_p,
                                       ctypes.POINTER(dword)], bool_),
        (advapi32.CheckTokenMembership, [handle, ctypes.c_void_p, ctypes.POINTER(bool_)],
         bool_),
    ]
    for function, argtypes, restype in signatures:
        function.argtypes, function.restype = argtypes, restype


def read_token(advapi32: Any, kernel32: Any) -> Token:
    """This process's token; OSError names the call that failed.

    ``CheckTokenMembership`` alone is not enough: under UAC an administrator's everyday
    token is filtered (elevation type 3) and holds Administrators only "for deny", so it
    answers "not a member" for an administrator. The elevation type tells that case."""
    _declare(advapi32, kernel32)
    token = ctypes.c_void_p()
    if not advapi32.OpenProcessToken(kernel32.GetCurrentProcess(), TOKEN_QUERY,
                                     ctypes.byref(token)):
        raise OSError(f"OpenProcessToken failed (error {ctypes.get_last_error()})")
    try:
        elevation, size = ctypes.c_int(), ctypes.c_uint32()
        if not advapi32.GetTokenInformation(token, TOKEN_ELEVATION_TYPE, ctypes.byref(elevation),
                                            ctypes.sizeof(elevation), ctypes.byref(size)):
            raise OSError(f"GetTokenInformation failed (error {ctypes.get_last_error()})")
    finally:
        kernel32.CloseHandle(token)
    sid = ctypes.create_string_buffer(SECURITY_MAX_SID_SIZE)
    sid_size, member = ctypes.c_uint32(SECURITY_MAX_SID_SIZE), ctypes.c_int()
    if not advapi32.CreateWellKnownSid(WIN_BUILTIN_ADMINISTRATORS_SID, None, sid,
                                       ctypes.byref(sid_size)):
        raise OSError(f"CreateWellKnownSid failed (error {ctypes.get_last_error()})")
    if not advapi32.CheckTokenMembership(None, sid, ctypes.byref(member)):
        raise OSError(f"CheckTokenMembership failed (error {ctypes.get_last_error()})")
    return Token(elevation.value, bool(member.value))


class ThisPC:
    """The registry and token of this Windows PC, for the user running the check."""

    def __init__(self) -> None:
        import winreg  # Windows only

        self.registry = Registry(winreg)

    def token(self) -> Token:
        advapi32 = ctypes.WinDLL("advapi32", use_last_error=True)  # type: ignore[attr-defined]
        kernel32 = ctypes.WinDLL("kernel32", use_last_error=True)  # type: ignore[attr-defined]
        return read_token(advapi32, kernel32)
