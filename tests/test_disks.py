"""Which disk the logs, cache and trace are on (kiosk/platform/disks.py): Linux for real and
with a made-up mount table; Windows with the real GetDriveTypeW (make test-windows: under
Wine), and a fake kernel32 for the drive kinds Wine's prefix does not have."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from kiosk.platform import disks


class Kernel32:
    """GetDriveTypeW as Windows answers it for a PC with C:, D:, a diskless Z: and a USB E:
    (DRIVE_FIXED 3, DRIVE_REMOTE 4, DRIVE_REMOVABLE 2, DRIVE_NO_ROOT_DIR 1 on Microsoft's
    GetDriveTypeW page). Faked: Wine's prefix has only fixed drives (see below), and a
    network or removable drive cannot be added without reconfiguring it."""

    TYPES = {"C:\\": 3, "D:\\": 3, "Z:\\": 4, "E:\\": 2}

    def __init__(self) -> None:
        self.asked: list[str] = []

    def GetDriveTypeW(self, root: str) -> int:  # noqa: N802 (the Windows name)
        self.asked.append(root)
        return self.TYPES.get(root, 1)


@pytest.mark.parametrize(("path", "said"), [
    (r"D:\kiosk\logs", "D: (fixed disk)"),
    (r"c:\kiosk\cache", "C: (fixed disk, the system drive)"),
    (r"Z:\kiosk\logs", "Z: (network drive)"),
    (r"E:\logs", "E: (removable disk)"),
    (r"Q:\logs", "Q: (no such drive)"),
    (r"\\nas\kiosk\logs", r"\\nas\kiosk (network share)"),
])
def test_windows_names_the_drive_its_kind_and_the_system_drive(path, said):
    kernel32 = Kernel32()
    assert disks.disk_of(path, "win32", kernel32=kernel32,
                         environ={"SystemDrive": "C:"}) == said
    assert kernel32.asked == ([] if path.startswith("\\\\") else [path[:2].upper() + "\\"])


# --- Windows for real: GetDriveTypeW of kernel32 -------------------------------------------


def present_letters() -> set[str]:
    """The drive letters that exist, from GetLogicalDrives (bit 0 is A:)."""
    import ctypes

    mask = ctypes.WinDLL("kernel32").GetLogicalDrives()
    return {chr(ord("A") + i) for i in range(26) if mask >> i & 1}


@pytest.mark.win32
def test_windows_names_the_system_drive_a_fixed_disk():
    drive = os.environ["SYSTEMDRIVE"].upper()
    assert disks.disk_of(drive + r"\kiosk\logs") == f"{drive} (fixed disk, the system drive)"


@pytest.mark.win32
def test_windows_gives_every_drive_letter_that_exists_its_kind():
    """Wine answers DRIVE_FIXED for C: (its prefix's drive_c) and for Z: (mapped to the
    Linux root /); on a café PC Z: is typically the diskless server's share, which Windows
    answers DRIVE_REMOTE for (the fake above)."""
    letters = present_letters()
    assert os.environ["SYSTEMDRIVE"][0].upper() in letters
    for letter in sorted(letters):
        said = disks.windows_disk(letter + r":\kiosk\logs")
        kind = said.split("(", 1)[1].split(",")[0].rstrip(")")
        assert kind in set(disks.DRIVE_KINDS.values()) - {"no such drive", "unknown kind"}, said


@pytest.mark.win32
def test_windows_says_no_such_drive_for_a_letter_that_is_not_there():
    free = sorted(set("DEFGHIJKLMNOPQRSTUVWXY") - present_letters())[0]
    assert disks.windows_disk(free + r":\logs") == f"{free}: (no such drive)"


@pytest.mark.win32
def test_the_start_up_line_names_the_real_drive_of_a_real_folder(tmp_path):
    line = disks.placement({"logs": tmp_path, "trace": None})
    drive = tmp_path.drive.upper()
    assert line.startswith(f"logs {tmp_path} on {drive} (fixed disk") and line.endswith(
        "; trace off")


def test_linux_finds_the_mount_point_by_the_device_number(tmp_path):
    point = disks.mount_point(tmp_path / "not" / "made" / "yet")
    assert os.path.ismount(point)
    assert tmp_path.resolve().is_relative_to(point)


@pytest.mark.linux
def test_linux_reads_the_device_and_file_system_of_that_mount(tmp_path, monkeypatch):
    mounts = tmp_path / "mounts"
    mounts.write_text("/dev/sda1 / ext4 rw 0 0\n"
                      "/dev/sdb1 /srv/kiosk\\040data xfs rw 0 0\n"
                      "tmpfs /srv/kiosk\\040data tmpfs rw 0 0\n", encoding="utf-8")
    monkeypatch.setattr(disks, "mount_point", lambda path: Path("/srv/kiosk data"))
    # The last mount on a point is the one in use; \040 is a space.
    assert disks.linux_disk(Path("/srv/kiosk data/logs"), mounts) == (
        "/srv/kiosk data (tmpfs tmpfs)")
    monkeypatch.setattr(disks, "mount_point", lambda path: Path("/"))
    assert disks.linux_disk(Path("/kiosk/logs"), mounts) == "/ (ext4 /dev/sda1)"


def test_the_start_up_line_names_each_place_and_says_off_for_none():
    line = disks.placement({"logs": r"D:\kiosk\logs", "cache": r"C:\kiosk\cache",
                            "trace": None}, "win32", kernel32=Kernel32(),
                           environ={"SystemDrive": "C:"})
    assert line == (r"logs D:\kiosk\logs on D: (fixed disk); cache C:\kiosk\cache on C: "
                    "(fixed disk, the system drive); trace off")
