"""State of the simulated venue backend: clients, sessions and billing.

No I/O: the HTTP layer and its ticker call in, and time comes from an injected
``clock`` so tests can move it. Calls come from many server threads at once, so
every public method runs under one lock, and each first ends the sessions whose
client stopped reporting (the timeout is checked lazily, not only by the ticker).
"""

from __future__ import annotations

import math
import threading
import time
from collections import Counter, deque
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

WAITING, IN_SESSION, UNPAID = 1, 2, 3
STATUS_NAMES = {WAITING: "waiting", IN_SESSION: "in session", UNPAID: "ended unpaid"}
_REPORT_ANSWERS = {WAITING: 0, IN_SESSION: 1, UNPAID: 2}


ARRIVALS_KEPT = 100_000  # newest request arrival times kept for the ledger (bounded memory)


class VenueError(Exception):
    """A phone action the client's state does not allow (answered with 409)."""


@dataclass
class Session:
    """One session in the ledger: how it began and ended, as load and loss checks read it."""

    start: float
    end: float | None = None
    ended_by: str | None = None  # "phone", "offline" or "report_timeout"
    paid: bool = False
    reports: int = 0  # clientStatus reports received while it ran


@dataclass
class Client:
    """One PC as the backend sees it; times are epoch seconds."""

    client_id: str
    union_id: str
    status: int = WAITING
    start: float | None = None
    end: float | None = None
    last_report: float | None = None
    reports: int = 0
    offline_calls: int = 0
    offline_refused: int = 0  # offline calls while not in session
    requests: int = 0
    sessions: list[Session] = field(default_factory=list)


class Venue:
    """Sessions billed per started minute, like the real backend."""

    def __init__(
        self,
        *,
        rate_per_min: float = 1.32,
        report_timeout_s: float = 60,
        service_num: str = "13738196887",
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.rate_per_min = rate_per_min
        self.report_timeout_s = report_timeout_s
        self.service_num = service_num
        self.clock = clock
        self.clients: dict[str, Client] = {}
        self.requests_by_path: Counter[str] = Counter()
        self.arrivals: deque[tuple[float, str]] = deque(maxlen=ARRIVALS_KEPT)
        self._lock = threading.RLock()

    def record_request(self, path: str, client_id: str | None) -> None:
        """Count a request; any clientId makes the client known to the control page."""
        with self._lock:
            self.requests_by_path[path] += 1
            self.arrivals.append((self.clock(), path))
            if client_id:
                self._client(client_id).requests += 1

    def expire(self) -> None:
        """End the sessions whose client stopped reporting (the ticker calls this)."""
        with self._lock:
            self._expire(self.clock())

    def service_number(self) -> dict[str, Any]:
        """The ``/rest/serviceNum`` answer; an empty number means "not found"."""
        with self._lock:
            if not self.service_num:
                return {"data": 0}
            return {"data": 1, "serviceNum": self.service_num}

    def set_service_num(self, num: str) -> None:
        with self._lock:
            self.service_num = num.strip()

    def report(self, client_id: str) -> int:
        """A ``clientStatus`` report: 1 running, 0 ended and paid (or none), 2 unpaid."""
        with self._lock:
            now = self._now()
            client = self._client(client_id)
            client.reports += 1
            client.last_report = now
            if client.status == IN_SESSION:
                client.sessions[-1].reports += 1
            return _REPORT_ANSWERS[client.status]

    def status(self, client_id: str) -> dict[str, Any]:
        """The ``/rest/status_client`` answer, endTime being "now" while in session."""
        with self._lock:
            now = self._now()
            client = self._client(client_id)
            answer: dict[str, Any] = {
                "data": 1,
                "duration": 0,
                "unionId": client.union_id,
                "clientId": client.client_id,
                "cost": 0,
                "onlineStatus": client.status,
                "charging": 0,
                "startTime": "",
                "endTime": "",
            }
            if client.status != WAITING:
                minutes = self._minutes(client, now)
                answer.update(
                    duration=minutes,
                    cost=self._cost(minutes),
                    charging=self.rate_per_min,
                    startTime=format_time(client.start),
                    endTime=format_time(self._until(client, now)),
                )
            return answer

    def offline(self, client_id: str) -> bool:
        """The PC ends its session: it stays to be paid. False when not in session."""
        with self._lock:
            now = self._now()
            client = self._client(client_id)
            client.offline_calls += 1
            if client.status != IN_SESSION:
                client.offline_refused += 1
                return False
            self._end(client, now, "offline")
            return True

    def start(self, client_id: str) -> None:
        """The customer scanned and started a session."""
        with self._lock:
            now = self._now()
            client = self._client(client_id)
            if client.status == UNPAID:
                raise VenueError(f"客户端 {client_id} 有未支付的订单，请先支付")
            if client.status == IN_SESSION:
                raise VenueError(f"客户端 {client_id} 已在上机中")
            client.status = IN_SESSION
            client.start = math.floor(now)
            client.end = None
            client.sessions.append(Session(start=now))

    def end(self, client_id: str) -> None:
        """The customer ended the session on the phone: it stays to be paid."""
        with self._lock:
            now = self._now()
            client = self._client(client_id)
            if client.status != IN_SESSION:
                raise VenueError(f"客户端 {client_id} 未在上机中")
            self._end(client, now, "phone")

    def pay(self, client_id: str) -> None:
        """The customer paid: the client is free for the next session."""
        with self._lock:
            self._expire(self.clock())
            client = self._client(client_id)
            if client.status != UNPAID:
                raise VenueError(f"客户端 {client_id} 没有待支付的订单")
            client.status = WAITING
            client.start = client.end = None
            if client.sessions:
                client.sessions[-1].paid = True

    def client_view(self, client_id: str) -> dict[str, Any]:
        """One client as the control pages show it."""
        with self._lock:
            now = self._now()
            return self._view(self._client(client_id), now)

    def snapshot(self) -> dict[str, Any]:
        """Everything the control page shows, as the ``/control/state`` answer."""
        with self._lock:
            now = self._now()
            return {
                "now": format_time(now),
                "service_num": self.service_num,
                "rate_per_min": self.rate_per_min,
                "report_timeout_s": self.report_timeout_s,
                "clients": {cid: self._view(c, now) for cid, c in self.clients.items()},
                "requests_by_path": dict(self.requests_by_path),
            }

    def ledger(self) -> dict[str, Any]:
        """Every session each client had and when each request arrived (``/control/ledger``):
        what load and soak runs check for lost or doubled sessions and lock-step polling."""
        with self._lock:
            now = self._now()
            return {
                "now": now,
                "clients": {
                    cid: {
                        "sessions": [asdict(session) for session in c.sessions],
                        "offline_calls": c.offline_calls,
                        "offline_refused": c.offline_refused,
                        "requests": c.requests,
                    }
                    for cid, c in self.clients.items()
                },
                "requests_by_path": dict(self.requests_by_path),
                "arrivals": [[round(t, 4), path] for t, path in self.arrivals],
            }

    def _now(self) -> float:
        now = self.clock()
        self._expire(now)
        return now

    def _expire(self, now: float) -> None:
        for client in self.clients.values():
            if client.status != IN_SESSION:
                continue
            last_sign = max(client.start, client.last_report or client.start)
            if now - last_sign > self.report_timeout_s:
                self._end(client, last_sign + self.report_timeout_s, "report_timeout")

    def _client(self, client_id: str) -> Client:
        client = self.clients.get(client_id)
        if client is None:
            client = Client(client_id, union_id=str(775233 + len(self.clients)))
            self.clients[client_id] = client
        return client

    @staticmethod
    def _end(client: Client, at: float, by: str) -> None:
        client.status = UNPAID
        client.end = math.floor(at)
        client.sessions[-1].end = at
        client.sessions[-1].ended_by = by

    @staticmethod
    def _until(client: Client, now: float) -> float:
        return now if client.status == IN_SESSION else client.end

    def _elapsed(self, client: Client, now: float) -> float:
        if client.status == WAITING:
            return 0.0
        return max(0.0, self._until(client, now) - client.start)

    def _minutes(self, client: Client, now: float) -> int:
        return max(1, math.ceil(self._elapsed(client, now) / 60))

    def _cost(self, minutes: int) -> float:
        return round(minutes * self.rate_per_min, 2)

    def _view(self, client: Client, now: float) -> dict[str, Any]:
        running = client.status != WAITING
        minutes = self._minutes(client, now) if running else 0
        return {
            "status": client.status,
            "status_name": STATUS_NAMES[client.status],
            "startTime": format_time(client.start) if running else "",
            "endTime": format_time(self._until(client, now)) if running else "",
            "elapsed_s": round(self._elapsed(client, now), 1),
            "duration": minutes,
            "cost": self._cost(minutes),
            "reports": client.reports,
            "last_report_age_s": (
                None if client.last_report is None else round(now - client.last_report, 1)
            ),
            "offline_calls": client.offline_calls,
            "requests": client.requests,
        }


def format_time(epoch_s: float) -> str:
    """Local time with whole seconds, as the backend's datetime columns."""
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(math.floor(epoch_s)))
