"""Which disk a folder is on: venues restore the system disk at every reboot, so logs
kept there vanish with the evidence of why the PC rebooted (``log.dir``, README).

Windows: the drive letter (or the share of a UNC path) and its kind from
``GetDriveTypeW``, and whether it is the system drive. Linux: the mount point, found
by walking up to where the device number changes, with its device and file system
from ``/proc/mounts``. A folder not made yet is judged by the nearest one that exists.
"""

from __future__ import annotations

import ntpath
import os
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

DRIVE_KINDS = {0: "unknown kind", 1: "no such drive", 2: "removable disk", 3: "fixed disk",
               4: "network drive", 5: "CD/DVD", 6: "RAM disk"}


def _kernel32() -> Any:
    import ctypes  # Windows only; imported when used so tests can hand in a fake

    return ctypes.WinDLL("kernel32")  # type: ignore[attr-defined]


def windows_disk(path: str, kernel32: Any = None, environ: Mapping[str, str] = os.environ,
                 ) -> str:
    """``D: (fixed disk)``, ``C: (fixed disk, the system drive)``, ``\\\\srv\\share (network)``."""
    drive = ntpath.splitdrive(path)[0]
    if not drive:
        return "an unknown drive (not an absolute path)"
    if drive.startswith(("\\\\", "//")):
        return f"{drive} (network share)"
    drive = drive.upper()
    kind = DRIVE_KINDS.get((kernel32 or _kernel32()).GetDriveTypeW(drive + "\\"), "unknown kind")
    system = environ.get("SystemDrive", "C:").rstrip("\\").upper() == drive
    return f"{drive} ({kind}{', the system drive' if system else ''})"


def _existing(path: Path) -> Path:
    while not path.exists() and path.parent != path:
        path = path.parent
    return path


def mount_point(path: Path) -> Path:
    """The mount point of the file system ``path`` (or its nearest existing folder) is on."""
    path = _existing(path.resolve())
    device = path.stat().st_dev
    while path.parent != path and path.parent.stat().st_dev == device:
        path = path.parent
    return path


def _unescape(field: str) -> str:
    r"""/proc/mounts writes a space as \040, a tab as \011, a backslash as \134."""
    for code, char in (("\\040", " "), ("\\011", "\t"), ("\\012", "\n"), ("\\134", "\\")):
        field = field.replace(code, char)
    return field


def linux_disk(path: Path, mounts: Path = Path("/proc/mounts")) -> str:
    """``/srv (ext4 /dev/sdb1)``: the mount point, its file system and device."""
    point = mount_point(path)
    found = None
    try:
        lines = mounts.read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        lines = []
    for line in lines:  # the last mount on a point is the one in use
        fields = line.split()
        if len(fields) >= 3 and Path(_unescape(fields[1])) == point:
            found = f"{fields[2]} {_unescape(fields[0])}"
    return f"{point} ({found})" if found else str(point)


def disk_of(path: Path | str, platform: str = sys.platform, **fakes: Any) -> str:
    """Which disk ``path`` is on, in the words of this OS."""
    if platform == "win32":
        return windows_disk(str(path), **fakes)
    try:
        return linux_disk(Path(path), **fakes)
    except OSError as exc:
        return f"an unknown disk ({exc.strerror})"


def placement(places: Mapping[str, Path | None], platform: str = sys.platform,
              **fakes: Any) -> str:
    """One line: each named folder or file, and the disk it is on (``off`` for None)."""
    return "; ".join(f"{name} {path} on {disk_of(path, platform, **fakes)}" if path
                     else f"{name} off" for name, path in places.items())
