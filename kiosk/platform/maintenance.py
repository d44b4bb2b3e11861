"""Maintenance mode: while an operator updates the disk image, the kiosk never reboots.

It is on while the flag file exists, or (on Windows) while one of the diskless
systems' "super admin" registry flags is set. Each check is a file stat and a few
registry reads, cheap enough to repeat every few seconds and before every reboot.

Registry entries (``maintenance.registry_flags``) take two forms:

* ``HIVE\\Path\\Name = data``: on when the value ``Name`` of key ``HIVE\\Path`` equals
  ``data`` (numbers compare as numbers, text without regard to case);
* ``HIVE\\Path\\Name``: on when ``HIVE\\Path\\Name`` exists as a key, or when key
  ``HIVE\\Path`` has a value ``Name`` that is neither 0 nor empty.

``HIVE`` is ``HKLM``/``HKEY_LOCAL_MACHINE`` or ``HKCU``/``HKEY_CURRENT_USER``. Keys are
read in the 64-bit view, so a 32-bit build sees the same keys as regedit.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kiosk.periodic import Periodic

log = logging.getLogger(__name__)

# DESIGN.md §7: reported for iCafe8, and two other diskless systems (unverified; configurable).
DEFAULT_REGISTRY_FLAGS = (
    "HKLM\\SYSTEM\\CurrentControlSet\\iCafe8\\Admin = 1",
    "HKLM\\SYSTEM\\CurrentControlSet\\SuperAdmin",
    "HKLM\\SOFTWARE\\EYOOCLIENTSTATUS\\SuperLogin",
)
HIVES = {"HKLM": "HKEY_LOCAL_MACHINE", "HKEY_LOCAL_MACHINE": "HKEY_LOCAL_MACHINE",
         "HKCU": "HKEY_CURRENT_USER", "HKEY_CURRENT_USER": "HKEY_CURRENT_USER"}
KEY_WOW64_64KEY = 0x0100


@dataclass(frozen=True)
class RegistryFlag:
    """One parsed ``maintenance.registry_flags`` entry."""

    hive: str  # the winreg constant's name, e.g. HKEY_LOCAL_MACHINE
    key: str  # the key holding ``name``
    name: str  # a value of ``key``, or (without ``data``) a subkey
    data: str | None  # None: any set value, or the subkey, counts

    @property
    def text(self) -> str:
        where = f"{self.hive}\\{self.key}\\{self.name}"
        return where if self.data is None else f"{where} = {self.data}"


def parse_flag(entry: str) -> RegistryFlag:
    """Read one entry; ValueError says what is wrong with it."""
    where, _, data = entry.partition("=")
    parts = [part for part in where.strip().replace("/", "\\").split("\\") if part]
    if len(parts) < 3:
        raise ValueError(f'"{entry}" must look like HKLM\\Key\\Name or HKLM\\Key\\Name = value')
    hive = HIVES.get(parts[0].upper())
    if hive is None:
        raise ValueError(f'"{entry}" must start with HKLM or HKCU')
    value = data.strip() if "=" in entry else None
    if value == "":
        raise ValueError(f'"{entry}" has nothing after =')
    return RegistryFlag(hive, "\\".join(parts[1:-1]), parts[-1], value)


def value_matches(found: Any, wanted: str | None) -> bool:
    """Whether a registry value's data ``found`` sets a flag asking for ``wanted``."""
    if wanted is None:
        return found not in (0, "", b"", None, [])
    if isinstance(found, int):
        try:
            return found == int(wanted, 0)
        except ValueError:
            return False
    return str(found).strip().casefold() == wanted.casefold()


def registry_flag_set(flag: RegistryFlag, winreg: Any) -> bool:
    """Whether ``flag`` is set; a missing key or value is simply "not set"."""
    hive = getattr(winreg, flag.hive)
    access = winreg.KEY_READ | KEY_WOW64_64KEY
    try:
        with winreg.OpenKey(hive, flag.key, 0, access) as key:
            try:
                found, _kind = winreg.QueryValueEx(key, flag.name)
            except OSError:
                found = None
            else:
                return value_matches(found, flag.data)
            if flag.data is not None:
                return False
            with winreg.OpenKey(key, flag.name, 0, access):
                return True
    except OSError:
        return False


def _winreg() -> Any:
    import winreg  # Windows only; imported lazily so Linux never needs it

    return winreg


class Maintenance:
    """Answers "is maintenance mode on, and why?" with a fresh look each time."""

    def __init__(self, flag_file: Path | None, registry_flags: Sequence[str],
                 platform: str = sys.platform,
                 winreg: Callable[[], Any] = _winreg) -> None:
        self.flag_file = flag_file
        self.flags = [parse_flag(entry) for entry in registry_flags] if platform == "win32" else []
        self._winreg = winreg

    def reason(self) -> str | None:
        """What turns maintenance mode on right now, or None when it is off."""
        if self.flag_file is not None:
            try:
                if self.flag_file.exists():
                    return f"flag file {self.flag_file}"
            except OSError:
                pass  # an unreachable share counts as "no flag", like a missing file
        if self.flags:
            try:
                winreg = self._winreg()
            except ImportError:
                return None
            for flag in self.flags:
                if registry_flag_set(flag, winreg):
                    return f"registry {flag.text}"
        return None


class MaintenanceWatch:
    """Re-checks every ``period_s`` on a thread and logs each change once."""

    def __init__(self, maintenance: Maintenance, period_s: float) -> None:
        self.maintenance = maintenance
        self.reason: str | None = None
        self._looks = Periodic("maintenance", period_s, self._look)
        self.check()

    def check(self) -> str | None:
        """Look now; log when the state changed since the last look."""
        reason = self.maintenance.reason()
        if reason != self.reason:
            if reason:
                log.warning("maintenance mode on (%s): the kiosk will not reboot", reason)
            else:
                log.warning("maintenance mode off: reboots happen again")
        self.reason = reason
        return reason

    def start(self) -> MaintenanceWatch:
        self._looks.start()
        return self

    def stop(self) -> None:
        self._looks.stop()

    def _look(self) -> bool:
        self.check()
        return False  # maintenance comes and goes: watched until stopped
