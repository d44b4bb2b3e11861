"""The accessibility hotkeys: off on locked pages, given back exactly as they were on leaving
the lock, on exit and after a crash; a feature that is on is never touched.

The decision is table-tested; the state handling runs against a fake SystemParametersInfo
that keeps each structure's flags; under the Windows CPython the real calls run too.
"""

from __future__ import annotations

import ctypes
import json
import logging

import pytest

from kiosk.platform import accessibility as acc
from kiosk.platform.accessibility import (
    CONFIRM_HOTKEY,
    FEATURE_ON,
    FEATURES,
    HOTKEY_ACTIVE,
    STATE_FILE,
    AccessibilityHotkeys,
    locked_flags,
    recover,
    recover_left_behind,
    restored_flags,
)

AVAILABLE = 0x2  # SKF_AVAILABLE and the others'
HOTKEYSOUND = 0x10
WINDOWS_DEFAULT = AVAILABLE | HOTKEY_ACTIVE | CONFIRM_HOTKEY | HOTKEYSOUND  # 0x1E, as shipped

# --------------------------------------------------------------------------- the decision


@pytest.mark.parametrize("flags,expected", [
    (WINDOWS_DEFAULT, AVAILABLE | HOTKEYSOUND),  # the usual case: hotkey and its dialog off
    (AVAILABLE | HOTKEY_ACTIVE, AVAILABLE),
    (CONFIRM_HOTKEY, 0),
    (WINDOWS_DEFAULT | FEATURE_ON, None),  # someone uses Sticky Keys: left alone
    (FEATURE_ON | HOTKEY_ACTIVE, None),
    (AVAILABLE | HOTKEYSOUND, None),  # hotkey off already: nothing to write
    (0, None),  # Wine's answer
])
def test_the_hotkey_bits_go_only_when_the_feature_is_off(flags, expected):
    assert locked_flags(flags) == expected


def test_only_the_two_hotkey_bits_ever_change_over_every_flag_combination():
    for flags in range(0x200):
        locked = locked_flags(flags)
        if locked is not None:
            assert locked ^ flags == flags & (HOTKEY_ACTIVE | CONFIRM_HOTKEY) != 0
            assert not flags & FEATURE_ON


def test_giving_back_restores_the_hotkey_bits_and_keeps_what_changed_meanwhile():
    before = WINDOWS_DEFAULT
    locked = locked_flags(before)
    assert locked is not None
    assert restored_flags(locked, before) == before
    assert restored_flags(before, before) is None  # nothing changed: nothing written
    # Sticky Keys turned on in Settings while the kiosk held the hotkey: it stays on.
    assert restored_flags(locked | FEATURE_ON, before) == before | FEATURE_ON
    for now in range(0x40):
        for was in range(0x40):
            flags = restored_flags(now, was)
            result = now if flags is None else flags
            assert result & ~0xC == now & ~0xC and result & 0xC == was & 0xC


# --------------------------------------------------------------------------- fakes


class FakeParameters:
    """SystemParametersInfo's five structures as Windows keeps them, flags only."""

    def __init__(self, flags: dict[str, int] | None = None, *, refuse_write: bool = False,
                 refuse_read: frozenset[str] = frozenset()) -> None:
        self.flags = dict(flags or {f.name: WINDOWS_DEFAULT for f in FEATURES})
        self.refuse_write = refuse_write
        self.refuse_read = refuse_read
        self.writes: list[tuple[str, int]] = []

    def read(self, feature: acc.Feature) -> ctypes.Structure:
        if feature.name in self.refuse_read:
            raise OSError("SystemParametersInfoW failed (error 87)")
        value = feature.struct()
        value.cbSize = ctypes.sizeof(value)
        value.dwFlags = self.flags[feature.name]
        return value

    def write(self, feature: acc.Feature, value: ctypes.Structure) -> None:
        assert value.cbSize == ctypes.sizeof(feature.struct)
        if self.refuse_write:
            raise OSError("SystemParametersInfoW failed (error 1439)")
        self.writes.append((feature.name, value.dwFlags))
        self.flags[feature.name] = value.dwFlags


def hotkeys_on(system: FakeParameters) -> set[str]:
    return {name for name, flags in system.flags.items() if flags & HOTKEY_ACTIVE}


# --------------------------------------------------------------------------- the lock


def test_a_locked_page_turns_every_hotkey_off_and_c_gives_each_back(tmp_path):
    system = FakeParameters()
    hotkeys = AccessibilityHotkeys(tmp_path / STATE_FILE, system)
    hotkeys.engage()
    assert hotkeys_on(system) == set()
    assert hotkeys.status() == "accessibility hotkeys off (5)" and hotkeys.problem() is None
    hotkeys.engage()  # the guard's next period: nothing written again
    assert len(system.writes) == 5
    hotkeys.release()  # C: the customer finds Windows as it was
    assert system.flags == {f.name: WINDOWS_DEFAULT for f in FEATURES}
    assert not (tmp_path / STATE_FILE).exists()
    assert hotkeys.status() == "accessibility hotkeys as the user set them"


def test_a_feature_someone_uses_is_left_alone(tmp_path):
    flags = {f.name: WINDOWS_DEFAULT for f in FEATURES}
    flags["sticky keys"] |= FEATURE_ON
    system = FakeParameters(flags)
    hotkeys = AccessibilityHotkeys(tmp_path / STATE_FILE, system)
    hotkeys.engage()
    assert "sticky keys" not in {name for name, _ in system.writes}
    assert hotkeys_on(system) == {"sticky keys"}
    hotkeys.release()
    assert system.flags == flags


def test_the_flags_before_are_on_disk_before_anything_changes(tmp_path):
    path = tmp_path / "logs" / STATE_FILE
    system = FakeParameters()
    seen_on_disk: list[dict] = []
    write = system.write

    def write_after_checking(feature, value):
        seen_on_disk.append(json.loads(path.read_text(encoding="utf-8")))
        write(feature, value)

    system.write = write_after_checking  # type: ignore[method-assign]
    AccessibilityHotkeys(path, system).engage()
    assert seen_on_disk[0] == {f.name: WINDOWS_DEFAULT for f in FEATURES}
    assert not path.with_name(path.name + ".part").exists()


def test_after_a_crash_the_next_start_gives_them_back_first(tmp_path, caplog):
    path = tmp_path / STATE_FILE
    system = FakeParameters()
    AccessibilityHotkeys(path, system).engage()  # the UI is killed on page A here
    assert hotkeys_on(system) == set() and path.exists()
    with caplog.at_level(logging.WARNING, logger=acc.__name__):
        AccessibilityHotkeys(path, system)  # the next UI starts
    assert system.flags == {f.name: WINDOWS_DEFAULT for f in FEATURES}
    assert not path.exists()
    assert "given back" in caplog.text


def test_the_guardian_gives_them_back_once_a_killed_ui_ended(tmp_path):
    path = tmp_path / STATE_FILE
    system = FakeParameters()
    AccessibilityHotkeys(path, system).engage()
    assert recover(system, path) and hotkeys_on(system) == set(system.flags)
    assert not recover(system, path)  # nothing left: nothing done


def test_on_windows_the_guardian_gives_back_what_the_file_holds(tmp_path, monkeypatch):
    system = FakeParameters()
    AccessibilityHotkeys(tmp_path / STATE_FILE, system).engage()  # then killed
    monkeypatch.setattr(acc, "Win32Parameters", lambda: system)
    recover_left_behind(tmp_path, platform="win32")
    assert system.flags == {f.name: WINDOWS_DEFAULT for f in FEATURES}
    assert not (tmp_path / STATE_FILE).exists()


def test_elsewhere_the_guardian_leaves_the_file_alone(tmp_path):
    (tmp_path / STATE_FILE).write_text("{}", encoding="utf-8")
    recover_left_behind(tmp_path, platform="linux")
    assert (tmp_path / STATE_FILE).exists()


def test_a_broken_state_file_changes_nothing_and_is_said(tmp_path, caplog):
    path = tmp_path / STATE_FILE
    path.write_text("{not json", encoding="utf-8")
    system = FakeParameters()
    with caplog.at_level(logging.ERROR, logger=acc.__name__):
        assert acc.load(path) is None
    assert system.writes == [] and "cannot read" in caplog.text
    path.write_text('{"sticky keys": 30, "elsewhere": 1, "filter keys": true}',
                    encoding="utf-8")
    assert acc.load(path) == {"sticky keys": 30}


def test_without_a_place_to_save_them_nothing_is_changed_and_it_is_said(tmp_path, caplog):
    blocked = tmp_path / "a file"
    blocked.write_text("", encoding="utf-8")
    system = FakeParameters()
    hotkeys = AccessibilityHotkeys(blocked / STATE_FILE, system)
    with caplog.at_level(logging.ERROR, logger=acc.__name__):
        hotkeys.engage()
        hotkeys.engage()
    assert system.writes == []
    assert "cannot save the hotkeys" in (hotkeys.problem() or "")
    assert caplog.text.count("ACCESSIBILITY HOTKEYS NOT ALL OFF") == 1  # once, not per period


def test_a_refused_change_is_reported_once_and_nothing_is_lost(tmp_path, caplog):
    system = FakeParameters(refuse_write=True)
    hotkeys = AccessibilityHotkeys(tmp_path / STATE_FILE, system)
    with caplog.at_level(logging.ERROR, logger=acc.__name__):
        hotkeys.engage()
    assert "error 1439" in (hotkeys.problem() or "")
    assert "ACCESSIBILITY HOTKEYS NOT ALL OFF" in caplog.text
    hotkeys.release()
    assert system.flags == {f.name: WINDOWS_DEFAULT for f in FEATURES}


def test_a_feature_windows_will_not_report_is_skipped_not_guessed(tmp_path):
    system = FakeParameters(refuse_read=frozenset({"high contrast"}))
    hotkeys = AccessibilityHotkeys(tmp_path / STATE_FILE, system)
    hotkeys.engage()
    assert hotkeys_on(system) == {"high contrast"}
    assert "high contrast" in (hotkeys.problem() or "")
    hotkeys.release()
    assert system.flags == {f.name: WINDOWS_DEFAULT for f in FEATURES}


def test_structures_have_the_windows_sizes():
    sizes = {f.name: ctypes.sizeof(f.struct) for f in FEATURES}
    assert sizes == {"sticky keys": 8, "filter keys": 24, "toggle keys": 8, "mouse keys": 28,
                     "high contrast": 8 + ctypes.sizeof(ctypes.c_void_p)}


# --------------------------------------------------------------------------- real Win32


@pytest.mark.win32
def test_windows_answers_each_structure_at_the_size_given():
    """Real SystemParametersInfoW: SPI_GET* of each of the five structures succeeds (it
    fails for a cbSize Windows does not know). Wine 8 answers each with no flags at all,
    where Windows ships 0x1E-style flags (available, hotkey, confirm, sound)."""
    system = acc.Win32Parameters()
    for feature in FEATURES:
        value = system.read(feature)
        assert value.cbSize == ctypes.sizeof(feature.struct)


@pytest.mark.win32
def test_under_wine_the_real_calls_run_and_only_the_refused_set_is_faked(tmp_path):
    """The reads are real. Wine 8 refuses every SPI_SET* here (ERROR_INVALID_SPI_VALUE,
    1439) and reports no flags; Microsoft documents SPI_SET* for all five structures. So
    the writes go to a fake that starts from the real flags, with Windows' shipped hotkey
    bits added, and the round trip is checked there."""
    real = acc.Win32Parameters()
    try:
        real.write(FEATURES[0], real.read(FEATURES[0]))  # the same flags: harmless anywhere
    except OSError as exc:
        assert "error 1439" in str(exc)
    else:
        pytest.skip("SPI_SETSTICKYKEYS works here: this is Windows, not Wine")

    class WineWithWindowsFlags(FakeParameters):
        def read(self, feature):
            value = real.read(feature)  # real call: its size and success are Windows'
            value.dwFlags |= self.flags[feature.name]
            return value

    system = WineWithWindowsFlags()
    hotkeys = AccessibilityHotkeys(tmp_path / STATE_FILE, system)
    hotkeys.engage()
    assert hotkeys_on(system) == set()
    hotkeys.release()
    assert system.flags == {f.name: WINDOWS_DEFAULT for f in FEATURES}
