"""What only the venue can set on Windows: which policy closes which way out, and the
verdict on what was read (pure; the reads are kiosk/platform/policies.py's).

Every key, value name and scope below is the one Microsoft's Policy CSP reference gives for
the Group Policy setting named beside it (learn.microsoft.com, client-management/mdm:
ADMX_CtrlAltDel, ADMX_ShellCommandPromptRegEditTools, WindowsLogon, ADMX_WPN, LockDown,
ApplicationManagement; UAC: "User Account Control security policy settings"). A setting
that Windows reads from both the computer and the user policy counts as set when the
computer's value says so, else the user's (the computer's wins where both are set).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from kiosk.check.report import Found, failed, passed
from kiosk.platform.policies import ELEVATION_DEFAULT, ELEVATION_FULL, ELEVATION_LIMITED, Token

Value = int | str | None

SYSTEM = "Software\\Microsoft\\Windows\\CurrentVersion\\Policies\\System"
EXPLORER = "Software\\Microsoft\\Windows\\CurrentVersion\\Policies\\Explorer"
USER_TEMPLATES = "User Configuration > Administrative Templates"
COMPUTER_TEMPLATES = "Computer Configuration > Administrative Templates"
CTRL_ALT_DEL = f"{USER_TEMPLATES} > System > Ctrl+Alt+Del Options"
NOT_HERE = "not on this platform (a Windows setting)"


@dataclass(frozen=True)
class Setting:
    """One registry policy: where Windows reads it, which values close the gap (the first
    is the one to set), what Windows does while it is not set, and the words of its line."""

    name: str
    hives: tuple[str, ...]  # the first is where the line says to set it
    key: str
    value: str
    wanted: tuple[int, ...]
    default: int | None  # Windows' behaviour while not set, as a value; None: the gap is open
    done: str
    gap: str
    policy: str  # the Group Policy setting that writes it (gpedit.msc)

    def path(self, hive: str) -> str:
        return f"{hive}\\{self.key}\\{self.value}"

    @property
    def fix(self) -> str:
        return (f"set {self.path(self.hives[0])} = {self.wanted[0]} (DWORD), or in gpedit.msc "
                f"{self.policy}")


SETTINGS: tuple[Setting, ...] = (
    Setting("UAC", ("HKLM",), SYSTEM, "EnableLUA", (1,), 1, "on",
            "User Account Control is off: whatever an administrator starts has full rights",
            "Computer Configuration > Windows Settings > Security Settings > Local Policies > "
            "Security Options > User Account Control: Run all administrators in Admin Approval "
            "Mode: Enabled (then restart)"),
    Setting("Task Manager", ("HKCU",), SYSTEM, "DisableTaskMgr", (1,), None,
            "disabled for this user",
            "Ctrl+Alt+Del offers Task Manager, which ends the kiosk",
            f"{CTRL_ALT_DEL} > Remove Task Manager: Enabled"),
    Setting("command prompt", ("HKCU",), "Software\\Policies\\Microsoft\\Windows\\System",
            "DisableCMD", (1, 2), None, "disabled for this user",
            "this user can open cmd.exe",
            f"{USER_TEMPLATES} > System > Prevent access to the command prompt: Enabled"),
    Setting("fast user switching", ("HKLM",), SYSTEM, "HideFastUserSwitching", (1,), None,
            "hidden", "Switch user shows on Ctrl+Alt+Del and the Start menu",
            f"{COMPUTER_TEMPLATES} > System > Logon > Hide entry points for Fast User "
            "Switching: Enabled"),
    Setting("Ctrl+Alt+Del lock", ("HKCU",), SYSTEM, "DisableLockWorkstation", (1,), None,
            "removed", "Lock shows on Ctrl+Alt+Del: the next customer finds a locked PC",
            f"{CTRL_ALT_DEL} > Remove Lock Computer: Enabled"),
    Setting("Ctrl+Alt+Del sign-out", ("HKCU",), EXPLORER, "NoLogoff", (1,), None, "removed",
            "Sign out shows on Ctrl+Alt+Del: it ends the kiosk's session",
            f"{CTRL_ALT_DEL} > Remove Logoff: Enabled"),
    Setting("Ctrl+Alt+Del password", ("HKCU",), SYSTEM, "DisableChangePassword", (1,), None,
            "removed", "Change a password shows on Ctrl+Alt+Del: a customer can set one",
            f"{CTRL_ALT_DEL} > Remove Change Password: Enabled"),
    Setting("notifications", ("HKCU", "HKLM"),
            "Software\\Policies\\Microsoft\\Windows\\CurrentVersion\\PushNotifications",
            "NoToastApplicationNotification", (1,), None, "toasts off",
            "toast notifications pop up over the page, and a click opens their program",
            f"{USER_TEMPLATES} > Start Menu and Taskbar > Notifications > Turn off toast "
            "notifications: Enabled"),
    Setting("edge swipe", ("HKLM", "HKCU"), "Software\\Policies\\Microsoft\\Windows\\EdgeUI",
            "AllowEdgeSwipe", (0,), 1, "off",
            "a swipe in from a touch screen's edge opens Task View, the notification centre "
            "or Widgets",
            f"{COMPUTER_TEMPLATES} > Windows Components > Edge UI > Allow edge swipe: Disabled"),
    Setting("Game Bar", ("HKLM",), "Software\\Policies\\Microsoft\\Windows\\GameDVR",
            "AllowGameDVR", (0,), 1, "recording and broadcasting off",
            "the Game Bar's recording and broadcasting is on",
            f"{COMPUTER_TEMPLATES} > Windows Components > Windows Game Recording and "
            "Broadcasting > Enables or disables Windows Game Recording and Broadcasting: "
            "Disabled"),
)

POWERSHELL = ("powershell.exe", "powershell_ise.exe", "pwsh.exe")
DISALLOW_RUN = f"HKCU\\{EXPLORER}\\DisallowRun"
POWERSHELL_FIX = (f"set {DISALLOW_RUN} = 1 (DWORD) and, in the key {DISALLOW_RUN}, the string "
                  "values 1, 2, 3 = " + ", ".join(POWERSHELL) + f"; or in gpedit.msc "
                  f"{USER_TEMPLATES} > System > Don't run specified Windows applications: "
                  "Enabled, with those names")


def _number(found: Value) -> int | None:
    """A DWORD as is; a string of digits (a value typed as REG_SZ) as its number."""
    if isinstance(found, int):
        return found
    if isinstance(found, str) and found.strip().isdigit():
        return int(found.strip())
    return None


def judge(setting: Setting, found: Mapping[str, Value]) -> Found:
    """The line for ``setting`` from the values read, by hive (None: not there)."""
    hive = next((h for h in sorted(setting.hives, key=lambda h: h != "HKLM")
                 if found.get(h) is not None), None)
    if hive is None:
        effective, state = setting.default, f"{setting.path(setting.hives[0])} is not set"
    else:
        effective, state = _number(found[hive]), f"{setting.path(hive)} = {found[hive]!r}"
    if effective in setting.wanted:
        why = state if hive is not None else f"{state}: Windows' default"
        return passed(f"{setting.done} ({why})")
    return failed(f"{setting.gap} ({state})", setting.fix)


def judge_powershell(enabled: Value, listed: Sequence[str]) -> Found:
    """PowerShell has no switch of its own: Microsoft's "Don't run specified Windows
    applications" (``DisallowRun`` = 1 and its list of program names) keeps Explorer (Start,
    Run, Win+X) from starting it; with cmd and Task Manager off that is every way there."""
    names = {name.strip().casefold() for name in listed}
    missing = [name for name in POWERSHELL if name not in names]
    if _number(enabled) == 1 and not missing:
        return passed(f"{DISALLOW_RUN} lists {', '.join(POWERSHELL)}")
    if _number(enabled) != 1:
        state = (f"{DISALLOW_RUN} is not set" if enabled is None
                 else f"{DISALLOW_RUN} = {enabled!r}")
    else:
        state = f"{DISALLOW_RUN} does not list {', '.join(missing)}"
    return failed(f"this user can start PowerShell ({state})", POWERSHELL_FIX)


ACCOUNT_FIX = ("run the kiosk in a standard account (Settings > Accounts > Other users > "
               "Change account type: Standard User), then run this check signed in as it, "
               "not as administrator")


def judge_account(user: str, token: Token) -> Found:
    """A standard user, from the token's elevation type and Administrators membership."""
    if token.elevation == ELEVATION_FULL:
        what = "an administrator, and this check runs elevated"
    elif token.elevation == ELEVATION_LIMITED:
        what = "an administrator (UAC holds its rights back until one click on Yes)"
    elif token.elevation == ELEVATION_DEFAULT and token.admin_member:
        what = "an administrator with full rights (UAC off, or the built-in Administrator)"
    elif token.elevation == ELEVATION_DEFAULT:
        return passed(f"this account ({user}) is a standard user")
    else:
        what = f"of unknown rights (elevation type {token.elevation})"
    return failed(f"this account ({user}) is {what}", ACCOUNT_FIX)
