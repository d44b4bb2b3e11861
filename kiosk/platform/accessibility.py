"""The accessibility hotkeys off on locked pages, and given back exactly as they were.

Five Windows hotkeys each open a dialog whose link leads into Settings, over any full-screen
window: Shift pressed five times (Sticky Keys), right Shift held 8 s (Filter Keys), Num Lock
held 5 s (Toggle Keys), Left Alt+Left Shift+Num Lock (Mouse Keys) and Left Alt+Left
Shift+Print Screen (High Contrast). No keyboard hook can stop Shift or Num Lock without
breaking typing, so the hotkeys themselves are turned off.

Facts relied on (Microsoft's "Disabling Shortcut Keys in Games", the STICKYKEYS,
FILTERKEYS, TOGGLEKEYS, MOUSEKEYS and HIGHCONTRASTW structures and SystemParametersInfoW):
``SPI_GET*`` fills the structure whose ``cbSize`` the caller set, ``SPI_SET*`` takes all of
it; each feature's flags share the bits used here (``*_ON`` 0x1, ``*_HOTKEYACTIVE`` 0x4,
``*_CONFIRMHOTKEY`` 0x8); clearing the two hotkey bits turns the hotkey off, and a feature
that is on is left alone (someone uses it). With ``fWinIni`` 0, as Microsoft's article does,
the change is not written to the user profile: it lasts until sign-out at most.

Only the two hotkey bits are ever written, and given back as they were before: on leaving
the lock (C), on exit, and after a crash. The flags before are saved to a small file before
anything is changed; a file found at the next start (or by the guardian once the UI ended)
means the UI never gave them back, and they are given back from it first. Wine 8 answers
SPI_GETSTICKYKEYS and the others with no flags and refuses their SPI_SET*.
"""

from __future__ import annotations

import ctypes
import json
import logging
import os
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kiosk.platform.keyboard import _Reporter

log = logging.getLogger(__name__)

FEATURE_ON = 0x1  # SKF_STICKYKEYSON, FKF_FILTERKEYSON, TKF_..., MKF_..., HCF_HIGHCONTRASTON
HOTKEY_ACTIVE = 0x4  # SKF_HOTKEYACTIVE and the others' *_HOTKEYACTIVE
CONFIRM_HOTKEY = 0x8  # *_CONFIRMHOTKEY
HOTKEY_BITS = HOTKEY_ACTIVE | CONFIRM_HOTKEY
STATE_FILE = "accessibility-hotkeys.json"  # the flags before, while the kiosk holds them


class STICKYKEYS(ctypes.Structure):
    _fields_ = [("cbSize", ctypes.c_uint32), ("dwFlags", ctypes.c_uint32)]


class TOGGLEKEYS(ctypes.Structure):
    _fields_ = [("cbSize", ctypes.c_uint32), ("dwFlags", ctypes.c_uint32)]


class FILTERKEYS(ctypes.Structure):
    _fields_ = [("cbSize", ctypes.c_uint32), ("dwFlags", ctypes.c_uint32),
                ("iWaitMSec", ctypes.c_uint32), ("iDelayMSec", ctypes.c_uint32),
                ("iRepeatMSec", ctypes.c_uint32), ("iBounceMSec", ctypes.c_uint32)]


class MOUSEKEYS(ctypes.Structure):
    _fields_ = [("cbSize", ctypes.c_uint32), ("dwFlags", ctypes.c_uint32),
                ("iMaxSpeed", ctypes.c_uint32), ("iTimeToMaxSpeed", ctypes.c_uint32),
                ("iCtrlSpeed", ctypes.c_uint32), ("dwReserved1", ctypes.c_uint32),
                ("dwReserved2", ctypes.c_uint32)]


class HIGHCONTRASTW(ctypes.Structure):
    _fields_ = [("cbSize", ctypes.c_uint32), ("dwFlags", ctypes.c_uint32),
                ("lpszDefaultScheme", ctypes.c_wchar_p)]


@dataclass(frozen=True)
class Feature:
    name: str
    get: int  # SPI_GET*
    set: int  # SPI_SET*
    struct: type[ctypes.Structure]


FEATURES = (
    Feature("sticky keys", 0x003A, 0x003B, STICKYKEYS),
    Feature("filter keys", 0x0032, 0x0033, FILTERKEYS),
    Feature("toggle keys", 0x0034, 0x0035, TOGGLEKEYS),
    Feature("mouse keys", 0x0036, 0x0037, MOUSEKEYS),
    Feature("high contrast", 0x0042, 0x0043, HIGHCONTRASTW),
)


# --------------------------------------------------------------------------- the decision


def locked_flags(flags: int) -> int | None:
    """The flags to write on a locked page, or None to leave the feature as it is: when it is
    on (someone uses it, Microsoft's rule) or its hotkey is off already."""
    if flags & FEATURE_ON or not flags & HOTKEY_BITS:
        return None
    return flags & ~HOTKEY_BITS


def restored_flags(now: int, before: int) -> int | None:
    """The flags to write when giving back: today's, with the hotkey bits as they were before;
    None when nothing differs. Only the bits the kiosk changed are touched, so a setting
    changed meanwhile (in Settings, or by a sign-out) stays."""
    flags = (now & ~HOTKEY_BITS) | (before & HOTKEY_BITS)
    return None if flags == now else flags


# --------------------------------------------------------------------------- the state file


def save(path: Path, before: Mapping[str, int]) -> None:
    """Write the flags before atomically: a crash leaves the old file or the new one whole."""
    path.parent.mkdir(parents=True, exist_ok=True)
    part = path.with_name(path.name + ".part")
    with open(part, "w", encoding="utf-8") as file:
        json.dump(dict(before), file)
        file.flush()
        os.fsync(file.fileno())
    os.replace(part, path)


def load(path: Path) -> dict[str, int] | None:
    """The flags a UI saved and never gave back; None without a (readable) file."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:
        log.error("cannot read %s (%s); the accessibility hotkeys stay as they are", path, exc)
        return None
    names = {feature.name for feature in FEATURES}
    if not isinstance(data, dict):
        return None
    return {name: flags for name, flags in data.items()
            if name in names and isinstance(flags, int) and not isinstance(flags, bool)}


# --------------------------------------------------------------------------- the Win32 edge


class Win32Parameters:
    """SystemParametersInfoW for the five structures (Windows only)."""

    def __init__(self, user32: Any = None,
                 last_error: Callable[[], int] = lambda: ctypes.get_last_error()) -> None:
        if user32 is None:
            user32 = ctypes.WinDLL("user32", use_last_error=True)  # type: ignore[attr-defined]
        function = user32.SystemParametersInfoW
        function.argtypes = [ctypes.c_uint, ctypes.c_uint, ctypes.c_void_p, ctypes.c_uint]
        function.restype = ctypes.c_int
        self.call = function
        self.last_error = last_error

    def read(self, feature: Feature) -> Any:
        """The feature's structure as Windows has it; OSError when it will not say."""
        value = feature.struct()
        value.cbSize = ctypes.sizeof(value)
        if not self.call(feature.get, value.cbSize, ctypes.byref(value), 0):
            raise OSError(f"SystemParametersInfoW({feature.get:#x}) failed "
                          f"(error {self.last_error()})")
        return value

    def write(self, feature: Feature, value: Any) -> None:
        """Set the whole structure, for this sign-in only (fWinIni 0)."""
        if not self.call(feature.set, value.cbSize, ctypes.byref(value), 0):
            raise OSError(f"SystemParametersInfoW({feature.set:#x}) failed "
                          f"(error {self.last_error()})")


def give_back(system: Any, before: Mapping[str, int]) -> list[str]:
    """Put each feature's hotkey bits back as in ``before``; the problems, if any."""
    problems = []
    for feature in FEATURES:
        if feature.name not in before:
            continue
        try:
            value = system.read(feature)
            flags = restored_flags(value.dwFlags, before[feature.name])
            if flags is not None:
                value.dwFlags = flags
                system.write(feature, value)
        except OSError as exc:
            problems.append(f"{feature.name}: {exc}")
    return problems


def recover(system: Any, path: Path) -> bool:
    """Give back what a UI that never did (killed, crashed) left behind in ``path``; True
    when there was something to give back. Called at the UI's start and by the guardian
    once a UI ended."""
    before = load(path)
    if before is None:
        return False
    problems = give_back(system, before)
    if problems:
        log.error("accessibility hotkeys left off by a UI that ended: could not give back "
                  "%s", "; ".join(problems))
    else:
        log.warning("accessibility hotkeys left off by a UI that ended are given back")
    path.unlink(missing_ok=True)
    return True


class AccessibilityHotkeys:
    """Off while engaged (the flags before saved to ``path`` first), given back on release."""

    def __init__(self, path: Path, system: Any = None) -> None:
        self.path = path
        self.system = system if system is not None else Win32Parameters()
        self.before: dict[str, int] | None = None
        self.turned_off: list[str] = []
        self._report = _Reporter("ACCESSIBILITY HOTKEYS NOT ALL OFF: %s", log)
        recover(self.system, path)

    def engage(self) -> None:
        if self.before is not None:
            return
        values, problems = {}, []
        for feature in FEATURES:
            try:
                values[feature.name] = (feature, self.system.read(feature))
            except OSError as exc:
                problems.append(f"{feature.name}: {exc}")
        before = {name: value.dwFlags for name, (_, value) in values.items()}
        try:
            save(self.path, before)
        except OSError as exc:  # nothing changed: nothing could be given back after a crash
            self._report.fail(f"cannot save the hotkeys before changing them ({exc})")
            return
        self.before, self.turned_off = before, []
        for name, (feature, value) in values.items():
            flags = locked_flags(value.dwFlags)
            if flags is None:
                continue
            value.dwFlags = flags
            try:
                self.system.write(feature, value)
                self.turned_off.append(name)
            except OSError as exc:
                problems.append(f"{name}: {exc}")
        self._report.settle(problems)

    def release(self) -> None:
        before, self.before = self.before, None
        if before is None:
            return
        problems = give_back(self.system, before)
        if problems:
            self._report.fail("could not give back " + "; ".join(problems))
        self.turned_off = []
        self.path.unlink(missing_ok=True)

    def close(self) -> None:
        self.release()

    def problem(self) -> str | None:
        problem = self._report.problem
        return f"accessibility hotkeys: {problem}" if problem else None

    def status(self) -> str:
        if self.before is None:
            return "accessibility hotkeys as the user set them"
        if not self.turned_off:
            return "accessibility hotkeys: none to turn off"
        return f"accessibility hotkeys off ({len(self.turned_off)})"


def recover_left_behind(folder: Path, platform: str = sys.platform) -> None:
    """The guardian's part: a UI that ended without giving the hotkeys back (killed, hung,
    stopped) had them saved in ``folder``; give them back now (Windows only)."""
    path = folder / STATE_FILE
    if platform != "win32" or not path.exists():
        return
    try:
        recover(Win32Parameters(), path)
    except (OSError, AttributeError) as exc:
        log.error("cannot give back the accessibility hotkeys left in %s: %s", path, exc)
