"""Which monitor shows the page and which are covered, and where the widget may sit.

Pure geometry over the monitor list (kiosk/platform/desktop.py reads it), so every
arrangement of monitors is tested without one.
"""

from __future__ import annotations

from dataclasses import dataclass

from kiosk.platform.desktop import Monitor, Point, Rect

PRIMARY = "primary"  # display.monitor's default
WIDGET_MARGIN = 16


@dataclass(frozen=True)
class Layout:
    """A locked page on one monitor, every other monitor covered."""

    page: Monitor
    covered: tuple[Monitor, ...]
    missing: str | None = None  # the display.monitor that is not there now

    def describe(self) -> str:
        """The one log line of a layout: every monitor and what it shows."""
        def one(monitor: Monitor, role: str) -> str:
            x, y, w, h = monitor.rect
            primary = ", primary" if monitor.primary else ""
            return f"{monitor.name} {w}x{h}+{x}+{y} ({role}{primary})"

        parts = [one(m, "page" if m == self.page else "covered") for m in in_order(
            (self.page, *self.covered))]
        count = len(parts)
        text = f"{count} monitor{'s' if count > 1 else ''}: " + ", ".join(parts)
        if self.missing:
            text += f"; display.monitor {self.missing} is not connected, so the page is on " \
                    f"{self.page.name}"
        return text


def in_order(monitors: tuple[Monitor, ...]) -> tuple[Monitor, ...]:
    """Left to right, then top to bottom: how display.monitor numbers them (from 1)."""
    return tuple(sorted(monitors, key=lambda m: (m.rect[0], m.rect[1])))


def plan(monitors: tuple[Monitor, ...], wanted: str = PRIMARY) -> Layout | None:
    """The page on the monitor ``wanted`` names (``primary``, a number from the left, or a
    name such as ``HDMI-1`` or ``\\\\.\\DISPLAY2``), else on the primary one; None when
    there is no monitor at all."""
    ordered = in_order(tuple(m for m in monitors if m.rect[2] > 0 and m.rect[3] > 0))
    if not ordered:
        return None
    page = _named(ordered, wanted)
    missing = None
    if page is None:
        missing = wanted if wanted != PRIMARY else None
        page = next((m for m in ordered if m.primary), None) or _at_origin(ordered)
    return Layout(page, tuple(m for m in ordered if m != page), missing)


def _named(ordered: tuple[Monitor, ...], wanted: str) -> Monitor | None:
    if wanted == PRIMARY:
        return None
    if wanted.isdigit():
        number = int(wanted)
        return ordered[number - 1] if 1 <= number <= len(ordered) else None
    return next((m for m in ordered if m.name.casefold() == wanted.casefold()), None)


def _at_origin(ordered: tuple[Monitor, ...]) -> Monitor:
    """No monitor says it is the primary one: the one at the desktop's origin (Windows
    puts the primary there), else the leftmost."""
    return next((m for m in ordered if m.rect[:2] == (0, 0)), ordered[0])


def corner_position(corner: str, area: Rect, size: tuple[int, int]) -> Point:
    """Top-left of a window of ``size`` in ``corner`` of ``area``, clear of its edges."""
    ax, ay, aw, ah = area
    x = ax + WIDGET_MARGIN if corner.endswith("left") else ax + aw - size[0] - WIDGET_MARGIN
    y = ay + WIDGET_MARGIN if corner.startswith("top") else ay + ah - size[1] - WIDGET_MARGIN
    return max(ax, x), max(ay, y)


def _overlap(a: Rect, b: Rect) -> int:
    w = min(a[0] + a[2], b[0] + b[2]) - max(a[0], b[0])
    h = min(a[1] + a[3], b[1] + b[3]) - max(a[1], b[1])
    return max(0, w) * max(0, h)


def _distance(a: Rect, b: Rect) -> int:
    """How far apart two rectangles are (0 when they touch or overlap), squared."""
    dx = max(b[0] - (a[0] + a[2]), a[0] - (b[0] + b[2]), 0)
    dy = max(b[1] - (a[1] + a[3]), a[1] - (b[1] + b[3]), 0)
    return dx * dx + dy * dy


def home_of(rect: Rect, monitors: tuple[Monitor, ...]) -> Monitor | None:
    """The monitor that holds most of ``rect``, or the nearest one if none holds any."""
    if not monitors:
        return None
    return max(monitors, key=lambda m: (_overlap(rect, m.rect), -_distance(rect, m.rect)))


def keep_visible(rect: Rect, monitors: tuple[Monitor, ...]) -> Point:
    """Where a window of ``rect`` goes so that all of it is on one monitor's work area:
    where it is if it is already, else moved as little as possible onto the monitor that
    holds most of it (a monitor unplugged under it: the nearest one left)."""
    x, y, w, h = rect
    home = home_of(rect, monitors)
    if home is None:
        return x, y
    ax, ay, aw, ah = home.work
    return max(ax, min(x, ax + aw - w)), max(ay, min(y, ay + ah - h))


def resized_in_place(rect: Rect, size: tuple[int, int], monitors: tuple[Monitor, ...]) -> Point:
    """Where a window of ``rect`` goes when it takes ``size``: it keeps the edges nearest
    to its monitor's edges (a widget in the top-right corner stays in that corner)."""
    x, y, w, h = rect
    home = home_of(rect, monitors)
    if home is not None:
        ax, ay, aw, ah = home.work
        if x + w / 2 > ax + aw / 2:
            x += w - size[0]
        if y + h / 2 > ay + ah / 2:
            y += h - size[1]
    return keep_visible((x, y, *size), monitors)
