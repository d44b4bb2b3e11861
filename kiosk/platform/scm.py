"""Answering Windows' Service Control Manager: ``main.py watchdog --service``.

A program the SCM starts must connect to it within 30 s (``StartServiceCtrlDispatcherW``)
or the SCM ends it (error 1053); the dispatcher then runs our ServiceMain on a thread of
its own, which registers a control handler (``RegisterServiceCtrlHandlerExW``), reports
RUNNING and runs the watchdog until a stop or shutdown control, reporting STOPPED at the
end. Python's ctypes callbacks run on the SCM's threads like on any other. Only what the
watchdog needs: stop and shutdown are accepted (the service's DACL decides who may send
them, kiosk/platform/service.py), nothing else.
"""

from __future__ import annotations

import ctypes
import logging
from collections.abc import Callable
from ctypes import wintypes
from typing import Any

from kiosk.platform.service import SERVICE

log = logging.getLogger(__name__)

SERVICE_WIN32_OWN_PROCESS = 0x10
STOPPED, START_PENDING, STOP_PENDING, RUNNING = 1, 2, 3, 4
ACCEPT_STOP, ACCEPT_SHUTDOWN = 0x1, 0x4
CONTROL_STOP, CONTROL_INTERROGATE, CONTROL_SHUTDOWN = 1, 4, 5
NO_ERROR = 0
ERROR_CALL_NOT_IMPLEMENTED = 120
ERROR_SERVICE_SPECIFIC_ERROR = 1066
ERROR_FAILED_SERVICE_CONTROLLER_CONNECT = 1063  # not started by the SCM
PENDING_WAIT_MS = 5000


class SERVICE_STATUS(ctypes.Structure):  # noqa: N801 (the Win32 name)
    _fields_ = [(name, wintypes.DWORD) for name in (
        "dwServiceType", "dwCurrentState", "dwControlsAccepted", "dwWin32ExitCode",
        "dwServiceSpecificExitCode", "dwCheckPoint", "dwWaitHint")]


FUNCTYPE = getattr(ctypes, "WINFUNCTYPE", ctypes.CFUNCTYPE)  # stdcall; Linux imports it too
SERVICE_MAIN = FUNCTYPE(None, wintypes.DWORD, ctypes.POINTER(wintypes.LPWSTR))
HANDLER_EX = FUNCTYPE(wintypes.DWORD, wintypes.DWORD, wintypes.DWORD,
                                ctypes.c_void_p, ctypes.c_void_p)


class SERVICE_TABLE_ENTRYW(ctypes.Structure):  # noqa: N801
    _fields_ = [("lpServiceName", wintypes.LPWSTR), ("lpServiceProc", SERVICE_MAIN)]


def status_fields(state: int, checkpoint: int, exit_code: int = 0) -> tuple[int, ...]:
    """SERVICE_STATUS for ``state``: stop and shutdown accepted only while running, a
    checkpoint and wait hint while pending, a service-specific code for a failed exit
    (so the SCM's restart-on-failure applies; ``sc failureflag 1``)."""
    accepted = ACCEPT_STOP | ACCEPT_SHUTDOWN if state == RUNNING else 0
    pending = state in (START_PENDING, STOP_PENDING)
    win32_code = ERROR_SERVICE_SPECIFIC_ERROR if exit_code else NO_ERROR
    return (SERVICE_WIN32_OWN_PROCESS, state, accepted, win32_code, exit_code,
            checkpoint if pending else 0, PENDING_WAIT_MS if pending else 0)


def _advapi32() -> Any:
    advapi32 = ctypes.WinDLL("advapi32", use_last_error=True)
    advapi32.StartServiceCtrlDispatcherW.restype = wintypes.BOOL
    advapi32.StartServiceCtrlDispatcherW.argtypes = (ctypes.POINTER(SERVICE_TABLE_ENTRYW),)
    advapi32.RegisterServiceCtrlHandlerExW.restype = wintypes.HANDLE
    advapi32.RegisterServiceCtrlHandlerExW.argtypes = (wintypes.LPCWSTR, HANDLER_EX,
                                                       ctypes.c_void_p)
    advapi32.SetServiceStatus.restype = wintypes.BOOL
    advapi32.SetServiceStatus.argtypes = (wintypes.HANDLE, ctypes.POINTER(SERVICE_STATUS))
    return advapi32


def run_as_service(run: Callable[[], int], stop: Callable[[], None], name: str = SERVICE,
                   advapi32: Any = None) -> int:
    """Run ``run`` as the service ``name`` until it returns; ``stop`` on a stop control."""
    api = advapi32 or _advapi32()
    state = {"handle": None, "checkpoint": 0, "code": 0}

    def report(current: int, exit_code: int = 0) -> None:
        if state["handle"] is None:
            return
        state["checkpoint"] += 1
        status = SERVICE_STATUS(*status_fields(current, state["checkpoint"], exit_code))
        if not api.SetServiceStatus(state["handle"], ctypes.byref(status)):
            log.error("SetServiceStatus(%d) failed: %s", current, ctypes.get_last_error())

    def handler(control: int, event_type: int, data: int, context: int) -> int:
        if control in (CONTROL_STOP, CONTROL_SHUTDOWN):
            log.info("watchdog service: %s control", "stop" if control == CONTROL_STOP
                     else "shutdown")
            report(STOP_PENDING)
            stop()
            return NO_ERROR
        return NO_ERROR if control == CONTROL_INTERROGATE else ERROR_CALL_NOT_IMPLEMENTED

    handler_ex = HANDLER_EX(handler)  # kept alive for the service's life

    def service_main(argc: int, argv: Any) -> None:
        state["handle"] = api.RegisterServiceCtrlHandlerExW(name, handler_ex, None)
        if not state["handle"]:
            log.error("RegisterServiceCtrlHandlerExW failed: %s", ctypes.get_last_error())
            return
        report(START_PENDING)
        report(RUNNING)
        code = 1
        try:
            code = run()
        finally:
            state["code"] = code
            report(STOPPED, code)

    main = SERVICE_MAIN(service_main)
    table = (SERVICE_TABLE_ENTRYW * 2)(SERVICE_TABLE_ENTRYW(name, main),
                                       SERVICE_TABLE_ENTRYW(None, SERVICE_MAIN()))
    if not api.StartServiceCtrlDispatcherW(table):
        error = ctypes.get_last_error()
        if error == ERROR_FAILED_SERVICE_CONTROLLER_CONNECT:
            log.error("watchdog --service is for the service manager; run 'watchdog' "
                      "without --service in the foreground")
        else:
            log.error("StartServiceCtrlDispatcherW failed: %d", error)
        return 1
    return int(state["code"])
