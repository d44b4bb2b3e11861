"""Touch edge swipes off on locked pages: no Task View, Action Center or Widgets by swiping.

On a touch screen (VR stores use them) a swipe in from an edge opens Task View, the Action
Center (and from it Settings) or Widgets over any window. Windows 8 and later let a window
turn these off while it is full screen and active: the window property
``System.EdgeGesture.DisableTouchWhenFullscreen`` (PKEY_EdgeGesture_DisableTouchWhenFullscreen,
{32CE38B2-2C9A-41B1-9BC5-B3784394AA44} 2) set to VT_BOOL VARIANT_TRUE (Microsoft's page of
that property; its sample sets it through SHGetPropertyStoreForWindow and
IPropertyStore::SetValue). It is set on the page and on every cover, since a cover may be
the active window when the customer touches another monitor, and cleared again in C. The
venue's policy ("Allow edge swipe" off) closes the swipes for good (README).

Wine 8's SHGetPropertyStoreForWindow hands out a store whose SetValue and Commit answer
S_OK and whose GetValue answers E_NOTIMPL: nothing is kept.
"""

from __future__ import annotations

import ctypes
import logging
from collections.abc import Callable, Sequence
from typing import Any

from kiosk.platform.keyboard import _Reporter

log = logging.getLogger(__name__)

VT_BOOL = 11
VARIANT_TRUE = -1
VARIANT_FALSE = 0
COINIT_APARTMENTTHREADED = 0x2
RPC_E_CHANGED_MODE = 0x80010106  # COM is on for this thread already, in the other model
E_NOTIMPL = 0x80004001


class GUID(ctypes.Structure):
    _fields_ = [("Data1", ctypes.c_uint32), ("Data2", ctypes.c_uint16),
                ("Data3", ctypes.c_uint16), ("Data4", ctypes.c_ubyte * 8)]


def guid(text: str) -> GUID:
    """A GUID from its registry form, ``{xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx}``."""
    parts = text.strip("{}").split("-")
    tail = bytes.fromhex(parts[3] + parts[4])
    return GUID(int(parts[0], 16), int(parts[1], 16), int(parts[2], 16),
                (ctypes.c_ubyte * 8)(*tail))


class PROPERTYKEY(ctypes.Structure):
    _fields_ = [("fmtid", GUID), ("pid", ctypes.c_uint32)]


class PROPVARIANT(ctypes.Structure):
    """The VT_BOOL case of PROPVARIANT: vt, three reserved words, then the value; padded to
    the real size (16 bytes on 32-bit Windows, 24 on 64-bit: its largest member is a
    pointer and a ULONG)."""

    _fields_ = [("vt", ctypes.c_ushort), ("wReserved1", ctypes.c_ushort),
                ("wReserved2", ctypes.c_ushort), ("wReserved3", ctypes.c_ushort),
                ("boolVal", ctypes.c_short),
                ("_rest", ctypes.c_ubyte * (2 * ctypes.sizeof(ctypes.c_void_p) - 2))]


IID_IPROPERTYSTORE = guid("{886D8EEB-8CF2-4446-8D02-CDBA1DBDCF99}")
PKEY_EDGEGESTURE_DISABLETOUCHWHENFULLSCREEN = PROPERTYKEY(
    guid("{32CE38B2-2C9A-41B1-9BC5-B3784394AA44}"), 2)

HRESULT = ctypes.c_long
_FUNCTYPE = getattr(ctypes, "WINFUNCTYPE", ctypes.CFUNCTYPE)
# IPropertyStore's vtable: IUnknown's three, then GetCount, GetAt, GetValue, SetValue, Commit.
_RELEASE = (2, _FUNCTYPE(ctypes.c_ulong, ctypes.c_void_p))
_GETVALUE = (5, _FUNCTYPE(HRESULT, ctypes.c_void_p, ctypes.POINTER(PROPERTYKEY),
                          ctypes.POINTER(PROPVARIANT)))
_SETVALUE = (6, _FUNCTYPE(HRESULT, ctypes.c_void_p, ctypes.POINTER(PROPERTYKEY),
                          ctypes.POINTER(PROPVARIANT)))
_COMMIT = (7, _FUNCTYPE(HRESULT, ctypes.c_void_p))


def _method(obj: ctypes.c_void_p, slot: tuple[int, Any]) -> Any:
    index, prototype = slot
    vtable = ctypes.cast(obj, ctypes.POINTER(ctypes.POINTER(ctypes.c_void_p)))[0]
    return prototype(vtable[index])


def _failed(hr: int) -> bool:
    return hr < 0


class WindowProperties:
    """A window's shell property store (shell32 and ole32, Windows only)."""

    def __init__(self, shell32: Any = None, ole32: Any = None) -> None:
        if shell32 is None or ole32 is None:
            windll = ctypes.WinDLL  # type: ignore[attr-defined]
            shell32, ole32 = windll("shell32"), windll("ole32")
        shell32.SHGetPropertyStoreForWindow.argtypes = [
            ctypes.c_void_p, ctypes.POINTER(GUID), ctypes.POINTER(ctypes.c_void_p)]
        shell32.SHGetPropertyStoreForWindow.restype = HRESULT
        ole32.CoInitializeEx.argtypes = [ctypes.c_void_p, ctypes.c_uint32]
        ole32.CoInitializeEx.restype = HRESULT
        self.shell32, self.ole32 = shell32, ole32
        # The UI thread's COM (SDL's IME starts it too, apartment-threaded): S_OK or S_FALSE
        # are balanced in close(); the other model already on is as good.
        hr = ole32.CoInitializeEx(None, COINIT_APARTMENTTHREADED)
        self.com = not _failed(hr)

    def _store(self, hwnd: int) -> ctypes.c_void_p:
        store = ctypes.c_void_p()
        hr = self.shell32.SHGetPropertyStoreForWindow(hwnd, ctypes.byref(IID_IPROPERTYSTORE),
                                                      ctypes.byref(store))
        if _failed(hr) or not store:
            raise OSError(f"SHGetPropertyStoreForWindow failed (HRESULT {hr & 0xFFFFFFFF:#x})")
        return store

    def set_bool(self, hwnd: int, key: PROPERTYKEY, value: bool) -> None:
        store = self._store(hwnd)
        try:
            var = PROPVARIANT(vt=VT_BOOL, boolVal=VARIANT_TRUE if value else VARIANT_FALSE)
            hr = _method(store, _SETVALUE)(store, ctypes.byref(key), ctypes.byref(var))
            if _failed(hr):
                raise OSError(f"IPropertyStore::SetValue failed (HRESULT {hr & 0xFFFFFFFF:#x})")
            hr = _method(store, _COMMIT)(store)
            if _failed(hr):
                raise OSError(f"IPropertyStore::Commit failed (HRESULT {hr & 0xFFFFFFFF:#x})")
        finally:
            _method(store, _RELEASE)(store)

    def get_bool(self, hwnd: int, key: PROPERTYKEY) -> bool | None:
        """The property as the window has it; None when unset (VT_EMPTY)."""
        store = self._store(hwnd)
        try:
            var = PROPVARIANT()
            hr = _method(store, _GETVALUE)(store, ctypes.byref(key), ctypes.byref(var))
            if _failed(hr):
                raise OSError(f"IPropertyStore::GetValue failed (HRESULT {hr & 0xFFFFFFFF:#x})")
            return None if var.vt != VT_BOOL else var.boolVal != VARIANT_FALSE
        finally:
            _method(store, _RELEASE)(store)

    def close(self) -> None:
        if self.com:
            self.com = False
            self.ole32.CoUninitialize()


def to_set(handles: Sequence[int], done: set[int]) -> list[int]:
    """The windows still without the property: new covers, or a page whose setting failed."""
    return [handle for handle in handles if handle not in done]


class EdgeSwipes:
    """Edge gestures off for the page and every cover while engaged, back on in C."""

    def __init__(self, handles: Callable[[], Sequence[int]], properties: Any = None) -> None:
        self.handles = handles
        self.properties = properties if properties is not None else WindowProperties()
        self.engaged = False
        self.done: set[int] = set()
        self._report = _Reporter("EDGE SWIPES NOT OFF: %s", log)

    def engage(self) -> None:
        self.engaged = True
        handles = list(self.handles())
        self.done &= set(handles)  # a cover that went is forgotten
        problems = []
        for handle in to_set(handles, self.done):
            try:
                self.properties.set_bool(handle, PKEY_EDGEGESTURE_DISABLETOUCHWHENFULLSCREEN,
                                         True)
                self.done.add(handle)
            except OSError as exc:
                problems.append(str(exc))
        self._report.settle(problems)

    def release(self) -> None:
        if not self.engaged:
            return
        self.engaged = False
        alive = set(self.handles())
        for handle in self.done & alive:
            try:
                self.properties.set_bool(handle, PKEY_EDGEGESTURE_DISABLETOUCHWHENFULLSCREEN,
                                         False)
            except OSError as exc:  # the widget is no full-screen window: no harm left
                log.warning("edge swipes: could not clear the property on the widget: %s", exc)
        self.done = set()

    def close(self) -> None:
        self.release()
        self.properties.close()

    def problem(self) -> str | None:
        return self._report.problem

    def status(self) -> str:
        return "edge swipes off" if self.engaged else "edge swipes as Windows has them"
