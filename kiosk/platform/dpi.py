"""The UI's DPI awareness on Windows: declared, never inherited.

A process that declares none is "DPI unaware": on a 4K monitor at 150 % Windows tells it
the monitor is 2560×1440, lets it draw that, and stretches the result (blurred QR code and
text); with monitors at different scales its rectangles no longer meet the monitors'. A
per-monitor aware process gets every monitor, window and pointer position in physical
pixels ("High DPI Desktop Application Development on Windows"), the same coordinates in
user32 (kiosk/platform/desktop.py) and in SDL.

The kiosk declares per-monitor v2 three ways, whichever comes first winning (Windows
refuses a second declaration with ERROR_ACCESS_DENIED, which is harmless):
the built program's manifest (packaging/kiosk.manifest), SDL's hint
``SDL_WINDOWS_DPI_AWARENESS=permonitorv2`` (kiosk/cover.py; SDL 2 declares nothing without
it, and ``SDL_WINDOWS_DPI_SCALING`` stays 0 so SDL's coordinates stay pixels), and
``declare`` here, for a UI whose first window SDL has not made yet. ``declare`` falls back
the way SDL 2.32's ``WIN_DeclareDPIAwarePerMonitorV2`` does: per-monitor v2 (Windows 10
1607+), per-monitor (``SetProcessDpiAwarenessContext`` or, on 8.1,
``SetProcessDpiAwareness``), then system-aware (``SetProcessDPIAware``, Vista).
"""

from __future__ import annotations

import ctypes
import sys
from collections.abc import Callable
from typing import Any

# DPI_AWARENESS_CONTEXT handles (windef.h) and DPI_AWARENESS values (GetAwareness...).
CONTEXT_PER_MONITOR_AWARE_V2 = -4
CONTEXT_PER_MONITOR_AWARE = -3
PROCESS_PER_MONITOR_DPI_AWARE = 2  # shcore's PROCESS_DPI_AWARENESS
AWARENESS = {0: "unaware", 1: "system-aware", 2: "per-monitor"}
PER_MONITOR_V2 = "per-monitor v2"
PHYSICAL = frozenset({"per-monitor", PER_MONITOR_V2})  # these see physical pixels everywhere


def _declare_user32(user32: Any) -> None:
    context, bool_ = ctypes.c_void_p, ctypes.c_int
    signatures = [
        ("SetProcessDpiAwarenessContext", [context], bool_),
        ("GetThreadDpiAwarenessContext", [], context),
        ("GetAwarenessFromDpiAwarenessContext", [context], ctypes.c_int),
        ("AreDpiAwarenessContextsEqual", [context, context], bool_),
        ("SetProcessDPIAware", [], bool_),
    ]
    for name, argtypes, restype in signatures:
        function = getattr(user32, name, None)  # each appeared in a later Windows
        if function is not None:
            function.argtypes, function.restype = argtypes, restype


def declare(user32: Any, shcore: Any | None) -> str | None:
    """Declare the best awareness this Windows has, per-monitor v2 first; the one declared,
    or None when none took (already declared by the manifest or SDL, or refused)."""
    _declare_user32(user32)
    set_context = getattr(user32, "SetProcessDpiAwarenessContext", None)
    if set_context is not None:
        for context, name in ((CONTEXT_PER_MONITOR_AWARE_V2, PER_MONITOR_V2),
                              (CONTEXT_PER_MONITOR_AWARE, "per-monitor")):
            if set_context(context):
                return name
        return None
    set_awareness = getattr(shcore, "SetProcessDpiAwareness", None) if shcore else None
    if set_awareness is not None:
        return "per-monitor" if set_awareness(PROCESS_PER_MONITOR_DPI_AWARE) == 0 else None
    set_aware = getattr(user32, "SetProcessDPIAware", None)
    return "system-aware" if set_aware is not None and set_aware() else None


def awareness(user32: Any) -> str:
    """The awareness this thread (so the process: the kiosk sets none per thread) has."""
    _declare_user32(user32)
    get_context = getattr(user32, "GetThreadDpiAwarenessContext", None)
    if get_context is None:
        return "unknown (a Windows before 10 1607)"
    context = get_context()
    if user32.AreDpiAwarenessContextsEqual(context, CONTEXT_PER_MONITOR_AWARE_V2):
        return PER_MONITOR_V2
    return AWARENESS.get(user32.GetAwarenessFromDpiAwarenessContext(context), "unknown")


def verdict(declared: str | None, found: str) -> tuple[bool, str]:
    """Whether the UI's rectangles are physical pixels, and the log line that says so."""
    how = f"declared {declared} here" if declared else "set before by the manifest or SDL"
    if found in PHYSICAL:
        return True, f"DPI awareness {found} ({how}): every monitor at its native resolution"
    return False, (f"DPI awareness {found} ({how}), not per-monitor: Windows stretches the "
                   "page on a monitor scaled above 100 %; clear kiosk.exe's Properties > "
                   "Compatibility > Change high DPI settings")


def settle(platform: str = sys.platform,
           load: Callable[[], tuple[Any, Any]] | None = None) -> tuple[bool, str] | None:
    """On Windows: declare per-monitor v2 (if nothing did yet) and say what is in effect;
    None elsewhere or where user32 cannot be loaded."""
    if platform != "win32":
        return None
    try:
        user32, shcore = (load or _load)()
        return verdict(declare(user32, shcore), awareness(user32))
    except (OSError, AttributeError) as exc:
        return False, f"DPI awareness unknown ({exc})"


def _load() -> tuple[Any, Any]:
    user32 = ctypes.WinDLL("user32")  # type: ignore[attr-defined]
    try:
        shcore = ctypes.WinDLL("shcore")  # type: ignore[attr-defined]
    except OSError:  # before Windows 8.1
        shcore = None
    return user32, shcore
