"""Which disk the logs, cache and trace are on (kiosk/platform/disks.py): Linux for real and
with a made-up mount table, Windows with a fake kernel32."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from kiosk.platform import disks


class Kernel32:
    """GetDriveTypeW as Windows answers it for a PC with C:, D:, a diskless Z: and a USB E:."""

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


def test_linux_finds_the_mount_point_by_the_device_number(tmp_path):
    point = disks.mount_point(tmp_path / "not" / "made" / "yet")
    assert os.path.ismount(point)
    assert tmp_path.resolve().is_relative_to(point)


@pytest.mark.linux  # POSIX paths
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
