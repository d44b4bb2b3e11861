"""The widget's place outlives a UI restart in the same session, and a drag moves it while a
mere click does not (kiosk/widget.py)."""

from __future__ import annotations

import pytest

from kiosk.contract import parse_status
from kiosk.widget import DRAG_SLOP_PX, Drag, WidgetPlace, session_key


@pytest.mark.parametrize("place", [WidgetPlace("a1b2c3", (1500, 16)),
                                   WidgetPlace("a1b2c3", (-1904, -3), collapsed=True),
                                   WidgetPlace("ff", (0, 0), collapsed=False)])
def test_a_place_goes_through_the_guardian_pipe_and_back_unchanged(place):
    token = place.token()
    assert token.isascii() and " " not in token  # one word on the pipe and the command line
    assert WidgetPlace.from_token(token) == place


@pytest.mark.parametrize("token", [None, "", "abc", "a:1:2", "a:1:2:3", "a:x:2:0", "a b:1:2:0",
                                   ":1:2:0", "a:1:2:0:extra"])
def test_a_token_that_is_not_a_place_is_no_place(token):
    assert WidgetPlace.from_token(token) is None


def test_a_session_is_named_by_this_pc_the_customer_and_the_start_time():
    body = (b'{"data":1,"duration":2,"unionId":"775233","clientId":"370011","cost":2.64,'
            b'"onlineStatus":2,"charging":1.32,"startTime":"2017-08-07 16:32:20",'
            b'"endTime":"2017-08-07 16:34:20"}')
    status = parse_status(body, "370011")
    assert status.session == "775233 2017-08-07 16:32:20"
    key = session_key("370011", status.session)
    assert key.isalnum() and key.isascii() and len(key) == 12
    assert key == session_key("370011", status.session)  # the same after a restart
    assert key != session_key("370012", status.session)  # another PC
    assert key != session_key("370011", "775233 2017-08-07 18:00:00")  # the next session
    assert session_key("370011", "") == ""  # the server names none: nothing is restored


def test_the_session_name_survives_odd_answers():
    assert parse_status(b'{"data":1,"onlineStatus":2,"clientId":"370011"}', "370011").session == ""
    odd = parse_status(b'{"data":1,"onlineStatus":2,"unionId":true,"startTime":12}', "370011")
    assert odd.session == "12"


def test_a_press_that_hardly_moves_is_a_click_and_leaves_the_widget_where_it_is():
    drag = Drag()
    drag.press((500, 40), (400, 16))
    assert drag.active
    assert drag.follow((500 + DRAG_SLOP_PX - 1, 40)) is None
    assert drag.release() is True and not drag.active


def test_a_drag_moves_the_window_with_the_pointer_keeping_the_grab_point():
    drag = Drag()
    drag.press((500, 40), (400, 16))  # grabbed 100 px right of, 24 below its corner
    assert drag.follow((520, 40)) == (420, 16)
    assert drag.follow((2000, 600)) == (1900, 576)  # onto another monitor
    assert drag.follow((501, 41)) == (401, 17)  # once moving, every pixel counts
    assert drag.release() is False  # a drag, not a click


def test_no_press_no_drag():
    drag = Drag()
    assert drag.follow((10, 10)) is None
    assert drag.release() is False
