"""Which monitor shows the page, which are covered, and where the widget may sit: the pure
geometry of kiosk/layout.py over made-up monitor lists."""

from __future__ import annotations

import pytest

from kiosk.layout import corner_position, home_of, in_order, keep_visible, plan, resized_in_place
from kiosk.platform.desktop import Monitor

WIDGET = (320, 180)
MARGIN = 16


def monitor(name: str, rect: tuple[int, int, int, int], primary: bool = False,
            work: tuple[int, int, int, int] | None = None) -> Monitor:
    return Monitor(name, rect, work or rect, primary)


LEFT = monitor("DUMMY0", (0, 0, 1280, 720), primary=True)
RIGHT = monitor("DUMMY1", (1280, 0, 1920, 1080))
# Windows puts the primary at the origin; a monitor left of it has negative coordinates.
WIN_LEFT = monitor(r"\\.\DISPLAY2", (-1920, 0, 1920, 1080))
WIN_MAIN = monitor(r"\\.\DISPLAY1", (0, 0, 1920, 1080), primary=True,
                   work=(0, 0, 1920, 1040))  # a 40 px taskbar at the bottom


@pytest.mark.parametrize("area", [(0, 0, 1920, 1080), (0, 0, 1280, 720), (1280, 0, 1920, 1080),
                                  (-1920, 0, 1920, 1080), (0, 0, 1920, 1040)],
                         ids=["1080p", "720p", "second-monitor", "left-of-primary", "taskbar"])
@pytest.mark.parametrize("corner", ["top-left", "top-right", "bottom-left", "bottom-right"])
def test_widget_sits_in_its_corner_of_the_area_16px_from_the_nearest_edges(corner, area):
    ax, ay, aw, ah = area
    x, y = corner_position(corner, area, WIDGET)
    right, bottom = x + WIDGET[0], y + WIDGET[1]

    assert x >= ax and y >= ay and right <= ax + aw and bottom <= ay + ah
    if corner.endswith("left"):
        assert x - ax == MARGIN
    else:
        assert ax + aw - right == MARGIN
    if corner.startswith("top"):
        assert y - ay == MARGIN
    else:
        assert ay + ah - bottom == MARGIN


def test_one_monitor_shows_the_page_and_covers_nothing():
    layout = plan((LEFT,))
    assert layout is not None and layout.page == LEFT and layout.covered == ()
    assert layout.describe() == "1 monitor: DUMMY0 1280x720+0+0 (page, primary)"


def test_the_page_goes_on_the_primary_monitor_and_every_other_is_covered():
    third = monitor("DUMMY2", (3200, 0, 1280, 1024))
    layout = plan((RIGHT, third, monitor("DUMMY0", (0, 0, 1280, 720), primary=False),
                   monitor("HDMI-1", (0, 720, 1280, 720), primary=True)))
    assert layout is not None and layout.page.name == "HDMI-1"
    assert [m.name for m in layout.covered] == ["DUMMY0", "DUMMY1", "DUMMY2"]
    assert layout.describe() == (
        "4 monitors: DUMMY0 1280x720+0+0 (covered), HDMI-1 1280x720+0+720 (page, primary), "
        "DUMMY1 1920x1080+1280+0 (covered), DUMMY2 1280x1024+3200+0 (covered)")


def test_without_a_primary_the_monitor_at_the_origin_shows_the_page():
    at_origin = monitor("B", (0, 0, 1920, 1080))
    layout = plan((WIN_LEFT, at_origin))
    assert layout is not None and layout.page == at_origin and layout.covered == (WIN_LEFT,)
    far = (monitor("B", (1920, 0, 800, 600)), monitor("A", (100, 0, 800, 600)))
    assert plan(far).page.name == "A"  # nor at the origin: the leftmost


@pytest.mark.parametrize(("wanted", "page"), [("primary", "DUMMY0"), ("1", "DUMMY0"),
                                              ("2", "DUMMY1"), ("dummy1", "DUMMY1"),
                                              ("DUMMY1", "DUMMY1")])
def test_display_monitor_names_the_page_monitor_by_number_from_the_left_or_by_name(wanted, page):
    layout = plan((RIGHT, LEFT), wanted)
    assert layout is not None and layout.page.name == page and layout.missing is None
    assert len(layout.covered) == 1


@pytest.mark.parametrize("wanted", ["3", "HDMI-2"])
def test_a_display_monitor_that_is_not_there_leaves_the_page_on_the_primary_and_says_so(wanted):
    layout = plan((RIGHT, LEFT), wanted)
    assert layout is not None and layout.page == LEFT and layout.covered == (RIGHT,)
    assert layout.missing == wanted
    assert layout.describe().endswith(
        f"; display.monitor {wanted} is not connected, so the page is on DUMMY0")


def test_no_monitor_at_all_is_no_layout_and_empty_monitors_do_not_count():
    assert plan(()) is None
    assert plan((monitor("off", (0, 0, 0, 0)),)) is None
    layout = plan((monitor("off", (1280, 0, 0, 720), primary=True), RIGHT))
    assert layout is not None and layout.page == RIGHT and layout.covered == ()


def test_monitors_are_numbered_left_to_right_then_top_to_bottom():
    top, bottom = monitor("top", (0, 0, 10, 10)), monitor("bottom", (0, 10, 10, 10))
    assert in_order((RIGHT, bottom, WIN_LEFT, top)) == (WIN_LEFT, top, bottom, RIGHT)


def test_a_widget_wholly_on_a_monitor_stays_where_it_is():
    assert keep_visible((100, 100, *WIDGET), (LEFT, RIGHT)) == (100, 100)
    assert keep_visible((2000, 500, *WIDGET), (LEFT, RIGHT)) == (2000, 500)
    assert keep_visible((-1000, 50, *WIDGET), (WIN_LEFT, WIN_MAIN)) == (-1000, 50)


def test_a_widget_over_an_edge_moves_the_least_to_be_whole_on_the_monitor_holding_most_of_it():
    assert keep_visible((1200, 100, *WIDGET), (LEFT, RIGHT)) == (1280, 100)  # mostly right
    assert keep_visible((1000, 100, *WIDGET), (LEFT, RIGHT)) == (960, 100)  # mostly left
    assert keep_visible((1100, 600, *WIDGET), (LEFT,)) == (960, 540)  # off two edges
    assert keep_visible((-50, -20, *WIDGET), (LEFT,)) == (0, 0)


def test_a_widget_keeps_clear_of_the_taskbar():
    assert keep_visible((1500, 900, *WIDGET), (WIN_MAIN,)) == (1500, 1040 - WIDGET[1])


def test_a_widget_whose_monitor_went_lands_on_the_nearest_one_left():
    # It sat on the right monitor; that one was unplugged (or its resolution shrank).
    assert keep_visible((2800, 900, *WIDGET), (LEFT,)) == (1280 - WIDGET[0], 720 - WIDGET[1])
    assert home_of((2800, 900, *WIDGET), (LEFT, monitor("far", (5000, 0, 100, 100)))) == LEFT
    assert keep_visible((10, 10, *WIDGET), ()) == (10, 10)  # nothing known: left alone


@pytest.mark.parametrize(("start", "expected"), [
    ((1280 - 16 - 320, 16), (1280 - 16 - 150, 16)),  # top-right: the right edge stays
    ((16, 720 - 16 - 180), (16, 720 - 16 - 40)),  # bottom-left: the bottom edge stays
    ((16, 16), (16, 16)),  # top-left: the top-left corner stays
])
def test_collapsing_keeps_the_widget_at_its_nearest_edges(start, expected):
    assert resized_in_place((*start, *WIDGET), (150, 40), (LEFT,)) == expected
    assert resized_in_place((*expected, 150, 40), WIDGET, (LEFT,)) == start  # and back


def test_expanding_a_pill_at_the_edge_keeps_the_whole_widget_on_the_monitor():
    # A pill dragged to the bottom of the left half: it grows rightwards and up into view.
    assert resized_in_place((400, 690, 150, 30), WIDGET, (LEFT,)) == (400, 720 - 180)
    # One right of the middle grows leftwards, keeping its right edge.
    assert resized_in_place((600, 690, 150, 30), WIDGET, (LEFT,)) == (600 + 150 - 320, 540)
