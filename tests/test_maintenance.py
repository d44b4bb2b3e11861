"""Maintenance mode: the flag file and the diskless systems' registry flags (winreg faked)."""

from __future__ import annotations

import logging
import time

import pytest

from kiosk.platform import Maintenance, MaintenanceWatch
from kiosk.platform.maintenance import (
    DEFAULT_REGISTRY_FLAGS,
    KEY_WOW64_64KEY,
    RegistryFlag,
    parse_flag,
)


class FakeWinreg:
    """The registry as {(hive, key path): {value name: data}}; subkeys are just other paths."""

    HKEY_LOCAL_MACHINE = "HKLM"
    HKEY_CURRENT_USER = "HKCU"
    KEY_READ = 0x20019

    def __init__(self, keys: dict[tuple[str, str], dict[str, object]]) -> None:
        self.keys = {(hive, path.lower()): values for (hive, path), values in keys.items()}
        self.opened: list[tuple[str, str, int]] = []

    class Key:
        def __init__(self, hive: str, path: str) -> None:
            self.hive, self.path = hive, path

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            return False

    def OpenKey(self, parent, sub, reserved, access):  # noqa: N802 (winreg's name)
        hive, path = (parent.hive, f"{parent.path}\\{sub}") if isinstance(parent, self.Key) \
            else (parent, sub)
        self.opened.append((hive, path, access))
        wanted = path.lower()
        if not any(h == hive and (p == wanted or p.startswith(wanted + "\\"))
                   for h, p in self.keys):  # a key exists when it or a subkey is listed
            raise FileNotFoundError(path)
        return self.Key(hive, path)

    def QueryValueEx(self, key, name):  # noqa: N802
        values = self.keys.get((key.hive, key.path.lower()), {})
        if name not in values:
            raise FileNotFoundError(name)
        return values[name], 4


def on_windows(keys: dict, flags=DEFAULT_REGISTRY_FLAGS) -> tuple[Maintenance, FakeWinreg]:
    winreg = FakeWinreg(keys)
    return Maintenance(None, flags, "win32", winreg=lambda: winreg), winreg


ICAFE8 = ("HKLM", "SYSTEM\\CurrentControlSet\\iCafe8")
CCS = ("HKLM", "SYSTEM\\CurrentControlSet")


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


@pytest.mark.parametrize(("data", "on"), [(1, True), (0, False), (2, False), ("1", True)])
def test_icafe8_super_admin_is_on_only_when_admin_is_1(data, on):
    maintenance, _ = on_windows({ICAFE8: {"Admin": data}})
    reason = maintenance.reason()
    assert (reason == "registry HKEY_LOCAL_MACHINE\\SYSTEM\\CurrentControlSet\\iCafe8\\Admin = 1"
            ) is on


def test_no_diskless_keys_at_all_is_off():
    maintenance, winreg = on_windows({})
    assert maintenance.reason() is None
    assert winreg.opened, "the registry was not looked at"
    assert all(access & KEY_WOW64_64KEY for _, _, access in winreg.opened)  # 64-bit view


@pytest.mark.parametrize(("keys", "on"), [
    ({("HKLM", "SYSTEM\\CurrentControlSet\\SuperAdmin"): {}}, True),  # the key exists
    ({CCS: {"SuperAdmin": 1}}, True),  # a value of that name, set
    ({CCS: {"SuperAdmin": "yes"}}, True),
    ({CCS: {"SuperAdmin": 0}}, False),
    ({CCS: {"SuperAdmin": ""}}, False),
    ({CCS: {"Other": 1}}, False),
])
def test_a_flag_without_value_is_on_when_its_key_exists_or_its_value_is_set(keys, on):
    maintenance, _ = on_windows(keys, ["HKLM\\SYSTEM\\CurrentControlSet\\SuperAdmin"])
    assert (maintenance.reason() is not None) is on


def test_flag_file_and_registry_both_count_and_the_file_is_named_first(tmp_path):
    flag = tmp_path / "m.flag"
    flag.touch()
    winreg = FakeWinreg({ICAFE8: {"Admin": 1}})
    maintenance = Maintenance(flag, DEFAULT_REGISTRY_FLAGS, "win32", winreg=lambda: winreg)
    assert maintenance.reason() == f"flag file {flag}"
    flag.unlink()
    assert maintenance.reason().startswith("registry ")


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

