"""``main.py check``'s lines for what only the venue can set on Windows (kiosk/check/venue.py):
the verdicts over every case, pure, on any OS; the lines through the checks with a made-up
PC; and, under the Windows CPython (``@pytest.mark.win32``), the registry and the account
token read for real through ``winreg`` and ``advapi32``."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest

from kiosk.check import venue
from kiosk.check.checks import CHECKS
from kiosk.check.report import exit_code
from kiosk.check.venue import SETTINGS, judge, judge_account, judge_powershell
from kiosk.platform.policies import Registry, Token
from tests.test_check import by_name, cfg_for, context

BY_NAME = {setting.name: setting for setting in SETTINGS}
NAMES = ("standard account", *BY_NAME, "PowerShell")
ADMINISTRATOR = Token(3, False)  # an administrator's everyday token under UAC
STANDARD = Token(1, False)


# --- the verdicts, pure ------------------------------------------------------------------

# What Microsoft's Policy CSP reference gives for each Group Policy setting: hive, key, value.
DOCUMENTED = {
    "UAC": "HKLM\\Software\\Microsoft\\Windows\\CurrentVersion\\Policies\\System\\EnableLUA",
    "Task Manager": "HKCU\\Software\\Microsoft\\Windows\\CurrentVersion\\Policies\\System\\"
                    "DisableTaskMgr",
    "command prompt": "HKCU\\Software\\Policies\\Microsoft\\Windows\\System\\DisableCMD",
    "fast user switching": "HKLM\\Software\\Microsoft\\Windows\\CurrentVersion\\Policies\\"
                           "System\\HideFastUserSwitching",
    "Ctrl+Alt+Del lock": "HKCU\\Software\\Microsoft\\Windows\\CurrentVersion\\Policies\\System\\"
                         "DisableLockWorkstation",
    "Ctrl+Alt+Del sign-out": "HKCU\\Software\\Microsoft\\Windows\\CurrentVersion\\Policies\\"
                             "Explorer\\NoLogoff",
    "Ctrl+Alt+Del password": "HKCU\\Software\\Microsoft\\Windows\\CurrentVersion\\Policies\\"
                             "System\\DisableChangePassword",
    "notifications": "HKCU\\Software\\Policies\\Microsoft\\Windows\\CurrentVersion\\"
                     "PushNotifications\\NoToastApplicationNotification",
    "edge swipe": "HKLM\\Software\\Policies\\Microsoft\\Windows\\EdgeUI\\AllowEdgeSwipe",
    "Game Bar": "HKLM\\Software\\Policies\\Microsoft\\Windows\\GameDVR\\AllowGameDVR",
}
CLOSED_BY = {"UAC": 1, "Task Manager": 1, "command prompt": 2, "fast user switching": 1,
             "Ctrl+Alt+Del lock": 1, "Ctrl+Alt+Del sign-out": 1, "Ctrl+Alt+Del password": 1,
             "notifications": 1, "edge swipe": 0, "Game Bar": 0}


def test_each_line_names_the_documented_value_and_the_data_to_set():
    assert {s.name: s.path(s.hives[0]) for s in SETTINGS} == DOCUMENTED
    for setting in SETTINGS:
        assert setting.fix.startswith(f"set {DOCUMENTED[setting.name]} = {setting.wanted[0]} "
                                      "(DWORD), or in gpedit.msc ")


@pytest.mark.parametrize("name", list(BY_NAME))
@pytest.mark.parametrize(("found", "closed"), [
    ("unset", None), ("wanted", True), ("wanted as text", True), ("the other", False),
    ("garbage", False)])
def test_a_policy_passes_only_when_its_value_closes_the_gap(name, found, closed):
    setting = BY_NAME[name]
    hive = setting.hives[0]
    value = {"unset": None, "wanted": CLOSED_BY[name], "wanted as text": f" {CLOSED_BY[name]}",
             "the other": 1 - min(CLOSED_BY[name], 1), "garbage": "yes"}[found]
    result = judge(setting, {hive: value})
    if closed is None:  # not set: Windows' default decides (only UAC's default is "on")
        closed = name == "UAC"
    assert result.ok is closed, result
    if closed:
        assert result.detail.startswith(setting.done) and not result.fix
    else:
        assert result.detail.startswith(setting.gap) and result.fix == setting.fix
    assert setting.path(hive) in result.detail
    assert ("is not set" in result.detail) is (value is None)


@pytest.mark.parametrize(("name", "machine", "user", "ok"), [
    ("edge swipe", 0, None, True), ("edge swipe", None, 0, True), ("edge swipe", 1, 0, False),
    ("edge swipe", 0, 1, True), ("notifications", None, 1, True), ("notifications", 1, None, True),
    ("notifications", 0, 1, False), ("notifications", None, None, False)])
def test_a_computer_policy_wins_over_the_users(name, machine, user, ok):
    assert judge(BY_NAME[name], {"HKLM": machine, "HKCU": user}).ok is ok


LISTED = ("powershell.exe", "powershell_ise.exe", "pwsh.exe")


@pytest.mark.parametrize(("enabled", "listed", "ok", "says"), [
    (1, LISTED, True, "lists powershell.exe, powershell_ise.exe, pwsh.exe"),
    (1, ("PowerShell.EXE", "notepad.exe", "pwsh.exe ", "POWERSHELL_ISE.exe"), True, "lists"),
    ("1", LISTED, True, "lists"),
    (None, LISTED, False, "DisallowRun is not set"),
    (0, LISTED, False, "DisallowRun = 0"),
    (1, ("powershell.exe",), False, "does not list powershell_ise.exe, pwsh.exe"),
    (1, (), False, "does not list powershell.exe, powershell_ise.exe, pwsh.exe"),
    (None, (), False, "DisallowRun is not set"),
])
def test_powershell_passes_only_when_explorer_may_start_none_of_its_programs(enabled, listed,
                                                                            ok, says):
    result = judge_powershell(enabled, listed)
    assert result.ok is ok and says in result.detail, result
    assert result.fix == ("" if ok else venue.POWERSHELL_FIX)
    assert "Software\\Microsoft\\Windows\\CurrentVersion\\Policies\\Explorer\\DisallowRun = 1" in (
        venue.POWERSHELL_FIX)


@pytest.mark.parametrize(("token", "ok", "says"), [
    (Token(1, False), True, "this account (kiosk) is a standard user"),
    (Token(1, True), False, "full rights (UAC off, or the built-in Administrator)"),
    # Under UAC an administrator's token holds Administrators only for deny: not a member.
    (Token(3, False), False, "an administrator (UAC holds its rights back"),
    (Token(2, True), False, "runs elevated"),
    (Token(7, False), False, "unknown rights"),
])
def test_only_a_standard_user_passes_the_account_line(token, ok, says):
    result = judge_account("kiosk", token)
    assert result.ok is ok and says in result.detail, result
    assert (result.fix == venue.ACCOUNT_FIX) is not ok


# --- the lines through the checks, with a made-up PC --------------------------------------


@dataclass
class FakeRegistry:
    values: dict[tuple[str, str, str], object] = field(default_factory=dict)
    lists: dict[tuple[str, str], tuple[str, ...]] = field(default_factory=dict)

    def value(self, hive: str, key: str, name: str):
        return self.values.get((hive, key, name))

    def strings(self, hive: str, key: str) -> tuple[str, ...]:
        return self.lists.get((hive, key), ())


@dataclass
class FakePC:
    registry: FakeRegistry = field(default_factory=FakeRegistry)
    account: Token | OSError = STANDARD

    def token(self) -> Token:
        if isinstance(self.account, OSError):
            raise self.account
        return self.account


def locked_down() -> FakePC:
    """A PC set up as the README's lock-down table says."""
    registry = FakeRegistry({(s.hives[0], s.key, s.value): s.wanted[0] for s in SETTINGS})
    registry.values["HKCU", venue.EXPLORER, "DisallowRun"] = 1
    registry.lists["HKCU", f"{venue.EXPLORER}\\DisallowRun"] = LISTED
    return FakePC(registry)


def venue_lines(tmp_path, pc: FakePC | None, platform: str = "win32") -> dict:
    ctx = context(tmp_path, cfg_for(tmp_path, "http://127.0.0.1:9"), platform=platform,
                  policies=lambda: pc)
    return by_name(ctx, NAMES)


def test_a_pc_locked_down_as_the_readme_says_passes_every_venue_line(tmp_path):
    results = venue_lines(tmp_path, locked_down())
    assert list(results) == list(NAMES)
    assert all(r.ok for r in results.values()), results
    assert results["UAC"].detail == f"on ({DOCUMENTED['UAC']} = 1)"


def test_a_fresh_windows_fails_every_venue_line_but_uac_and_says_what_to_set(tmp_path):
    results = venue_lines(tmp_path, FakePC(account=ADMINISTRATOR))
    assert [name for name, r in results.items() if r.ok] == ["UAC"]
    assert "is not set: Windows' default" in results["UAC"].detail
    for name, path in DOCUMENTED.items():
        if name != "UAC":
            assert f"{path} is not set" in results[name].detail
            assert results[name].fix.startswith(f"set {path} = ")
    assert exit_code(list(results.values())) == 1


def test_one_setting_missing_fails_its_own_line_only(tmp_path):
    pc = locked_down()
    del pc.registry.values["HKCU", venue.SYSTEM, "DisableTaskMgr"]
    pc.registry.lists["HKCU", f"{venue.EXPLORER}\\DisallowRun"] = ("powershell.exe",)
    results = venue_lines(tmp_path, pc)
    assert {name for name, r in results.items() if not r.ok} == {"Task Manager", "PowerShell"}


def test_an_account_whose_token_cannot_be_read_fails_its_line(tmp_path):
    pc = locked_down()
    pc.account = OSError("OpenProcessToken failed (error 5)")
    result = venue_lines(tmp_path, pc)["standard account"]
    assert not result.ok and "OpenProcessToken failed (error 5)" in result.detail


def test_a_demo_against_the_embedded_simulator_needs_no_lock_down_but_is_told_its_state(
        tmp_path):
    ctx = context(tmp_path, cfg_for(tmp_path, "embedded"), url="http://127.0.0.1:9",
                  platform="win32", policies=lambda: FakePC(account=ADMINISTRATOR))
    results = by_name(ctx, NAMES)
    assert all(r.ok for r in results.values()), results
    assert results["Task Manager"].detail == (
        f"Ctrl+Alt+Del offers Task Manager, which ends the kiosk ({DOCUMENTED['Task Manager']} "
        "is not set); not needed for a demo against the embedded simulator")
    assert results["UAC"].detail.startswith("on (")  # what is set reads as it does anywhere


def test_off_windows_each_venue_line_says_it_is_a_windows_setting(tmp_path):
    results = venue_lines(tmp_path, None, platform="linux")
    assert list(results) == list(NAMES)
    assert {(r.ok, r.detail) for r in results.values()} == {(True, venue.NOT_HERE)}


def test_the_venue_lines_follow_the_keyboard_lock_in_the_report():
    names = [name for name, _ in CHECKS]
    start = names.index("keyboard lock") + 1
    assert tuple(names[start:start + len(NAMES)]) == NAMES


# --- for real, under the Windows CPython ---------------------------------------------------


@pytest.fixture
def test_key() -> Iterator[tuple[object, str]]:
    """A key of its own under HKCU\\Software that stands for both hives' roots, deleted
    afterwards: the test never writes a policy of the machine (or Wine prefix) it runs on."""
    import winreg

    root = f"Software\\KioskCheckTest-{os.getpid()}-{uuid.uuid4().hex[:8]}\\"
    yield winreg, root

    def delete(path: str) -> None:
        try:
            with winreg.OpenKey(winreg.HKEY_CURRENT_USER, path) as key:
                children = []
                while True:
                    try:
                        children.append(winreg.EnumKey(key, len(children)))
                    except OSError:
                        break
        except OSError:
            return
        for child in children:
            delete(f"{path}\\{child}")
        winreg.DeleteKey(winreg.HKEY_CURRENT_USER, path)

    delete(root.rstrip("\\"))


def write(winreg, root: str, hive: str, key: str, name: str, data, kind=None) -> None:
    with winreg.CreateKeyEx(winreg.HKEY_CURRENT_USER, f"{root}{hive}\\{key}") as handle:
        winreg.SetValueEx(handle, name, 0, kind or (winreg.REG_SZ if isinstance(data, str)
                                                    else winreg.REG_DWORD), data)


@pytest.mark.win32
def test_policies_written_to_the_registry_are_read_back_into_the_lines(tmp_path, test_key):
    winreg, root = test_key
    # Each hive's root is a subkey of the test key: HKLM\X is read from HKCU\<root>HKLM\X.
    registry = Registry(winreg, {"HKLM": "HKEY_CURRENT_USER", "HKCU": "HKEY_CURRENT_USER"})
    pc = FakePC(account=STANDARD)
    pc.registry = _Rooted(registry, root)  # type: ignore[assignment]
    empty = venue_lines(tmp_path, pc)
    assert [name for name, r in empty.items() if not r.ok] == list(NAMES[2:])  # UAC: default

    for setting in SETTINGS:
        write(winreg, root, setting.hives[0], setting.key, setting.value, setting.wanted[0])
    write(winreg, root, "HKCU", venue.EXPLORER, "DisallowRun", 1)
    for i, name in enumerate(LISTED, 1):
        write(winreg, root, "HKCU", f"{venue.EXPLORER}\\DisallowRun", str(i), name)
    write(winreg, root, "HKCU", f"{venue.EXPLORER}\\DisallowRun", "count", 3)  # not a name
    results = venue_lines(tmp_path, pc)
    assert all(r.ok for r in results.values()), results
    assert results["Task Manager"].detail.endswith("\\DisableTaskMgr = 1)")

    write(winreg, root, "HKCU", venue.SYSTEM, "DisableTaskMgr", "0")  # REG_SZ, as some tools do
    write(winreg, root, "HKLM", venue.SYSTEM, "EnableLUA", 0)
    failing = {name for name, r in venue_lines(tmp_path, pc).items() if not r.ok}
    assert failing == {"Task Manager", "UAC"}


@dataclass
class _Rooted:
    """The real ``Registry`` with each hive's keys under ``root<hive>\\`` (see the test)."""

    registry: Registry
    root: str

    def value(self, hive: str, key: str, name: str):
        return self.registry.value(hive, f"{self.root}{hive}\\{key}", name)

    def strings(self, hive: str, key: str):
        return self.registry.strings(hive, f"{self.root}{hive}\\{key}")


@pytest.mark.win32
def test_the_real_token_and_policy_keys_give_a_verdict_on_every_line(tmp_path):
    """This PC as it is (the Wine prefix under make test-windows), read only. Wine's user is
    an administrator; whatever the token says, the account line reports it."""
    from kiosk.platform.policies import ThisPC

    pc = ThisPC()
    token = pc.token()
    assert token.elevation in (1, 2, 3)
    ctx = context(tmp_path, cfg_for(tmp_path, "http://127.0.0.1:9"), platform="win32")
    results = by_name(ctx, NAMES)
    assert list(results) == list(NAMES)
    assert results["standard account"].ok is (token.elevation == 1 and not token.admin_member)
    assert not any("the check itself failed" in r.detail for r in results.values()), results
