"""Touch edge swipes: the page and every cover carry DisableTouchWhenFullscreen while locked,
and the page (the widget in C) no longer does. A fake property store on Linux; the real
shell32 calls under the Windows CPython."""

from __future__ import annotations

import ctypes

import pytest

from kiosk.platform import touch
from kiosk.platform.touch import (
    PKEY_EDGEGESTURE_DISABLETOUCHWHENFULLSCREEN as EDGE,
)
from kiosk.platform.touch import (
    PROPVARIANT,
    EdgeSwipes,
    WindowProperties,
    guid,
    to_set,
)
from tests.real_display import real_video  # noqa: F401 - the fixture

PAGE, COVER = 0x20_0001, 0x20_0002


class FakeProperties:
    def __init__(self, refuse: frozenset[int] = frozenset()) -> None:
        self.values: dict[int, bool] = {}
        self.refuse = refuse
        self.calls = 0
        self.closed = False

    def set_bool(self, hwnd: int, key: touch.PROPERTYKEY, value: bool) -> None:
        assert key is EDGE
        self.calls += 1
        if hwnd in self.refuse:
            raise OSError("SHGetPropertyStoreForWindow failed (HRESULT 0x80070578)")
        self.values[hwnd] = value

    def close(self) -> None:
        self.closed = True


def test_only_windows_without_the_property_are_set_again():
    assert to_set([PAGE, COVER], set()) == [PAGE, COVER]
    assert to_set([PAGE, COVER], {PAGE}) == [COVER]
    assert to_set([PAGE], {PAGE, COVER}) == []


def test_a_locked_page_turns_edge_swipes_off_on_the_page_and_every_cover():
    windows = [PAGE, COVER]
    properties = FakeProperties()
    swipes = EdgeSwipes(lambda: windows, properties)
    swipes.engage()
    assert properties.values == {PAGE: True, COVER: True}
    swipes.engage()  # the next guard period: the store is not opened again
    assert properties.calls == 2
    windows.append(0x20_0003)  # a new monitor's cover
    swipes.engage()
    assert properties.values[0x20_0003] is True
    assert swipes.status() == "edge swipes off" and swipes.problem() is None


def test_c_turns_them_back_on_for_the_widget():
    windows = [PAGE, COVER]
    properties = FakeProperties()
    swipes = EdgeSwipes(lambda: windows, properties)
    swipes.engage()
    windows.remove(COVER)
    swipes.release()
    assert properties.values == {PAGE: False, COVER: True}  # the cover is gone with C
    assert swipes.status() == "edge swipes as Windows has them"
    swipes.close()
    assert properties.closed


def test_a_window_whose_store_fails_is_reported_once_and_tried_again(caplog):
    properties = FakeProperties(refuse=frozenset({COVER}))
    swipes = EdgeSwipes(lambda: [PAGE, COVER], properties)
    swipes.engage()
    swipes.engage()
    assert "0x80070578" in (swipes.problem() or "")
    assert caplog.text.count("EDGE SWIPES NOT OFF") == 1
    assert properties.calls == 3  # the page once, the cover on each period


def test_the_property_key_and_variant_have_the_windows_layout():
    assert bytes(guid("{32CE38B2-2C9A-41B1-9BC5-B3784394AA44}")) == bytes.fromhex(
        "b238ce32" "9a2c" "b141" "9bc5b3784394aa44")  # little-endian Data1..3, then bytes
    assert EDGE.pid == 2 and ctypes.sizeof(touch.PROPERTYKEY) == 20
    assert ctypes.sizeof(PROPVARIANT) == (24 if ctypes.sizeof(ctypes.c_void_p) == 8 else 16)
    assert PROPVARIANT.boolVal.offset == 8


@pytest.mark.win32
@pytest.mark.usefixtures("real_video")
def test_under_wine_the_real_property_store_takes_the_value():
    """Real shell32: SHGetPropertyStoreForWindow, SetValue and Commit succeed on an SDL
    window (vtable calls, PROPVARIANT and PROPERTYKEY layouts). Wine 8's store keeps
    nothing (GetValue answers E_NOTIMPL), so reading it back is checked only where the
    store implements it, as Windows does (Microsoft's property page: VARIANT_TRUE set,
    default VARIANT_FALSE)."""
    import pygame

    page = pygame.Window("page", (320, 200))
    pygame.event.pump()
    properties = WindowProperties()
    try:
        swipes = EdgeSwipes(lambda: [page.handle], properties)
        swipes.engage()
        assert swipes.problem() is None and swipes.done == {page.handle}
        try:
            assert properties.get_bool(page.handle, EDGE) is True
        except OSError as exc:
            assert f"{touch.E_NOTIMPL:#x}" in str(exc)  # Wine: the store keeps nothing
        swipes.release()
        assert swipes.problem() is None
    finally:
        properties.close()
        page.destroy()
