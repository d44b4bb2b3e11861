"""Drive real programs on a virtual X screen: Xvfb, xdotool, xwd and OpenCV.

End-to-end tests run the real kiosk in a real window, so they need a display
that exists on a headless CI machine (Xvfb), input that goes through the X
server like a user's (xdotool), and a way to see what is on screen (``xwd``
screenshots parsed here with NumPy, QR codes decoded with OpenCV).

Pitfalls this module handles (see DESIGN.md section 6):

* SDL's framebuffer acceleration fails under Xvfb: ``SDL_FRAMEBUFFER_ACCELERATION=0``.
* ``xdotool search --name`` does not match SDL windows: search by ``--pid``
  (SDL sets ``_NET_WM_PID``) or by ``--class``.
* No window manager runs, so ``windowactivate`` (which asks the WM) fails:
  focus with ``windowfocus`` instead.

Every external command runs with a timeout, so a stuck X server or client
fails the test instead of hanging it.

Debian packages needed: ``xvfb``, ``xdotool`` and ``x11-apps`` (for ``xwd``).

Under ``make test-windows`` the test process is a Windows one: given a
:class:`~tests.e2e.win32_desktop.Desktop` instead of a ``VirtualScreen``, the screenshot,
click, window search and geometry below go through Win32 there (see that module for why).

NumPy and OpenCV load when a screenshot is first read: ``make bench`` drives the kiosk
with this module, and OpenCV's pages shared with it would stay resident in the kiosk
when it gives its decoder's back (kiosk/platform/memory.py).
"""

from __future__ import annotations

import contextlib
import os
import select
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any

from tests.waiting import wait_until

from . import win32_desktop
from .win32_desktop import Desktop

if TYPE_CHECKING:
    import cv2
    import numpy as np

__all__ = [
    "REQUIRED_TOOLS",
    "Rect",
    "VirtualScreen",
    "XScreenError",
    "click",
    "decode_qr",
    "is_mostly",
    "key",
    "missing_tools",
    "parse_xwd",
    "region_mean",
    "save_png",
    "screenshot",
    "stop_process",
    "type_text",
    "wait_until",
    "window_geometry",
    "windows_of",
]

#: Commands this module runs; :func:`missing_tools` tells which are absent.
REQUIRED_TOOLS: tuple[str, ...] = ("Xvfb", "xdotool", "xwd")

#: A rectangle as ``(x, y, width, height)`` in screen pixels.
Rect = tuple[int, int, int, int]

DEFAULT_TIMEOUT = 10.0
"""Seconds any single external command may take before it is killed."""


class XScreenError(RuntimeError):
    """An X tool failed or gave output we could not understand."""


def missing_tools() -> list[str]:
    """Names from :data:`REQUIRED_TOOLS` not on PATH, so tests can skip or fail early."""
    return [tool for tool in REQUIRED_TOOLS if shutil.which(tool) is None]


# --------------------------------------------------------------------------- screen


class VirtualScreen:
    """An Xvfb server on a free display, for the lifetime of a ``with`` block.

    Xvfb picks the display number itself (``-displayfd``), so parallel test
    runs never race for ``:99``. It runs in its own process group so that
    :meth:`stop` kills it and anything it spawned, reaps it (no zombie), and
    removes the lock file and socket should it die without cleaning up.
    """

    def __init__(
        self,
        width: int = 1280,
        height: int = 720,
        *,
        depth: int = 24,
        start_timeout: float = DEFAULT_TIMEOUT,
        extra_args: Sequence[str] = (),
    ) -> None:
        self.width = width
        self.height = height
        self.depth = depth
        self.start_timeout = start_timeout
        self.extra_args = tuple(extra_args)
        self._proc: subprocess.Popen[bytes] | None = None
        self._log: Any = None  # temporary file holding Xvfb's stderr
        self._display: str | None = None

    # -- lifecycle

    def __enter__(self) -> VirtualScreen:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def start(self) -> VirtualScreen:
        """Start Xvfb and return once it accepts clients; raise XScreenError otherwise."""
        if self._proc is not None:
            raise XScreenError("VirtualScreen already started")
        read_fd, write_fd = os.pipe()
        self._log = tempfile.TemporaryFile()  # noqa: SIM115 (lives as long as the server)
        args = self._command(write_fd)
        try:
            self._proc = subprocess.Popen(
                args,
                pass_fds=(write_fd,),
                stdin=subprocess.DEVNULL,
                stdout=self._log,
                stderr=self._log,
                start_new_session=True,
            )
        except BaseException:
            os.close(read_fd)
            os.close(write_fd)
            self._close_log()
            raise
        os.close(write_fd)
        try:
            number = self._read_display_number(read_fd)
            self._display = f":{number}"
            self._wait_accepting()
        except BaseException:
            os.close(read_fd)
            self.stop()
            raise
        os.close(read_fd)
        return self

    def _command(self, display_fd: int) -> list[str]:
        """The server's argv; it writes its display number to ``display_fd``."""
        return [
            "Xvfb",
            "-displayfd", str(display_fd),
            "-screen", "0", f"{self.width}x{self.height}x{self.depth}",
            "-nolisten", "tcp",
            "-noreset",  # keep server state when the last client disconnects
            *self.extra_args,
        ]  # fmt: skip

    def stop(self) -> None:
        """Kill Xvfb's process group, reap it and remove its lock files. Idempotent."""
        proc, self._proc = self._proc, None
        if proc is not None:
            _kill_group(proc, timeout=5.0)
            if self._display is not None:
                _remove_stale_lock(int(self._display[1:]), proc.pid)
        self._close_log()

    # -- facts

    @property
    def display(self) -> str:
        """The display name, e.g. ``":3"``."""
        if self._display is None:
            raise XScreenError("VirtualScreen not started")
        return self._display

    @property
    def pid(self) -> int:
        """Process id of the Xvfb server."""
        if self._proc is None:
            raise XScreenError("VirtualScreen not started")
        return self._proc.pid

    @property
    def size(self) -> tuple[int, int]:
        """``(width, height)`` of the screen in pixels."""
        return self.width, self.height

    def env(self, extra: Mapping[str, str] | None = None) -> dict[str, str]:
        """A copy of os.environ for a program shown on this screen (SDL settings included)."""
        env = dict(os.environ)
        env.pop("WAYLAND_DISPLAY", None)  # so nothing prefers a real desktop
        env.update(
            DISPLAY=self.display,
            SDL_FRAMEBUFFER_ACCELERATION="0",  # SDL's accelerated surface fails on Xvfb
            SDL_VIDEODRIVER="x11",
            SDL_AUDIODRIVER="dummy",
        )
        if extra:
            env.update(extra)
        return env

    def popen(
        self,
        args: Sequence[str],
        *,
        env: Mapping[str, str] | None = None,
        **kwargs: Any,
    ) -> subprocess.Popen[bytes]:
        """Start a program on this screen in its own process group (see :func:`stop_process`).

        ``env`` adds to :meth:`env`; other keyword arguments go to ``subprocess.Popen``.
        """
        kwargs.setdefault("stdin", subprocess.DEVNULL)
        return subprocess.Popen(list(args), env=self.env(env), start_new_session=True, **kwargs)

    def log(self) -> str:
        """What Xvfb printed so far, for error messages."""
        if self._log is None:
            return ""
        self._log.flush()
        self._log.seek(0)
        return self._log.read().decode("utf-8", "replace")

    # -- internals

    def _read_display_number(self, read_fd: int) -> int:
        """Read the number Xvfb writes to ``-displayfd`` once its sockets listen."""
        assert self._proc is not None
        deadline = time.monotonic() + self.start_timeout
        data = b""
        while not data.endswith(b"\n"):
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise XScreenError(f"Xvfb gave no display number in time\n{self.log()}")
            ready, _, _ = select.select([read_fd], [], [], min(remaining, 0.2))
            if ready:
                chunk = os.read(read_fd, 64)
                if not chunk:  # Xvfb closed the pipe: it died
                    break
                data += chunk
            elif self._proc.poll() is not None:
                break
        try:
            return int(data.strip())
        except ValueError:
            raise XScreenError(
                f"Xvfb exited ({self._proc.poll()}) without a display\n{self.log()}"
            ) from None

    def _wait_accepting(self) -> None:
        """Poll with a real client until the server answers with the expected size."""
        assert self._proc is not None
        expected = f"{self.width} {self.height}"
        deadline = time.monotonic() + self.start_timeout
        last = ""
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                raise XScreenError(f"Xvfb exited with {self._proc.returncode}\n{self.log()}")
            try:
                out = _xrun(["xdotool", "getdisplaygeometry"], self, timeout=2.0)
                last = out.strip()
                if last == expected:
                    return
            except XScreenError as err:
                last = str(err)
            time.sleep(0.05)
        raise XScreenError(f"Xvfb {self._display} not accepting clients: {last}\n{self.log()}")

    def _close_log(self) -> None:
        if self._log is not None:
            self._log.close()
            self._log = None


def _kill_group(proc: subprocess.Popen[Any], timeout: float) -> int | None:
    """SIGTERM the process group, SIGKILL it after ``timeout``, and reap the leader."""
    if proc.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=timeout)
    else:
        # The leader is gone, but children it left in the group may not be.
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, signal.SIGKILL)
    return proc.returncode


def _remove_stale_lock(number: int, pid: int) -> None:
    """Remove the display's lock file and socket if our (dead) server left them behind.

    With ``-displayfd`` Xvfb takes no lock file, but one named after our pid
    or a socket nobody listens on would make the display look busy or broken.
    """
    lock = Path(f"/tmp/.X{number}-lock")
    with contextlib.suppress(OSError, ValueError):
        if int(lock.read_text().strip()) == pid:
            lock.unlink(missing_ok=True)
    sock_path = Path(f"/tmp/.X11-unix/X{number}")
    if sock_path.exists():
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
            sock.settimeout(1.0)
            try:
                sock.connect(str(sock_path))
            except ConnectionRefusedError:
                sock_path.unlink(missing_ok=True)
            except OSError:
                pass  # something else is there or it vanished: leave it


def stop_process(proc: subprocess.Popen[Any], timeout: float = 5.0) -> int | None:
    """End a program started with :meth:`VirtualScreen.popen` (its whole group); return its code.

    Returns the exit code it had already if it ended by itself.
    """
    return _kill_group(proc, timeout)


# --------------------------------------------------------------------------- commands


Screen = VirtualScreen | Desktop | str


def _display_of(screen: VirtualScreen | str) -> str:
    return screen if isinstance(screen, str) else screen.display


def _xrun(
    args: Sequence[str],
    screen: VirtualScreen | str,
    *,
    timeout: float = DEFAULT_TIMEOUT,
    ok_codes: Sequence[int] = (0,),
) -> str:
    """Run an X client on ``screen``; return stdout, raise XScreenError on failure or timeout."""
    return _xrun_bytes(args, screen, timeout=timeout, ok_codes=ok_codes).decode("utf-8", "replace")


def _xrun_bytes(
    args: Sequence[str],
    screen: VirtualScreen | str,
    *,
    timeout: float = DEFAULT_TIMEOUT,
    ok_codes: Sequence[int] = (0,),
) -> bytes:
    env = dict(os.environ, DISPLAY=_display_of(screen))
    try:
        done = subprocess.run(
            list(args),
            env=env,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            timeout=timeout,
            check=False,
        )
    except subprocess.TimeoutExpired:
        raise XScreenError(f"{' '.join(args)}: timed out after {timeout}s") from None
    except FileNotFoundError:
        raise XScreenError(f"{args[0]}: not installed (Debian: xvfb, xdotool, x11-apps)") from None
    if done.returncode not in ok_codes:
        err = done.stderr.decode("utf-8", "replace").strip()
        raise XScreenError(f"{' '.join(args)}: exit {done.returncode}: {err}")
    return done.stdout


# --------------------------------------------------------------------------- screenshots


def screenshot(screen: Screen, timeout: float = DEFAULT_TIMEOUT) -> np.ndarray:
    """The whole root window as a BGR ``uint8`` array of shape (H, W, 3), via ``xwd``."""
    if isinstance(screen, Desktop):
        return win32_desktop.screenshot()
    data = _xrun_bytes(["xwd", "-root", "-silent"], screen, timeout=timeout)
    return parse_xwd(data)


_XWD_FIELDS = 25  # 32-bit header fields before the window name


def parse_xwd(data: bytes) -> np.ndarray:
    """Decode an XWD (version 7) TrueColor/DirectColor ZPixmap into a BGR array.

    The header and colormap are always big-endian; the pixels follow the
    server's ``byte_order``. Channels are taken through the header's masks,
    so 16, 24 and 32 bits per pixel all work.
    """
    import numpy as np

    if len(data) < _XWD_FIELDS * 4:
        raise XScreenError(f"XWD data too short ({len(data)} bytes)")
    h = np.frombuffer(data, dtype=">u4", count=_XWD_FIELDS).astype(np.int64)
    header_size, version, pixmap_format = int(h[0]), int(h[1]), int(h[2])
    width, height = int(h[4]), int(h[5])
    byte_order, bits_per_pixel, bytes_per_line = int(h[7]), int(h[11]), int(h[12])
    visual_class = int(h[13])
    masks = (int(h[16]), int(h[15]), int(h[14]))  # blue, green, red
    ncolors = int(h[19])
    if version != 7 or pixmap_format != 2:
        raise XScreenError(f"unsupported XWD: version {version}, format {pixmap_format}")
    if visual_class not in (4, 5):  # TrueColor, DirectColor
        raise XScreenError(f"unsupported XWD visual class {visual_class} (need TrueColor)")
    bytes_per_pixel = bits_per_pixel // 8
    if bits_per_pixel not in (16, 24, 32) or bytes_per_line < width * bytes_per_pixel:
        raise XScreenError(f"unsupported XWD: {bits_per_pixel} bpp, {bytes_per_line} B/line")
    offset = header_size + ncolors * 12  # each XWDColor is 12 bytes
    end = offset + bytes_per_line * height
    if len(data) < end:
        raise XScreenError(f"XWD data truncated: {len(data)} bytes, need {end}")

    rows = np.frombuffer(data, dtype=np.uint8, count=end - offset, offset=offset)
    rows = rows.reshape(height, bytes_per_line)[:, : width * bytes_per_pixel]
    octets = rows.reshape(height, width, bytes_per_pixel).astype(np.uint32)
    if byte_order == 1:  # MSBFirst: most significant byte first
        octets = octets[:, :, ::-1]
    pixels = np.zeros((height, width), dtype=np.uint32)
    for i in range(bytes_per_pixel):
        pixels |= octets[:, :, i] << np.uint32(8 * i)

    out = np.empty((height, width, 3), dtype=np.uint8)
    for channel, mask in enumerate(masks):
        if mask == 0:
            raise XScreenError("XWD colour mask is zero")
        shift = (mask & -mask).bit_length() - 1
        top = mask >> shift
        values = (pixels & np.uint32(mask)) >> np.uint32(shift)
        if top != 255:  # scale e.g. 5- or 6-bit channels to 0..255
            values = (values.astype(np.uint32) * 255 + top // 2) // top
        out[:, :, channel] = values.astype(np.uint8)
    return out


def save_png(img: np.ndarray, path: str | os.PathLike[str]) -> Path:
    """Write a BGR image as PNG (creating folders) so a failing test leaves evidence."""
    import cv2

    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    if not cv2.imwrite(str(target), img):
        raise XScreenError(f"could not write {target}")
    return target


# --------------------------------------------------------------------------- QR codes


def decode_qr(img: np.ndarray) -> list[str]:
    """Texts of the QR codes in a BGR or grey image, in detection order, without repeats.

    Tries the image as is, then 2x upscaled (small modules), then an Otsu
    threshold (anti-aliasing, tinted backgrounds); stops at the first that yields text.
    """
    import cv2

    detector = cv2.QRCodeDetector()
    for variant in _qr_variants(img):
        texts = _detect(detector, variant)
        if texts:
            return list(dict.fromkeys(texts))
    return []


def _qr_variants(img: np.ndarray) -> list[np.ndarray]:
    import cv2

    grey = img if img.ndim == 2 else cv2.cvtColor(img, cv2.COLOR_BGR2GRAY)
    upscaled = cv2.resize(img, None, fx=2, fy=2, interpolation=cv2.INTER_NEAREST)
    _, binary = cv2.threshold(grey, 0, 255, cv2.THRESH_BINARY | cv2.THRESH_OTSU)
    return [img, upscaled, binary]


def _detect(detector: cv2.QRCodeDetector, img: np.ndarray) -> list[str]:
    import cv2

    try:
        found, texts, _points, _codes = detector.detectAndDecodeMulti(img)
        if found:
            decoded = [t for t in texts if t]
            if decoded:
                return decoded
        text, _points, _code = detector.detectAndDecode(img)
    except cv2.error:
        return []
    return [text] if text else []


# --------------------------------------------------------------------------- pixels


def _region(img: np.ndarray, rect: Rect) -> np.ndarray:
    x, y, w, h = rect
    if w <= 0 or h <= 0 or x < 0 or y < 0 or x + w > img.shape[1] or y + h > img.shape[0]:
        raise ValueError(f"region {rect} not inside image of {img.shape[1]}x{img.shape[0]}")
    return img[y : y + h, x : x + w]


def region_mean(img: np.ndarray, x: int, y: int, w: int, h: int) -> tuple[float, float, float]:
    """Mean ``(b, g, r)`` of a rectangle, for a rough look at what is shown there."""
    b, g, r = _region(img, (x, y, w, h)).reshape(-1, 3).mean(axis=0)
    return float(b), float(g), float(r)


def is_mostly(
    img: np.ndarray,
    rect: Rect,
    bgr: tuple[int, int, int],
    tolerance: int = 16,
    fraction: float = 0.95,
) -> bool:
    """Whether at least ``fraction`` of the rectangle's pixels are within ``tolerance`` of ``bgr``.

    A fraction rather than a mean, so a small overlay (cursor, text) does not
    make a wrong colour look right or a right one look wrong.
    """
    import numpy as np

    region = _region(img, rect).astype(np.int16)
    diff = np.abs(region - np.array(bgr, dtype=np.int16)).max(axis=2)
    return bool((diff <= tolerance).mean() >= fraction)


# --------------------------------------------------------------------------- windows and input


def windows_of(
    pid: int,
    screen: Screen,
    *,
    class_name: str | None = None,
    timeout: float = 5.0,
    only_visible: bool = True,
) -> list[int]:
    """Window ids of a process, polled until one shows up; ``[]`` after ``timeout``.

    Searches by ``--pid`` (SDL sets _NET_WM_PID), then by ``--class`` if given
    (``--name`` does not match SDL windows). ``only_visible`` waits for the
    window to be mapped, so it can be focused and photographed.
    """
    if isinstance(screen, Desktop):  # visible ones (EnumWindows), by their process
        deadline = time.monotonic() + timeout
        while not (found := win32_desktop.windows_of(pid)) and time.monotonic() < deadline:
            time.sleep(0.05)
        return found
    base = ["xdotool", "search"] + (["--onlyvisible"] if only_visible else [])
    searches = [[*base, "--pid", str(pid)]]
    if class_name:
        searches.append([*base, "--class", class_name])
    deadline = time.monotonic() + timeout
    while True:
        for args in searches:
            # xdotool exits 1 when nothing matches yet. The command's own limit is not the
            # search's: a search of 1 s must not fail because xdotool took 1 s to start.
            out = _xrun(args, screen, ok_codes=(0, 1))
            ids = [int(line) for line in out.split() if line.strip().isdigit()]
            if ids:
                return sorted(set(ids))
        if time.monotonic() >= deadline:
            return []
        time.sleep(0.05)


def window_geometry(wid: int, screen: Screen) -> Rect:
    """``(x, y, width, height)`` of a window in root coordinates."""
    if isinstance(screen, Desktop):
        return win32_desktop.window_rect(wid)
    out = _xrun(["xdotool", "getwindowgeometry", "--shell", str(wid)], screen)
    values = dict(line.split("=", 1) for line in out.splitlines() if "=" in line)
    try:
        return (int(values["X"]), int(values["Y"]), int(values["WIDTH"]), int(values["HEIGHT"]))
    except (KeyError, ValueError):
        raise XScreenError(f"unexpected getwindowgeometry output: {out!r}") from None


def click(x: int, y: int, screen: Screen, button: int = 1) -> None:
    """Move the pointer to root coordinates ``(x, y)`` and click there (real X input).

    No ``--sync``: it waits for a motion that never comes when the pointer is already
    there (Xvfb starts it at the centre). The move and the click go over one X
    connection, in order.
    """
    if isinstance(screen, Desktop):
        return win32_desktop.click(x, y, button)
    _xrun(["xdotool", "mousemove", str(x), str(y), "click", str(button)], screen)


def move(x: int, y: int, screen: Screen) -> None:
    """Move the pointer to root coordinates ``(x, y)`` without clicking (real X input)."""
    if isinstance(screen, Desktop):
        return win32_desktop.move(x, y)
    _xrun(["xdotool", "mousemove", str(x), str(y)], screen)


def _focus(window: int | None) -> list[str]:
    # windowfocus, not windowactivate: the latter needs a window manager.
    return [] if window is None else ["windowfocus", "--sync", str(window)]


def key(name: str, screen: VirtualScreen | str, window: int | None = None) -> None:
    """Press and release a key (X keysym name such as ``Escape`` or ``ctrl+q``).

    With ``window``, focus it first: with no window manager, nothing else does.
    """
    _xrun(["xdotool", *_focus(window), "key", "--clearmodifiers", name], screen)


def type_text(
    text: str,
    screen: VirtualScreen | str,
    window: int | None = None,
    delay_ms: int = 12,
) -> None:
    """Type ``text`` as key presses, focusing ``window`` first if given."""
    timeout = DEFAULT_TIMEOUT + len(text) * delay_ms / 1000 * 2
    _xrun(
        ["xdotool", *_focus(window), "type", "--delay", str(delay_ms), "--", text],
        screen,
        timeout=timeout,
    )


# --------------------------------------------------------------------------- waiting
