"""The faults the simulator plays on purpose, per endpoint: one catalogue for tests, QA and
the control page.

A switch is set per endpoint (``status``, ``report``, ``offline``, ``service``,
``background``, ``video``) to one fault or to a cycle of them; each answer of that
endpoint plays the next step. ``refuse`` is not per endpoint: the whole server stops
listening and listens again on the same port later (the backend down and back).
Standard library only, like the rest of the simulator.
"""

from __future__ import annotations

import json
import threading
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

ENDPOINTS = {
    "status": "/rest/status_client",
    "report": "/rest/clientStatus",
    "offline": "/rest/offline",
    "service": "/rest/serviceNum",
    "background": "/files/background.png",
    "video": "/files/video.mp4",
}
ENDPOINT_OF_PATH = {path: name for name, path in ENDPOINTS.items()}
REST = frozenset({"status", "report", "offline", "service"})
EVERY = frozenset(ENDPOINTS)
MB = 1024 * 1024
WRONG_TYPE_VARIANTS = ("nulls", "strings", "booleans", "objects", "array")
MAX_SECONDS = 3600.0


@dataclass(frozen=True)
class Kind:
    """One fault of the catalogue: what it does, where it applies, its parameters."""

    what: str
    endpoints: frozenset[str] = EVERY
    params: Mapping[str, Any] = field(default_factory=dict)  # name → default
    without_backend: bool = True  # answered before the venue sees the request


CATALOGUE: dict[str, Kind] = {
    "none": Kind("answer normally (a step of a cycle)", without_backend=False),
    "http": Kind("an HTTP error status with a plain-text body", params={"code": 500}),
    "html": Kind("an HTML error page, as a proxy or captive portal sends", params={"code": 200}),
    "drop": Kind("close the connection without answering"),
    "reset": Kind("reset the connection (TCP RST) without answering"),
    "stall": Kind("answer normally after a long wait", params={"seconds": 15.0},
                  without_backend=False),
    "trickle": Kind("answer normally, one byte at a time spread over the time",
                    params={"seconds": 15.0}, without_backend=False),
    "truncated": Kind("announce a longer body than is sent, then close",
                      without_backend=False),
    "huge": Kind("an answer of many bytes (10 MB), JSON-looking at its start",
                 params={"bytes": 10 * MB}),
    "garbage": Kind("a 200 answer that is not JSON (or not a picture or video)"),
    "bad_utf8": Kind("the normal answer with invalid UTF-8 bytes in it", REST,
                     without_backend=False),
    "wrong_types": Kind("the normal answer with values of the wrong JSON type "
                        "(nulls, strings such as \"onlineStatus\":\"2\", booleans, objects, "
                        "or the object inside an array)", REST, {"variant": "nulls"},
                        without_backend=False),
    "foreign": Kind("the normal answer about another clientId, with the status that would "
                    "act on this PC (3 in a session, 2 otherwise)", frozenset({"status"}),
                    without_backend=False),
    "data0": Kind("a lone {“data”:0}, curly quotes as in the specification",
                  frozenset({"status", "offline", "service"})),
}
SERVER_FAULTS = {"refuse": "stop listening, then listen again on the same port after "
                           "'seconds' (the backend down and back)"}


class FaultError(ValueError):
    """A fault request the catalogue does not allow (answered with 400)."""


@dataclass(frozen=True)
class Fault:
    """One step of a switch: a catalogue name and its parameters."""

    name: str
    params: Mapping[str, Any] = field(default_factory=dict)

    def __getitem__(self, key: str) -> Any:
        return self.params.get(key, CATALOGUE[self.name].params.get(key))

    def view(self) -> dict[str, Any]:
        return {"fault": self.name, **self.params}


def parse_fault(spec: Mapping[str, Any], endpoint: str) -> Fault:
    """A ``{"fault": name, param: value}`` request, checked against the catalogue."""
    name = spec.get("fault")
    if name not in CATALOGUE:
        raise FaultError(f"unknown fault {name!r}; known: {', '.join(CATALOGUE)}")
    kind = CATALOGUE[name]
    if endpoint not in kind.endpoints:
        raise FaultError(f"fault {name} does not apply to {endpoint}")
    params = {}
    for key, default in kind.params.items():
        if key in spec and spec[key] not in (None, ""):
            params[key] = _param(name, key, spec[key], default)
    return Fault(name, params)


def _param(name: str, key: str, value: Any, default: Any) -> Any:
    if key == "variant":
        if value not in WRONG_TYPE_VARIANTS:
            raise FaultError(f"variant must be one of {', '.join(WRONG_TYPE_VARIANTS)}")
        return value
    try:
        number = type(default)(value)
    except (TypeError, ValueError):
        raise FaultError(f"{name}: {key} must be a number, not {value!r}") from None
    low, high = {"seconds": (0, MAX_SECONDS), "bytes": (1, 100 * MB),
                 "code": (200 if name == "html" else 400, 599)}[key]
    if not low <= number <= high:
        raise FaultError(f"{name}: {key} must be between {low} and {high}")
    return number


def seconds(spec: Mapping[str, Any]) -> float | None:
    """The ``seconds`` of a ``refuse`` request (None: until told to listen again)."""
    value = spec.get("seconds")
    if value in (None, ""):
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise FaultError(f"refuse: seconds must be a number, not {value!r}") from None
    if not 0 < number <= MAX_SECONDS:
        raise FaultError(f"refuse: seconds must be between 0 and {MAX_SECONDS:g}")
    return number


@dataclass
class _Switch:
    steps: list[Fault]
    left: int | None  # answers still to play; None: until cleared
    at: int = 0


class Switchboard:
    """The faults set per endpoint, and which were played (the tests and the page read it)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._switches: dict[str, _Switch] = {}
        self.played: Counter[tuple[str, str]] = Counter()
        self._wake = threading.Event()

    def set(self, endpoint: str, faults: list[Fault], count: int | None = None) -> None:
        """Play ``faults`` in turn on ``endpoint``, ``count`` answers long (None: until cleared)."""
        if endpoint not in ENDPOINTS:
            raise FaultError(f"unknown endpoint {endpoint!r}; known: {', '.join(ENDPOINTS)}")
        if not faults:
            raise FaultError("no fault given")
        if count is not None and count < 1:
            raise FaultError("count must be at least 1")
        with self._lock:
            self._switches[endpoint] = _Switch(list(faults), count)

    def configure(self, request: Mapping[str, Any]) -> None:
        """Apply a control request: ``{"endpoint", "fault" | "cycle", params, "count"}``;
        ``{"fault": "clear"}`` clears one endpoint, or all without an endpoint."""
        endpoint = request.get("endpoint") or None
        if request.get("fault") == "clear":
            self.clear(endpoint)
            return
        if endpoint is None:
            raise FaultError("endpoint missing")
        if endpoint not in ENDPOINTS:
            raise FaultError(f"unknown endpoint {endpoint!r}; known: {', '.join(ENDPOINTS)}")
        cycle = request.get("cycle")
        if cycle is None:
            specs = [request]
        elif isinstance(cycle, list) and all(isinstance(step, Mapping) for step in cycle):
            specs = cycle
        else:
            raise FaultError("cycle must be a list of {\"fault\": ...} objects")
        count = request.get("count")
        try:
            count = None if count in (None, "") else int(count)
        except (TypeError, ValueError):
            raise FaultError(f"count must be a whole number, not {count!r}") from None
        self.set(endpoint, [parse_fault(spec, endpoint) for spec in specs], count)

    def clear(self, endpoint: str | None = None) -> None:
        """Answer normally again (one endpoint, or all); stalled answers are let go at once."""
        with self._lock:
            if endpoint is None:
                self._switches.clear()
            else:
                self._switches.pop(endpoint, None)
            wake, self._wake = self._wake, threading.Event()
        wake.set()

    def next(self, endpoint: str) -> tuple[Fault | None, threading.Event]:
        """The step this answer plays (None: normal), and the event that cuts a stall short."""
        with self._lock:
            switch = self._switches.get(endpoint)
            if switch is None:
                return None, self._wake
            fault = switch.steps[switch.at % len(switch.steps)]
            switch.at += 1
            if switch.left is not None:
                switch.left -= 1
                if switch.left <= 0:
                    del self._switches[endpoint]
            self.played[(endpoint, fault.name)] += 1
            return fault, self._wake

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            return {
                "active": {endpoint: {"cycle": [step.view() for step in s.steps], "left": s.left}
                           for endpoint, s in self._switches.items()},
                "played": {f"{endpoint}:{name}": n for (endpoint, name), n in self.played.items()},
            }


def catalogue() -> dict[str, Any]:
    """The catalogue as the control page and ``GET /control/faults`` show it."""
    return {
        "endpoints": ENDPOINTS,
        "faults": {name: {"what": kind.what, "endpoints": sorted(kind.endpoints),
                          "params": dict(kind.params)} for name, kind in CATALOGUE.items()},
        "server_faults": SERVER_FAULTS,
        "wrong_type_variants": list(WRONG_TYPE_VARIANTS),
    }


# --- bodies -----------------------------------------------------------------------

FOREIGN_CLIENT = "999999"


def wrong_types(body: bytes, variant: str) -> bytes:
    """The JSON answer with every value turned into the wrong type."""
    answer = json.loads(body)
    if variant == "array":
        return json.dumps([answer]).encode()

    def turn(value: Any) -> Any:
        if variant == "nulls":
            return None
        if variant == "strings":
            return str(value) if isinstance(value, int | float) else value
        if variant == "booleans":
            return bool(value) if isinstance(value, int | float) else value
        return {"value": value}

    return json.dumps({key: turn(value) for key, value in answer.items()}).encode()


def foreign(body: bytes, client_id: str | None) -> bytes:
    """The status answer as if about another PC, with the status that would act on this one."""
    answer = json.loads(body)
    answer["clientId"] = FOREIGN_CLIENT if client_id != FOREIGN_CLIENT else "999998"
    answer["data"] = 1
    answer["onlineStatus"] = 3 if answer.get("onlineStatus") == 2 else 2
    return json.dumps(answer).encode()


def bad_utf8(body: bytes) -> bytes:
    """Invalid UTF-8 inside an otherwise normal JSON object."""
    return body.rstrip()[:-1] + b',"note":"\xc3\x28\xff\xfe"}'


def garbage(endpoint: str) -> bytes:
    if endpoint in REST:
        return b'{"data":1,"onlineStatus":'
    return b"this is not a picture nor a video\n" * 64


HTML_PAGE = (b"<html><head><title>502 Bad Gateway</title></head><body>"
             b"<center><h1>502 Bad Gateway</h1></center><hr><center>nginx</center>"
             b"</body></html>")
HUGE_START = b'{"data":1,"onlineStatus":2,"pad":"'
DATA0 = "{“data”:0}".encode()
