"""A real X server with several monitors: Xorg with Debian's dummy video driver.

Xvfb has one screen and no RandR outputs to add; the dummy driver (0.4) gives Xorg
outputs DUMMY0…DUMMY15, which ``xrandr`` turns on, off and to another mode as a
café PC's monitors and games would, and which SDL and the kiosk see as monitors.

Debian packages: ``xserver-xorg-core``, ``xserver-xorg-video-dummy`` and
``x11-xserver-utils`` (``xrandr``, ``xsetroot``), besides what xscreen.py needs.
"""

from __future__ import annotations

import re
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np

from .xscreen import Rect, VirtualScreen, XScreenError, _xrun

DUMMY_DRIVER = Path("/usr/lib/xorg/modules/drivers/dummy_drv.so")
TOOLS = ("Xorg", "xrandr", "xsetroot")
# No colour a page uses: wherever it shows, the desktop shows (nothing covers it).
ROOT_BGR = (255, 0, 255)
ROOT_COLOUR = "#ff00ff"

CONFIG = """
Section "Device"
    Identifier "dummy"
    Driver "dummy"
    VideoRam 256000
EndSection
Section "Monitor"
    Identifier "monitor"
    HorizSync 5.0-1000.0
    VertRefresh 5.0-200.0
EndSection
Section "Screen"
    Identifier "screen"
    Device "dummy"
    Monitor "monitor"
    DefaultDepth 24
    SubSection "Display"
        Depth 24
        Virtual 6400 2160
    EndSubSection
EndSection
Section "ServerFlags"
    Option "AutoAddDevices" "false"
    Option "AutoAddGPU" "false"
    Option "DontVTSwitch" "true"
EndSection
"""
MONITOR_LINE = re.compile(r"\s*\d+: \+?\*?(\S+) (\d+)/\d+x(\d+)/\d+\+(-?\d+)\+(-?\d+)")


def missing_tools() -> list[str]:
    """What of Xorg's dummy setup this machine lacks."""
    missing = [tool for tool in TOOLS if shutil.which(tool) is None]
    return missing + ([] if DUMMY_DRIVER.exists() else [str(DUMMY_DRIVER)])


class DummyXorg(VirtualScreen):
    """Xorg on a free display with monitors side by side, left to right from DUMMY0
    (the primary), each of the given size; :meth:`arrange` changes them at run time."""

    def __init__(self, *sizes: tuple[int, int]) -> None:
        self.sizes = sizes or ((1280, 720), (1280, 720))
        super().__init__(*self.sizes[0])
        self._dir = tempfile.TemporaryDirectory(prefix="xorg-dummy-")

    def _command(self, display_fd: int) -> list[str]:
        folder = Path(self._dir.name)
        (folder / "xorg.conf").write_text(CONFIG)
        (folder / "conf.d").mkdir(exist_ok=True)  # none of the system's snippets
        return ["Xorg", "-displayfd", str(display_fd), "-config", str(folder / "xorg.conf"),
                "-configdir", str(folder / "conf.d"), "-logfile", str(folder / "xorg.log"),
                "-nolisten", "tcp", "-noreset", "-novtswitch", "-sharevts"]

    def _wait_accepting(self) -> None:
        deadline = time.monotonic() + self.start_timeout
        while True:
            try:
                _xrun(["xrandr", "--current"], self, timeout=2.0)
                break
            except XScreenError:
                if time.monotonic() > deadline or (self._proc and self._proc.poll() is not None):
                    raise XScreenError(f"Xorg did not start\n{self.log()}") from None
                time.sleep(0.1)
        self.arrange(*self.sizes)

    def log(self) -> str:
        path = Path(self._dir.name) / "xorg.log"
        return super().log() + (path.read_text("utf-8", "replace")[-3000:] if path.exists()
                                else "")

    def stop(self) -> None:
        super().stop()
        self._dir.cleanup()

    def arrange(self, *sizes: tuple[int, int] | None) -> None:
        """Monitors DUMMY0, DUMMY1… at these sizes, side by side from the left; None
        turns that output off (unplugged), and outputs past the list go off too."""
        on = [s for s in sizes if s is not None]
        width, height = sum(w for w, _ in on), max(h for _, h in on)
        args, x = ["xrandr", "--fb", f"{width}x{height}"], 0
        for index in range(max(len(sizes), 4)):
            size = sizes[index] if index < len(sizes) else None
            output = f"DUMMY{index}"
            if size is None:
                args += ["--output", output, "--off"]
                continue
            mode = f"{size[0]}x{size[1]}"
            if index:  # DUMMY0 has every mode already; the others get theirs added
                _xrun(["xrandr", "--addmode", output, mode], self)
            args += ["--output", output, "--mode", mode, "--pos", f"{x}x0"]
            x += size[0]
        _xrun(args, self)
        self.width, self.height = width, height
        got = [m for m in self.monitors()]
        want = [(f"DUMMY{i}", s) for i, s in enumerate(sizes) if s is not None]
        if [(name, rect[2:]) for name, rect in got] != want:
            raise XScreenError(f"xrandr gave {got}, not {want}")

    def monitors(self) -> list[tuple[str, Rect]]:
        """``(name, (x, y, width, height))`` of each monitor, as RandR lists them."""
        out = _xrun(["xrandr", "--listmonitors"], self)
        found = []
        for line in out.splitlines()[1:]:
            match = MONITOR_LINE.match(line)
            if match:
                name, w, h, x, y = match.groups()
                found.append((name, (int(x), int(y), int(w), int(h))))
        return sorted(found, key=lambda m: m[1][:2])

    def paint_root(self, colour: str = ROOT_COLOUR) -> None:
        """The desktop in one colour, so a screenshot shows wherever nothing covers it."""
        _xrun(["xsetroot", "-solid", colour], self)


def desktop_pixels(image: np.ndarray, rect: Rect) -> int:
    """How many pixels of a monitor's part of a screenshot show the bare desktop."""
    x, y, w, h = rect
    part = image[y:y + h, x:x + w].astype(np.int16)
    return int((np.abs(part - np.array(ROOT_BGR, dtype=np.int16)).max(axis=2) <= 8).sum())
