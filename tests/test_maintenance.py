"""Maintenance mode: the flag file, and the diskless systems' registry flags read from the
real registry (Windows, or the Windows CPython under Wine: make test-windows)."""

from __future__ import annotations

import contextlib
import logging
import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from kiosk.platform import Maintenance, MaintenanceWatch
from kiosk.platform.maintenance import (
    DEFAULT_REGISTRY_FLAGS,
    KEY_WOW64_64KEY,
    RegistryFlag,
    parse_flag,
    value_matches,
)

# --- the registry: the real one, in a throwaway key ----------------------------------------
# The diskless systems' own keys (HKLM\SYSTEM\CurrentControlSet\...) are never written: the
# flags are configurable, so each test points them at a key of its own under HKCU.

TEST_ROOT = "Software\\saoma-kiosk-tests"
WOW64_32KEY = 0x0200  # the 32-bit view (Wow6432Node), where a 32-bit program's writes go


def delete_tree(winreg: Any, hive: Any, path: str, view: int = KEY_WOW64_64KEY) -> None:
    """Delete ``path`` and everything under it (winreg.DeleteKeyEx wants an empty key)."""
    try:
        with winreg.OpenKey(hive, path, 0, winreg.KEY_READ | view) as key:
            subkeys = [winreg.EnumKey(key, i) for i in range(winreg.QueryInfoKey(key)[0])]
    except FileNotFoundError:
        return
    for sub in subkeys:
        delete_tree(winreg, hive, f"{path}\\{sub}", view)
    winreg.DeleteKeyEx(hive, path, view)


class Registry:
    """A fresh key under HKCU for one test; ``put`` writes values or makes subkeys in it."""

    def __init__(self, winreg: Any) -> None:
        self.winreg = winreg
        self.path = f"{TEST_ROOT}\\{uuid.uuid4().hex}"

    def put(self, sub: str, values: dict[str, object] | None = None) -> None:
        winreg = self.winreg
        with winreg.CreateKeyEx(winreg.HKEY_CURRENT_USER, f"{self.path}\\{sub}", 0,
                                winreg.KEY_WRITE | KEY_WOW64_64KEY) as key:
            for name, data in (values or {}).items():
                kind = winreg.REG_DWORD if isinstance(data, int) else winreg.REG_SZ
                winreg.SetValueEx(key, name, 0, kind, data)

    def flag(self, entry: str) -> str:
        """A ``maintenance.registry_flags`` entry for ``Key\\Name[ = data]`` in this key."""
        return f"HKCU\\{self.path}\\{entry}"

    def maintenance(self, *entries: str) -> Maintenance:
        return Maintenance(None, [self.flag(entry) for entry in entries], "win32")


@pytest.fixture
def registry() -> Iterator[Registry]:
    import winreg

    made = Registry(winreg)
    try:
        yield made
    finally:
        delete_tree(winreg, winreg.HKEY_CURRENT_USER, made.path)
        with contextlib.suppress(OSError):  # not empty: another test's key is still in it
            winreg.DeleteKeyEx(winreg.HKEY_CURRENT_USER, TEST_ROOT, KEY_WOW64_64KEY)


def test_flag_file_turns_maintenance_on_while_it_exists(tmp_path):
    flag = tmp_path / "maintenance.flag"
    maintenance = Maintenance(flag, DEFAULT_REGISTRY_FLAGS, "linux")
    assert maintenance.reason() is None
    flag.write_text("")
    assert maintenance.reason() == f"flag file {flag}"
    flag.unlink()
    assert maintenance.reason() is None


def test_registry_flags_are_not_read_on_linux(tmp_path):
    def no_winreg():
        raise AssertionError("winreg used on Linux")

    assert Maintenance(None, DEFAULT_REGISTRY_FLAGS, "linux", winreg=no_winreg).reason() is None


@pytest.mark.win32
@pytest.mark.parametrize(("data", "on"), [(1, True), (0, False), (2, False), ("1", True)])
def test_icafe8_super_admin_is_on_only_when_admin_is_1(registry, data, on):
    registry.put("iCafe8", {"Admin": data})
    reason = registry.maintenance("iCafe8\\Admin = 1").reason()
    assert (reason == f"registry HKEY_CURRENT_USER\\{registry.path}\\iCafe8\\Admin = 1"
            ) is on


@pytest.mark.win32
@pytest.mark.parametrize(("values", "subkey", "on"), [
    ({}, True, True),  # the key exists
    ({"SuperAdmin": 1}, False, True),  # a value of that name, set
    ({"SuperAdmin": "yes"}, False, True),
    ({"SuperAdmin": 0}, False, False),
    ({"SuperAdmin": ""}, False, False),
    ({"Other": 1}, False, False),
])
def test_a_flag_without_value_is_on_when_its_key_exists_or_its_value_is_set(
        registry, values, subkey, on):
    registry.put("CurrentControlSet", values)
    if subkey:
        registry.put("CurrentControlSet\\SuperAdmin")
    maintenance = registry.maintenance("CurrentControlSet\\SuperAdmin")
    assert (maintenance.reason() is not None) is on


@pytest.mark.win32
def test_flags_of_diskless_systems_that_are_not_there_leave_maintenance_off(registry):
    """The default entries against the real registry (Wine's prefix has none of their keys),
    and entries whose key is missing: each is simply "not set"."""
    assert Maintenance(None, DEFAULT_REGISTRY_FLAGS, "win32").reason() is None
    assert registry.maintenance("Missing\\Admin = 1", "Missing\\SuperAdmin").reason() is None


class Opened:
    """The real winreg, noting the access each OpenKey asks for."""

    def __init__(self, winreg: Any) -> None:
        self.winreg = winreg
        self.access: list[int] = []

    def __getattr__(self, name: str) -> Any:
        return getattr(self.winreg, name)

    def OpenKey(self, key: Any, sub: str, reserved: int, access: int) -> Any:  # noqa: N802
        self.access.append(access)
        return self.winreg.OpenKey(key, sub, reserved, access)


@pytest.mark.win32
def test_flags_are_read_in_the_64_bit_view_where_regedit_shows_them():
    """A 32-bit program's write to HKLM\\SOFTWARE lands in Wow6432Node (Microsoft's
    "Registry Redirector"; Wine redirects the same way): the kiosk reads what a diskless
    system's 64-bit service wrote, and only that. This Python is 64-bit, where that view is
    the default; KEY_WOW64_64KEY on every open keeps a 32-bit build of the kiosk on it too.
    Writes a throwaway HKLM key (inside Wine's prefix; on Windows skipped without
    administrator rights)."""
    import winreg

    path = f"SOFTWARE\\saoma-kiosk-test-{uuid.uuid4().hex}"
    opened = Opened(winreg)
    maintenance = Maintenance(None, [f"HKLM\\{path}\\Flag = 1"], "win32", winreg=lambda: opened)
    try:
        for view, seen in ((WOW64_32KEY, False), (KEY_WOW64_64KEY, True)):
            try:
                key = winreg.CreateKeyEx(winreg.HKEY_LOCAL_MACHINE, path, 0,
                                         winreg.KEY_WRITE | view)
            except PermissionError:
                pytest.skip("no write access to HKLM")
            with key:
                winreg.SetValueEx(key, "Flag", 0, winreg.REG_DWORD, 1)
            assert (maintenance.reason() is not None) is seen
    finally:
        for view in (WOW64_32KEY, KEY_WOW64_64KEY):
            delete_tree(winreg, winreg.HKEY_LOCAL_MACHINE, path, view)
    assert opened.access and all(access & KEY_WOW64_64KEY for access in opened.access)


@pytest.mark.win32
def test_flag_file_and_registry_both_count_and_the_file_is_named_first(tmp_path, registry):
    flag = tmp_path / "m.flag"
    flag.touch()
    registry.put("iCafe8", {"Admin": 1})
    maintenance = Maintenance(flag, [registry.flag("iCafe8\\Admin = 1")], "win32")
    assert maintenance.reason() == f"flag file {flag}"
    flag.unlink()
    assert maintenance.reason() == f"registry HKEY_CURRENT_USER\\{registry.path}\\iCafe8\\Admin = 1"


@pytest.mark.parametrize(("found", "wanted", "on"), [
    (1, "1", True), (1, "0x1", True), (2, "1", False), (0, "0", True), (1, "yes", False),
    ("1", "1", True), (" Yes ", "yes", True), ("no", "yes", False),
    (1, None, True), ("yes", None, True), (["a"], None, True),
    (0, None, False), ("", None, False), (b"", None, False), ([], None, False),
])
def test_a_registry_value_counts_as_the_flag_by_its_data(found, wanted, on):
    """The decision alone, on any OS: numbers compare as numbers, text without case."""
    assert value_matches(found, wanted) is on


@pytest.mark.parametrize(("entry", "flag"), [
    ("HKLM\\SYSTEM\\CurrentControlSet\\iCafe8\\Admin = 1",
     RegistryFlag("HKEY_LOCAL_MACHINE", "SYSTEM\\CurrentControlSet\\iCafe8", "Admin", "1")),
    ("HKEY_CURRENT_USER\\Software\\Cafe\\Maint",
     RegistryFlag("HKEY_CURRENT_USER", "Software\\Cafe", "Maint", None)),
    ("hklm/SOFTWARE/EYOOCLIENTSTATUS/SuperLogin=yes",
     RegistryFlag("HKEY_LOCAL_MACHINE", "SOFTWARE\\EYOOCLIENTSTATUS", "SuperLogin", "yes")),
])
def test_registry_entries_are_read(entry, flag):
    assert parse_flag(entry) == flag


@pytest.mark.parametrize("entry", ["HKLM\\Admin", "EYOOCLIENTSTATUS\\SuperLogin\\X",
                                   "HKLM\\SYSTEM\\Admin =", ""])
def test_bad_registry_entries_are_refused(entry):
    with pytest.raises(ValueError):
        parse_flag(entry)


def test_watch_logs_each_change_once(tmp_path, caplog):
    flag = tmp_path / "maintenance.flag"
    caplog.set_level(logging.WARNING)
    watch = MaintenanceWatch(Maintenance(flag, [], "linux"), period_s=60)
    assert watch.reason is None and caplog.records == []
    flag.touch()
    watch.check()
    watch.check()
    flag.unlink()
    watch.check()
    watch.check()
    messages = [r.getMessage() for r in caplog.records]
    assert len(messages) == 2
    assert "maintenance mode on" in messages[0] and "off" in messages[1]


def test_watch_notices_a_flag_on_its_own(tmp_path):
    flag = tmp_path / "maintenance.flag"
    watch = MaintenanceWatch(Maintenance(flag, [], "linux"), period_s=0.05).start()
    try:
        flag.touch()
        for _ in range(100):
            if watch.reason:
                break
            time.sleep(0.05)
        assert watch.reason == f"flag file {flag}"
    finally:
        watch.stop()

