"""The venue backend's answers, read leniently, in one place (DESIGN.md §3).

Every answer shape the specification shows is listed in ``ANSWER_SHAPES`` and
turned into a small typed value here; anything else is a ``NetworkFault``, which
the flow core treats as "nothing happened". Parsing is pure: bytes in, value out.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from datetime import datetime

ANSWER_SHAPES = {
    "serviceNum": ['{"data":1,"serviceNum":"13738196887"}', "{“data”:0}"],
    "clientStatus": ['{"data":1}', "{“data”:0}", "{“data”:2}"],
    "status_client": [
        '{"data":1,"onlineStatus":1,"clientId":"370011","startTime":"",...}',
        '{"data":1,"onlineStatus":2,"duration":2457,"cost":3243.24,"charging":1.32,'
        '"startTime":"2017-08-07 16:32:20","endTime":"2017-08-09 09:30:05",...}',
        '{"data":1,"onlineStatus":3,...}',
        '{"data":2,...} (no onlineStatus: data is the status)',
        "{“data”:0} (no user found)",
    ],
    "offline": ['{"data":1}', '{"data":0}'],
}

WAITING, IN_SESSION, ENDED_UNPAID = 1, 2, 3
# The specification names each call's inputs but not the method: GET puts them in the
# query, POST form-encoded in the body (config server.method).
METHODS = ("GET", "POST")
TIME_FORMATS = ("%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M:%S", "%Y/%m/%d %H:%M:%S")
CURLY_QUOTES = str.maketrans({"“": '"', "”": '"', "„": '"', "‟": '"'})


@dataclass(frozen=True)
class NetworkFault:
    """No usable answer: timeout, refused, a refused certificate, HTTP error, HTML, broken
    JSON, wrong types."""

    kind: str
    detail: str = ""
    cause: str = ""  # a kind with several causes (TLS): each is logged on its own


@dataclass(frozen=True)
class ForeignAnswer:
    """An answer about another clientId: ignored by the flow, logged."""

    client_id: str


@dataclass(frozen=True)
class NotFound:
    """``status_client`` answered ``{"data":0}``: no user found for this client."""


@dataclass(frozen=True)
class Status:
    """A ``status_client`` answer for this client."""

    online_status: int
    duration_min: float = 0.0
    cost: float = 0.0
    charging: float = 0.0
    elapsed_s: float | None = None
    session: str = ""  # unionId and startTime as sent: what names this session (may be "")


@dataclass(frozen=True)
class Report:
    """A ``clientStatus`` answer: 1 running, 0 ended and paid, 2 ended unpaid."""

    code: int

    @property
    def session_over(self) -> bool:
        return self.code in (0, 2)


@dataclass(frozen=True)
class Offline:
    """An ``offline`` answer: whether the backend ended the session."""

    done: bool


@dataclass(frozen=True)
class ServiceNumber:
    """A ``serviceNum`` answer; ``number`` is None when the backend has none."""

    number: str | None


StatusAnswer = Status | NotFound | ForeignAnswer | NetworkFault
ReportAnswer = Report | NetworkFault
OfflineAnswer = Offline | NetworkFault
ServiceAnswer = ServiceNumber | NetworkFault


class _Malformed(Exception):
    pass


def _object(body: bytes) -> dict:
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise _Malformed("not UTF-8") from exc
    try:
        value = json.loads(text)
    except ValueError:
        try:  # the specification's own examples use curly quotes: {“data”:0}
            value = json.loads(text.translate(CURLY_QUOTES))
        except ValueError as exc:
            raise _Malformed(f"not JSON: {text[:60]!r}") from exc
    if not isinstance(value, dict):
        raise _Malformed(f"not an object: {type(value).__name__}")
    return value


def _code(value: object, name: str) -> int:
    """An integer code; numeric strings such as "2" are accepted, booleans and 2.5 are not."""
    if isinstance(value, bool):
        raise _Malformed(f"{name} is a boolean")
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        return int(value.strip())
    if isinstance(value, float) and value.is_integer():
        return int(value)
    raise _Malformed(f"{name} is {value!r}")


def _number(value: object) -> float:
    """A display number (cost, rate, minutes); unreadable values show as 0 rather than fail."""
    if isinstance(value, bool):
        return 0.0
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return 0.0
    return number if math.isfinite(number) and number >= 0 else 0.0


def _time(value: object) -> datetime | None:
    if not isinstance(value, str):
        return None
    for fmt in TIME_FORMATS:
        try:
            return datetime.strptime(value.strip(), fmt)
        except ValueError:
            continue
    return None


def _elapsed(answer: dict) -> float | None:
    """Session time on the server's own clock, so the PC's clock does not matter."""
    start, end = _time(answer.get("startTime")), _time(answer.get("endTime"))
    if start is None or end is None or end < start:
        return None
    return (end - start).total_seconds()


def _session(answer: dict) -> str:
    """The customer and start time that name a session, for the widget to know it again."""
    parts = [answer.get(key) for key in ("unionId", "startTime")]
    texts = [str(p).strip()[:64] if isinstance(p, str | int) and not isinstance(p, bool)
             else "" for p in parts]
    return " ".join(texts).strip()


def _guarded(parse):
    def wrapper(body: bytes, *args):
        try:
            return parse(_object(body), *args)
        except _Malformed as exc:
            return NetworkFault("malformed", str(exc))

    wrapper.__doc__ = parse.__doc__
    wrapper.__name__ = parse.__name__
    return wrapper


@_guarded
def parse_status(answer: dict, client_id: str) -> StatusAnswer:
    """Read a ``status_client`` body: ``onlineStatus`` first, ``data`` when it is absent."""
    if "onlineStatus" in answer and answer["onlineStatus"] is not None:
        status = _code(answer["onlineStatus"], "onlineStatus")
    else:
        status = _code(answer.get("data"), "data")
        if status == 0:
            return NotFound()
        if "onlineStatus" in answer:  # null beside data 1: "succeeded", but no status given
            raise _Malformed("onlineStatus is null")
    other = answer.get("clientId")
    if other not in (None, "") and str(other).strip() != client_id:
        return ForeignAnswer(str(other))
    if status not in (WAITING, IN_SESSION, ENDED_UNPAID):
        raise _Malformed(f"onlineStatus is {status}")
    return Status(
        online_status=status,
        duration_min=_number(answer.get("duration")),
        cost=_number(answer.get("cost")),
        charging=_number(answer.get("charging")),
        elapsed_s=_elapsed(answer),
        session=_session(answer),
    )


@_guarded
def parse_report(answer: dict) -> ReportAnswer:
    """Read a ``clientStatus`` body: 1 running, 0 ended and paid, 2 ended unpaid."""
    code = _code(answer.get("data"), "data")
    if code not in (0, 1, 2):
        raise _Malformed(f"data is {code}")
    return Report(code)


@_guarded
def parse_offline(answer: dict) -> OfflineAnswer:
    """Read an ``offline`` body: only ``data`` 1 means the session was ended."""
    return Offline(_code(answer.get("data"), "data") == 1)


@_guarded
def parse_service_number(answer: dict) -> ServiceAnswer:
    """Read a ``serviceNum`` body; a missing or empty number means "none"."""
    if _code(answer.get("data"), "data") != 1:
        return ServiceNumber(None)
    number = answer.get("serviceNum")
    if not isinstance(number, str | int) or isinstance(number, bool) or not str(number).strip():
        return ServiceNumber(None)
    return ServiceNumber(str(number).strip()[:32])
